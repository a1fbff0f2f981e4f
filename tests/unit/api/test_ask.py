"""POST /api/ask: the JSON answer, the SSE sequence, and how bad input and failures look."""

from __future__ import annotations

import logging

import pytest

from assistant.errors import ConfigError, StoreError
from assistant.retrieval.query import QueryFilters
from tests.unit.api.conftest import Api, Boom, sse_json

CITATION_KEYS = {"n", "citation", "source", "path", "lines", "start_line", "end_line", "commit", "kind",
                 "url", "updated_at", "age_days", "status", "stale_reason", "symbol", "title", "owner"}


def test_json_answer_shape(api: Api) -> None:
    body = {"question": "  where do we retry failed payments?  ",
            "history": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
            "filters": {"repos": ["app"], "kinds": ["code"]}}
    resp = api.client.post("/api/ask", json=body, headers=api.auth())
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert set(data) >= {"text", "citations", "supported", "stale_warnings", "generator", "model", "timings",
                         "interaction_id", "fallback_reason"}
    assert data["supported"] is True and data["interaction_id"] == 42 and data["generator"] == "extractive"
    assert data["stale_warnings"] == ["docs/deploy.md was last changed 2 years ago"]
    first, second = data["citations"]
    assert set(first) == CITATION_KEYS
    assert first["citation"] == f"app@{'a' * 12}:payments/retry.py#L1-L20"
    assert (first["n"], first["lines"], first["status"]) == (1, "L1-L20", "active")
    assert first["updated_at"].startswith("2024-01-10T10:00:00") and first["age_days"] > 365
    assert second["status"] == "stale" and second["stale_reason"] == "references removed symbol"
    [call] = api.answerer.calls
    assert call["question"] == body["question"]  # checked by the Answerer, which records refusals
    assert call["history"] == body["history"] and call["channel"] == "api" and call["mode"] == "answer"
    assert call["filters"] == QueryFilters(repos=("app",), kinds=("code",))


@pytest.mark.parametrize("how", ["body", "accept"])
def test_sse_sequence(api: Api, how: str) -> None:
    kwargs = {"json": {"question": "retry?", "stream": True}} if how == "body" else {
        "json": {"question": "retry?"}, "headers": {"Accept": "text/event-stream"}}
    headers = {**api.auth(), **kwargs.pop("headers", {})}
    resp = api.client.post("/api/ask", headers=headers, **kwargs)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = sse_json(resp.text)
    assert [e for e, _ in events] == ["delta", "delta", "answer", "done"]
    assert "".join(d["text"] for e, d in events if e == "delta") == "Failed payments are retried [1]."
    answer = events[2][1]
    assert answer["interaction_id"] == 42 and answer["citations"][0]["path"] == "payments/retry.py"
    assert api.answerer.calls[0]["mode"] == "stream" and api.answerer.calls[0]["channel"] == "api"


def test_sse_without_deltas_still_sends_the_text(api: Api) -> None:
    api.answerer.deltas = ()
    events = sse_json(api.client.post("/api/ask", json={"question": "q", "stream": True}, headers=api.auth()).text)
    assert [e for e, _ in events] == ["delta", "answer", "done"]
    assert events[0][1]["text"] == events[1][1]["text"]


@pytest.mark.parametrize("body,status,fragment", [
    ({"question": 123}, 422, "question: Input should be a valid string"),
    ({"question": None}, 422, "question: Input should be a valid string"),
    ({"question": "q", "stream": "yes"}, 422, "stream"),
    ({"question": "q", "filters": {"kinds": "code"}}, 422, "filters.kinds"),
    ({"question": "q", "filters": {"paths": [""]}}, 422, "filters.paths.0"),
    ({"question": "q", "filters": {"repo": ["app"]}}, 422, "filters.repo"),
    ({"question": "q", "history": [{"role": "system", "content": "x"}]}, 422, "history.0.role"),
    ({"question": "q", "history": "hi"}, 422, "history"),
    ({}, 422, "question: Field required"),
])
def test_bad_input(api: Api, body: dict, status: int, fragment: str) -> None:
    resp = api.client.post("/api/ask", json=body, headers=api.auth())
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert fragment in err["message"]
    assert api.answerer.calls == []


def test_validation_errors_do_not_echo_the_input(api: Api) -> None:
    resp = api.client.post("/api/ask", json={"question": ["x" * 5000]}, headers=api.auth())
    assert resp.status_code == 422 and "x" * 100 not in resp.text


def test_malformed_json_is_400(api: Api) -> None:
    resp = api.client.post("/api/ask", content=b'{"question": "q",', headers={
        **api.auth(), "Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == "the request body is not valid JSON"


def test_oversized_body_is_413(api: Api) -> None:
    resp = api.client.post("/api/ask", json={"question": "x" * 1_100_000}, headers=api.auth())
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "request_too_large"


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("exc,status,type_", [
    (ConfigError("unknown repo 'nope'; known: app"), 400, "invalid_request_error"),
    (StoreError("the vector store is unavailable"), 503, "service_unavailable"),
])
def test_sourcewise_errors_keep_their_message(api: Api, stream: bool, exc: Exception, status: int,
                                              type_: str) -> None:
    api.answerer.error = exc
    resp = api.client.post("/api/ask", json={"question": "q", "stream": stream}, headers=api.auth())
    assert resp.status_code == status
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json()["error"] == {"message": str(exc), "type": type_, "param": None, "code": None}


@pytest.mark.parametrize("stream", [False, True])
def test_unexpected_error_is_an_apology_with_interaction_id(api: Api, stream: bool,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    api.answerer.error = Boom("secret internal detail")
    with caplog.at_level(logging.ERROR, logger="sourcewise.api"):
        resp = api.client.post("/api/ask", json={"question": "q", "stream": stream}, headers=api.auth())
    assert resp.status_code == 500
    err = resp.json()["error"]
    assert err["type"] == "server_error" and err["interaction_id"] == 42
    assert err["message"].startswith("Sorry") and "Interaction id: 42" in err["message"]
    assert "secret internal detail" not in resp.text and "Traceback" not in resp.text
    assert any(r.exc_info and "secret internal detail" in str(r.exc_info[1]) for r in caplog.records)


def test_error_in_mid_stream_becomes_an_error_event(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    api.answerer.stream_error = Boom("kaput")
    with caplog.at_level(logging.ERROR, logger="sourcewise.api"):
        resp = api.client.post("/api/ask", json={"question": "q", "stream": True}, headers=api.auth())
    events = sse_json(resp.text)
    assert [e for e, _ in events] == ["delta", "error", "done"]
    assert events[1][1]["status"] == 500 and events[1][1]["interaction_id"] == 42
    assert "kaput" not in resp.text
    assert any(r.exc_info for r in caplog.records)


def test_unknown_route_is_json_404(api: Api) -> None:
    resp = api.client.get("/api/nope", headers=api.auth())
    assert resp.status_code == 404 and resp.json()["error"]["type"] == "not_found_error"
