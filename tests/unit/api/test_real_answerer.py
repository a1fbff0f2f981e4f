"""The API over the real Answerer (extractive, no model; fake retriever): refusals are 400s
with a recorded interaction, answers are recorded with the channel they came through."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.answer import Answerer
from assistant.api.app import create_app
from assistant.catalog.interactions import InteractionLog
from assistant.catalog.tokens import TokenStore
from assistant.container import build
from assistant.generation.extractive import ExtractiveGenerator
from assistant.settings import load_settings
from tests.unit.api.conftest import FakeRetriever, sse_json


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], InteractionLog]]:
    container = build(load_settings(home=tmp_path / "home"))
    answerer = Answerer(FakeRetriever(), ExtractiveGenerator(), container.catalog, container.settings)
    container.users.create("alice", groups=["payments"])  # a token acts for an existing user
    _, token = TokenStore(container.db).create("t", user="alice", groups=["payments"])
    with TestClient(create_app(container, answerer=answerer, retriever=FakeRetriever()),
                    raise_server_exceptions=False) as client:
        yield client, {"Authorization": f"Bearer {token}"}, InteractionLog(container.db)
    container.close()


@pytest.mark.parametrize("question,fragment", [
    ("", "the question is empty"),
    ("   ", "the question is empty"),
    ("x" * 51_200, "51,200 characters; the limit is 8,000"),
])
@pytest.mark.parametrize("route", ["api", "api-stream", "v1", "v1-stream"])
def test_bad_questions_are_400_and_recorded(setup: tuple, question: str, fragment: str, route: str) -> None:
    client, auth, log = setup
    if route.startswith("api"):
        resp = client.post("/api/ask", json={"question": question, "stream": route.endswith("stream")}, headers=auth)
    else:
        resp = client.post("/v1/chat/completions", headers=auth, json={
            "model": "sourcewise", "stream": route.endswith("stream"),
            "messages": [{"role": "user", "content": question}]})
    assert resp.status_code == 400, resp.text
    err = resp.json()["error"]
    assert fragment in err["message"]
    row = log.get(err["interaction_id"])
    assert row is not None and row.error and "ConfigError" in row.error
    assert row.channel == ("openai" if route.startswith("v1") else "api") and row.user_name == "alice"


def test_answers_are_recorded_per_channel(setup: tuple) -> None:
    client, auth, log = setup
    data = client.post("/api/ask", json={"question": "where do we retry failed payments?"}, headers=auth).json()
    assert data["citations"] and data["citations"][0]["path"] == "payments/retry.py"
    assert log.get(data["interaction_id"]).channel == "api"
    events = sse_json(client.post("/api/ask", json={"question": "how do we retry payments?", "stream": True},
                                  headers=auth).text)
    assert [e for e, _ in events][-2:] == ["answer", "done"]
    answer = events[-2][1]
    assert "".join(d["text"] for e, d in events if e == "delta") == answer["text"]
    done = client.post("/v1/chat/completions", headers=auth, json={
        "model": "sourcewise", "messages": [{"role": "user", "content": "retry policy for payments?"}]}).json()
    assert "Sources:\n[1] app@" in done["choices"][0]["message"]["content"]
    assert log.get(done["sourcewise"]["interaction_id"]).channel == "openai"
