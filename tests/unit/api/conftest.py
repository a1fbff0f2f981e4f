"""Fixtures for API unit tests: the real app and SQLite token catalog, fake answerer/retriever."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.catalog.tokens import TokenStore
from assistant.container import Container, build
from assistant.models import Answer, Citation, Passage, User
from assistant.settings import load_settings


def make_passage(path: str = "payments/retry.py", start: int = 1, end: int = 20, **kw: Any) -> Passage:
    fields: dict[str, Any] = {
        "id": f"pt-{path}", "doc_id": f"app:{path}", "source": "app", "path": path, "kind": "code", "start_line": start,
        "end_line": end, "text": "def retry_failed_payment(payment_id):\n    ...", "score": 0.875,
        "updated_at": datetime(2024, 1, 10, 10, 0, tzinfo=UTC), "commit": "a" * 40, "language": "python",
        "symbol": "retry_failed_payment", "url": None, "owner": "@payments-team",
    }
    fields.update(kw)
    return Passage(**fields)


def make_answer(**kw: Any) -> Answer:
    p1 = make_passage()
    p2 = make_passage("docs/deploy.md", 5, 9, kind="docs", status="stale", language=None,
                      stale_reason="references removed symbol", symbol=None, title="Deploying")
    fields: dict[str, Any] = {
        "text": "Failed payments are retried in `retry_failed_payment` [1]. Deploys are described in [2].",
        "citations": (Citation(1, p1), Citation(2, p2)), "passages": (p1, p2), "supported": True,
        "generator": "extractive", "model": None, "stale_warnings": ("docs/deploy.md was last changed 2 years ago",),
        "timings": {"retrieve": 0.01, "generate": 0.002}, "interaction_id": 42,
    }
    fields.update(kw)
    return Answer(**fields)


class Boom(RuntimeError):
    """An unexpected error that knows its interaction (as the Answerer may attach)."""

    interaction_id = 42


@dataclass
class FakeAnswerer:
    """Records calls; ``error`` raises before anything, ``stream_error`` after one delta."""

    answer_value: Answer = field(default_factory=make_answer)
    deltas: Sequence[str] = ("Failed payments ", "are retried [1].")
    error: Exception | None = None
    stream_error: Exception | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, question: str, history: Sequence[dict[str, str]], user: User, *,
               filters: Any = None, channel: str = "cli") -> Answer:
        self.calls.append({"question": question, "history": list(history), "user": user, "filters": filters,
                               "channel": channel, "mode": "answer"})
        if self.error:
            raise self.error
        return self.answer_value

    def stream(self, question: str, history: Sequence[dict[str, str]], user: User, *,
               filters: Any = None, channel: str = "cli") -> Iterator[dict[str, Any]]:
        self.calls.append({"question": question, "history": list(history), "user": user, "filters": filters,
                               "channel": channel, "mode": "stream"})
        if self.error:
            raise self.error
        for i, text in enumerate(self.deltas):
            if i == 1 and self.stream_error:
                raise self.stream_error
            yield {"type": "delta", "text": text}
        yield {"type": "answer", "answer": self.answer_value}


@dataclass(frozen=True)
class FakeRetrieval:
    query: str
    filters: Any
    passages: tuple[Passage, ...]
    timings: dict[str, float]


@dataclass
class FakeRetriever:
    error: Exception | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def retrieve(self, question: str, *, user: User, k: int | None = None, filters: Any = None) -> FakeRetrieval:
        from assistant.retrieval.query import QueryFilters

        self.calls.append({"question": question, "user": user, "k": k, "filters": filters})
        if self.error:
            raise self.error
        passages = (make_passage(), make_passage("web/http_client.js", 1, 11, language="javascript",
                                                 score=0.5, symbol="HttpClient"))
        return FakeRetrieval(question, filters or QueryFilters(), passages[: k or 10], {"total": 0.003})


@dataclass
class Api:
    """Everything a test needs: a client, the fakes, tokens and the token store."""

    client: TestClient
    answerer: FakeAnswerer
    retriever: FakeRetriever
    tokens: TokenStore
    container: Container
    alice: str  # payments group
    admin: str

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.alice}"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    container = build(load_settings(home=tmp_path / "home"))
    container.users.create("alice", groups=["payments"])  # a token acts for an existing user
    container.users.create("root", is_admin=True)
    tokens = TokenStore(container.db)
    _, alice = tokens.create("alice-laptop", user="alice", groups=["payments"])
    _, admin = tokens.create("ops", user="root", is_admin=True)
    answerer, retriever = FakeAnswerer(), FakeRetriever()
    app = create_app(container, answerer=answerer, retriever=retriever)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, answerer, retriever, tokens, container, alice, admin)
    container.close()


def sse_events(body: str) -> list[tuple[str | None, str]]:
    """Parse an SSE body into (event, data) pairs."""
    out = []
    for frame in body.strip().split("\n\n"):
        event, data = None, []
        for line in frame.split("\n"):
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data.append(line.removeprefix("data: "))
        out.append((event, "\n".join(data)))
    return out


def sse_json(body: str) -> list[tuple[str | None, Any]]:
    return [(e, json.loads(d) if d and d != "[DONE]" else d) for e, d in sse_events(body)]
