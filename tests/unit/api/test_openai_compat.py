"""/v1: OpenAI schemas, citations in the text, streaming chunks; checked with the official client too."""

from __future__ import annotations

from dataclasses import replace

import openai
import pytest
from openai import OpenAI

from tests.unit.api.conftest import Api, Boom, sse_json

SOURCES = (f"\n\nSources:\n[1] app@{'a' * 12}:payments/retry.py#L1-L20 (updated 2024-01-10)\n"
           f"[2] app@{'a' * 12}:docs/deploy.md#L5-L9 (updated 2024-01-10, stale)")
MESSAGES = [
    {"role": "system", "content": "You are a pirate."},
    {"role": "user", "content": "what is the payments service?"},
    {"role": "assistant", "content": "It takes payments."},
    {"role": "tool", "content": "ignored", "tool_call_id": "t1"},
    {"role": "user", "content": [{"type": "text", "text": "where do we retry"},
                                 {"type": "image_url", "image_url": {"url": "http://x"}},
                                 {"type": "text", "text": "failed payments?"}]},
]


def chat(api: Api, **body: object) -> object:
    payload = {"model": "sourcewise", "messages": MESSAGES, "temperature": 0.2, "max_tokens": 50, **body}
    return api.client.post("/v1/chat/completions", json=payload, headers=api.auth())


def test_completion_object(api: Api) -> None:
    resp = chat(api)
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert data["object"] == "chat.completion" and data["id"].startswith("chatcmpl-")
    assert data["model"] == "sourcewise" and isinstance(data["created"], int)
    [choice] = data["choices"]
    assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == api.answerer.answer_value.text + SOURCES
    usage = data["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    ext = data["sourcewise"]
    assert ext["interaction_id"] == 42 and ext["citations"][0]["path"] == "payments/retry.py"
    [call] = api.answerer.calls
    assert call["question"] == "where do we retry\nfailed payments?"
    assert call["history"] == [{"role": "user", "content": "what is the payments service?"},
                               {"role": "assistant", "content": "It takes payments."}]
    assert call["channel"] == "openai" and call["filters"] is None


def test_generator_token_counts_are_reported(api: Api) -> None:
    api.answerer.answer_value = replace(api.answerer.answer_value,
                                       tokens={"prompt_tokens": 300, "completion_tokens": 20})
    assert chat(api).json()["usage"] == {"prompt_tokens": 300, "completion_tokens": 20, "total_tokens": 320}


def test_stream_chunks(api: Api) -> None:
    resp = chat(api, stream=True, stream_options={"include_usage": True})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    events = sse_json(resp.text)
    assert events[-1] == (None, "[DONE]")
    chunks = [d for _, d in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"} and len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Failed payments are retried [1]." + SOURCES
    finish = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finish) == 1 and finish[0]["choices"][0]["finish_reason"] == "stop"
    assert finish[0]["sourcewise"]["interaction_id"] == 42
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0


def test_stream_error_is_an_error_line_without_done(api: Api) -> None:
    api.answerer.stream_error = Boom("kaput")
    events = sse_json(chat(api, stream=True).text)
    assert "error" in events[-1][1] and (None, "[DONE]") not in events
    assert events[-1][1]["error"]["interaction_id"] == 42


@pytest.mark.parametrize("messages,fragment", [
    ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "last message must be the user's"),
    ([{"role": "system", "content": "be brief"}], "got role 'system'"),
])
def test_bad_conversations(api: Api, messages: list, fragment: str) -> None:
    resp = chat(api, messages=messages)
    assert resp.status_code == 400 and fragment in resp.json()["error"]["message"]


def test_schema_errors(api: Api) -> None:
    assert chat(api, messages=[]).status_code == 422
    assert chat(api, messages=[{"role": "wizard", "content": "q"}]).status_code == 422
    resp = api.client.post("/v1/chat/completions", json={"messages": MESSAGES}, headers=api.auth())
    assert resp.status_code == 422 and "model: Field required" in resp.json()["error"]["message"]


def test_long_history_is_passed_on_not_refused(api: Api) -> None:
    many = [{"role": r, "content": f"m{i}"} for i in range(120) for r in ("user", "assistant")]
    assert chat(api, messages=many + [{"role": "user", "content": "q"}]).status_code == 200
    history = api.answerer.calls[0]["history"]  # the Answerer keeps the recent turns it wants
    assert len(history) == 240 and history[-1]["content"] == "m119"


def test_models(api: Api) -> None:
    data = api.client.get("/v1/models", headers=api.auth()).json()
    assert data["object"] == "list"
    [model] = data["data"]
    assert model["id"] == "sourcewise" and model["object"] == "model" and model["owned_by"] == "sourcewise"
    assert model["metadata"]["generator"] == "extractive"
    assert api.client.get("/v1/models/sourcewise", headers=api.auth()).json() == model
    resp = api.client.get("/v1/models/gpt-4", headers=api.auth())
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "model_not_found"


def test_official_openai_client(api: Api) -> None:
    client = OpenAI(base_url="http://testserver/v1", api_key=api.alice, http_client=api.client, max_retries=0)
    done = client.chat.completions.create(model="sourcewise", messages=[{"role": "user", "content": "retry?"}])
    assert done.choices[0].message.content.endswith(SOURCES)
    assert done.usage is not None and done.usage.total_tokens > 0
    stream = client.chat.completions.create(model="sourcewise", stream=True,
                                            messages=[{"role": "user", "content": "retry?"}])
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.endswith(SOURCES)
    assert [m.id for m in client.models.list()] == ["sourcewise"]
    bad = OpenAI(base_url="http://testserver/v1", api_key="sw_wrong", http_client=api.client, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    api.answerer.error = Boom("x")
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="sourcewise", messages=[{"role": "user", "content": "q"}])
    api.answerer.error, api.answerer.stream_error = None, Boom("x")
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model="sourcewise", stream=True,
                                            messages=[{"role": "user", "content": "q"}]))
