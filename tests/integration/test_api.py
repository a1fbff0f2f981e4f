"""The HTTP API end to end: a real repo indexed with the real model, `sourcewise serve` in a
subprocess, the official `openai` client and httpx as its clients."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from assistant.catalog.db import Database
from assistant.catalog.interactions import InteractionLog
from assistant.catalog.tokens import TokenStore
from assistant.container import build
from assistant.settings import load_settings
from indexers.pipeline import Pipeline
from indexers.sources.factory import make_source
from tests.fixtures.gitrepo import make_sample_repo
from tests.fixtures.serve_process import start_serve

pytestmark = pytest.mark.slow

QUESTION = "where do we retry failed payments?"
RETRY_SOURCE = re.compile(r"^\[\d+\] app@[0-9a-f]{12}:payments/retry\.py#L\d+-L\d+", re.MULTILINE)
TIMEOUT = httpx.Timeout(300.0)  # the first question loads the model in the server


@dataclass
class Server:
    url: str
    home: Path
    alice: str  # in the group the source is shared with
    bob: str  # in another group: sees nothing
    revoked: str

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.alice}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("api")
    repo = make_sample_repo(base / "repo")
    home = base / "home"
    settings = load_settings(home=home)
    container = build(settings)
    try:
        row = container.catalog.add_source("app", "git", str(repo.path), access_groups=["payments"])
        report = Pipeline(container.catalog, container.store, container.embedder, container.sparse).index(
            row, make_source(row, settings, container.catalog))
        assert report.status == "ok", report.error
        container.users.create("alice", groups=["payments"])  # a token acts for an existing user
        container.users.create("bob", groups=["marketing"])
        tokens = TokenStore(container.db)
        _, alice = tokens.create("alice", user="alice", groups=["payments"])
        _, bob = tokens.create("bob", user="bob", groups=["marketing"])
        _, revoked = tokens.create("old", user="alice", groups=["payments"])
        tokens.revoke("old")
    finally:
        container.close()  # the server process must be the store's only opener

    running = start_serve(base, {**os.environ, "SOURCEWISE_HOME": str(home)})
    try:
        yield Server(running.url, home, alice, bob, revoked)
    finally:
        text = running.stop()
    assert "Traceback" not in text, text


def _client(server: Server, token: str | None = None) -> OpenAI:
    return OpenAI(base_url=f"{server.url}/v1", api_key=token or server.alice, timeout=300, max_retries=0)


def _interaction(server: Server, interaction_id: int) -> Any:
    db = Database(f"sqlite:///{server.home}/catalog.db", run_migrations=False)
    try:
        return InteractionLog(db).get(interaction_id)
    finally:
        db.close()


def test_openai_client_non_streaming(server: Server) -> None:
    done = _client(server).chat.completions.create(
        model="sourcewise", messages=[{"role": "user", "content": QUESTION}])
    assert done.object == "chat.completion" and done.model == "sourcewise"
    content = done.choices[0].message.content or ""
    assert "\n\nSources:\n" in content and RETRY_SOURCE.search(content), content
    assert done.usage is not None and done.usage.total_tokens > 0
    ext = done.model_extra["sourcewise"]
    assert any(c["path"] == "payments/retry.py" for c in ext["citations"])
    row = _interaction(server, ext["interaction_id"])
    assert row.channel == "openai" and row.user_name == "alice" and row.question == QUESTION


def test_openai_client_streaming(server: Server) -> None:
    client = _client(server)
    stream = client.chat.completions.create(
        model="sourcewise", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "what is the payments retry limit?"},
                  {"role": "assistant", "content": "See payments/retry.py."},
                  {"role": "user", "content": QUESTION}])
    chunks = list(stream)
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert RETRY_SOURCE.search(text), text
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert [m.id for m in client.models.list()] == ["sourcewise"]


def test_openai_client_auth_and_bad_input(server: Server) -> None:
    for token in ("sw_not-a-token", server.revoked):
        with pytest.raises(openai.AuthenticationError):
            _client(server, token).chat.completions.create(
                model="sourcewise", messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.BadRequestError, match="the question is empty"):
        _client(server).chat.completions.create(model="sourcewise", messages=[{"role": "user", "content": " "}])


def test_ask_json(server: Server) -> None:
    resp = httpx.post(f"{server.url}/api/ask", json={"question": QUESTION}, headers=server.auth(), timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    data = resp.json()
    paths = [c["path"] for c in data["citations"]]
    assert "payments/retry.py" in paths and data["supported"] is True
    retry = data["citations"][paths.index("payments/retry.py")]
    assert re.fullmatch(r"app@[0-9a-f]{12}:payments/retry\.py#L\d+-L\d+", retry["citation"])
    assert retry["updated_at"].startswith("2024-01-10") and retry["age_days"] > 365
    assert f"[{retry['n']}]" in data["text"]
    assert data["generator"] == "extractive" and isinstance(data["interaction_id"], int)
    assert _interaction(server, data["interaction_id"]).channel == "api"


def test_ask_sse(server: Server) -> None:
    with httpx.stream("POST", f"{server.url}/api/ask", json={"question": QUESTION, "stream": True},
                      headers=server.auth(), timeout=TIMEOUT) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        body = resp.read().decode()
    events = []
    for frame in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    kinds = [e for e, _ in events]
    assert kinds[-2:] == ["answer", "done"] and set(kinds[:-2]) == {"delta"} and len(kinds) > 2
    answer = events[-2][1]
    assert "".join(d["text"] for e, d in events if e == "delta") == answer["text"]
    assert "payments/retry.py" in [c["path"] for c in answer["citations"]]


def test_search(server: Server) -> None:
    resp = httpx.get(f"{server.url}/api/search", params={"q": "RETRY_LIMIT", "k": 3, "repo": "app"},
                     headers=server.auth(), timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert data["filters"]["repos"] == ["app"] and 1 <= len(data["passages"]) <= 3
    top = data["passages"][0]
    assert top["path"] == "payments/retry.py" and top["rank"] == 1 and "RETRY_LIMIT" in top["text"]


def test_groups_limit_what_a_token_sees(server: Server) -> None:
    resp = httpx.get(f"{server.url}/api/search", params={"q": "RETRY_LIMIT"}, headers=server.auth(server.bob),
                     timeout=TIMEOUT)
    assert resp.status_code == 200 and resp.json()["passages"] == []
    data = httpx.post(f"{server.url}/api/ask", json={"question": QUESTION}, headers=server.auth(server.bob),
                      timeout=TIMEOUT).json()
    assert data["citations"] == [] and data["supported"] is False


@pytest.mark.parametrize("method,path,kwargs", [
    ("POST", "/api/ask", {"json": {"question": QUESTION}}),
    ("GET", "/api/search", {"params": {"q": "retry"}}),
    ("GET", "/v1/models", {}),
])
def test_401_without_token(server: Server, method: str, path: str, kwargs: dict[str, Any]) -> None:
    resp = httpx.request(method, f"{server.url}{path}", timeout=TIMEOUT, **kwargs)
    assert resp.status_code == 401 and resp.json()["error"]["type"] == "authentication_error"


@pytest.mark.parametrize("request_kwargs,status,fragment", [
    ({"json": {"question": ""}}, 400, "the question is empty"),
    ({"json": {"question": "x" * 51_200}}, 400, "the limit is"),
    ({"json": {"question": QUESTION, "filters": {"repos": ["nope"]}}}, 400, "nope"),
    ({"json": {"question": f"repo:nope {QUESTION}"}}, 400, "nope"),
    ({"content": b'{"question": ', "headers": {"Content-Type": "application/json"}}, 400, "not valid JSON"),
    ({"json": {"question": 42}}, 422, "question"),
])
def test_bad_input_gets_a_clear_message(server: Server, request_kwargs: dict[str, Any], status: int,
                                        fragment: str) -> None:
    headers = {**server.auth(), **request_kwargs.pop("headers", {})}
    resp = httpx.post(f"{server.url}/api/ask", headers=headers, timeout=TIMEOUT, **request_kwargs)
    assert resp.status_code == status, resp.text
    assert fragment in resp.json()["error"]["message"] and "Traceback" not in resp.text
