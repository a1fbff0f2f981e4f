"""Promise 7 at the HTTP doors: size limits apply before any parsing, on every route, and
``/healthz`` stays answerable while every worker thread is busy.

The retriever is a fake that records (or blocks on) each call: what is under test is the
web layer's order of checks and its scheduling, not retrieval.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.catalog.tokens import TokenStore
from assistant.container import Container, build
from assistant.settings import load_settings
from tests.unit.api.conftest import FakeAnswerer, FakeRetriever


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    c = build(load_settings(home=tmp_path / "home", api={"max_body_bytes": 4096}))
    yield c
    c.close()


def _token(container: Container) -> dict[str, str]:
    if container.users.get("alice") is None:  # a token acts for an existing user
        container.users.create("alice", groups=["payments"])
    _, token = TokenStore(container.db).create("t", user="alice", groups=["payments"])
    return {"Authorization": f"Bearer {token}"}


def test_search_refuses_an_oversized_query_before_parsing_it(container: Container) -> None:
    retriever = FakeRetriever()
    auth = _token(container)
    with TestClient(create_app(container, answerer=FakeAnswerer(), retriever=retriever)) as client:
        limit = container.settings.generation.max_question_chars
        resp = client.get("/api/search", params={"q": "_" * (limit + 1)}, headers=auth)
        assert resp.status_code == 400, resp.text[:300]
        assert f"the limit is {limit:,}" in resp.json()["error"]["message"]
        assert retriever.calls == []  # nothing parsed it
        ok = client.get("/api/search", params={"q": "_" * limit}, headers=auth)
        assert ok.status_code == 200 and len(retriever.calls) == 1


@pytest.mark.parametrize("route", ["/api/ask", "/v1/chat/completions"])
def test_oversized_bodies_are_refused_before_they_are_read_as_json(container: Container, route: str) -> None:
    answerer = FakeAnswerer()
    with TestClient(create_app(container, answerer=answerer, retriever=FakeRetriever())) as client:
        body = '{"question": "' + "_" * 5000 + '"}'
        resp = client.post(route, content=body, headers=_token(container) | {"Content-Type": "application/json"})
        assert resp.status_code == 413 and resp.json()["error"]["code"] == "request_too_large"
        assert answerer.calls == []


class _BlockingRetriever(FakeRetriever):
    """Holds every search until released, as a burst of slow searches would."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)

    def retrieve(self, *args: Any, **kw: Any) -> Any:
        self.entered.release()
        self.release.wait(60)
        return super().retrieve(*args, **kw)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_healthz_answers_while_every_worker_thread_is_busy(container: Container) -> None:
    """60 searches hold all 40 of the server's worker threads; /healthz must not queue behind them."""
    retriever = _BlockingRetriever()
    app = create_app(container, answerer=FakeAnswerer(), retriever=retriever)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    auth = _token(container)
    while not server.started:
        time.sleep(0.05)  # waiting for the server to listen, not timing anything
    searches = [threading.Thread(target=lambda: httpx.get(base + "/api/search", params={"q": "retry payments"},
                                                            headers=auth, timeout=90), daemon=True)
                for _ in range(60)]
    try:
        for t in searches:
            t.start()
        for _ in range(40):  # every worker thread is inside a search now
            assert retriever.entered.acquire(timeout=60)
        resp = httpx.get(base + "/healthz", timeout=20)  # a liveness bound, generous; never a measured time
        assert resp.status_code == 200 and resp.json() == {"status": "ok"}
    finally:
        retriever.release.set()
        for t in searches:
            t.join(90)
        server.should_exit = True
        thread.join(30)
