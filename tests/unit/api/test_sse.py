"""SSE framing."""

from assistant.api.sse import sse, wants_sse


def test_frames() -> None:
    assert sse({"a": "é"}, event="delta") == 'event: delta\ndata: {"a":"é"}\n\n'
    assert sse("line1\nline2") == "data: line1\ndata: line2\n\n"
    assert sse("[DONE]") == "data: [DONE]\n\n"


def test_wants_sse() -> None:
    assert wants_sse("text/event-stream")
    assert wants_sse("application/json, Text/Event-Stream;q=0.9")
    assert not wants_sse("application/json") and not wants_sse(None)
