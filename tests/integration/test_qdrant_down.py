"""A Qdrant server that is down at query time: a clear error at every door, the app stays up,
and answers resume when the server is back, without a restart.

There is no Qdrant server binary on PyPI (checked), so what is real and what is not:

- *down* is real: a ``QdrantServerStore`` pointed at a loopback port where nothing listens,
  through ``sourcewise serve`` in a subprocess (``/api/ask``, ``/healthz`` and the chat over
  Chainlit's socket) with the real model and catalog;
- *the client reconnects* is real at the TCP level: after refused calls, something listens
  on that port again and the very next call opens a new connection to it (it speaks no
  HTTP: it only shows that no failure state keeps the client away);
- *answers resume* is tested one level up: the same store object's client is switched from
  the dead URL to qdrant-client's in-process engine holding the indexed repo, and the same
  running app (its retriever, batcher, answerer, health probe) answers again. A real Qdrant
  server restarting is not covered here.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from qdrant_client import QdrantClient

from assistant.api.app import create_app
from assistant.catalog.tokens import TokenStore
from assistant.container import Container, build
from assistant.errors import StoreError
from assistant.models import SparseVector
from assistant.settings import load_settings
from assistant.store.server import QdrantServerStore
from indexers.pipeline import Pipeline
from indexers.sources.factory import make_source
from tests.fixtures.chainlit_socket import ask_over_socket
from tests.fixtures.gitrepo import make_sample_repo
from tests.fixtures.serve_process import free_port, stop_process

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "where do we retry failed payments?"
EMPTY = SparseVector((), ())
PASSWORD = "correct horse battery staple 42"


def _assert_down_message(message: str, url: str) -> None:
    assert f"the Qdrant server at {url} is not answering" in message, message
    assert "answers resume by themselves as soon as it is back" in message, message


class _Listener:
    """A loopback socket on a given port that records what connects to it and answers nothing."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)
        self.sock.settimeout(30)
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._accept_one, daemon=True)
        self.thread.start()

    def _accept_one(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            self.received.append(conn.recv(4096))

    def close(self) -> None:
        self.thread.join(30)
        self.sock.close()


def test_store_down_names_the_url_and_the_client_reconnects_afterwards() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    store = QdrantServerStore("sourcewise-down", url=url, timeout_s=5)
    for call in (lambda: store.query([1.0, 0.0, 0.0, 0.0], EMPTY, None, 5), store.ping, store.count):
        with pytest.raises(StoreError) as err:
            call()
        _assert_down_message(str(err.value), url)
    listener = _Listener(port)  # "the server is back" at the TCP level
    try:
        with pytest.raises(StoreError):  # it speaks no HTTP, so the call still fails, but...
            store.ping()
    finally:
        listener.close()
    assert listener.received and listener.received[0].startswith(b"GET /collections"), listener.received


def test_credentials_in_the_url_never_reach_the_message() -> None:
    port = free_port()
    store = QdrantServerStore("c", url=f"http://admin:s3cret@127.0.0.1:{port}", timeout_s=5)
    with pytest.raises(StoreError) as err:
        store.ping()
    assert "s3cret" not in str(err.value) and "admin" not in str(err.value)
    _assert_down_message(str(err.value), f"http://127.0.0.1:{port}")


# -- the real app, in process: down, then back without a restart --------------------------


class _Uvicorn:
    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def _poll_healthz(base: str, store: str) -> dict[str, str]:
    """Poll until /healthz reports ``store`` (its result is cached for a moment); not a timing."""
    deadline = time.monotonic() + 60
    while True:
        body = httpx.get(base + "/healthz", timeout=20).json()
        if body.get("store") == store or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Container, QdrantClient, str]]:
    """A container on a Qdrant server URL where nothing listens; the repo indexed into an
    in-process engine that the store's client can be switched to ("the server is back")."""
    base = tmp_path_factory.mktemp("qdrant-down")
    repo = make_sample_repo(base / "repo")
    dead_url = f"http://127.0.0.1:{free_port()}"
    settings = load_settings(home=base / "home", store={"backend": "server", "url": dead_url, "timeout_s": 5})
    container = build(settings)
    store = container.store
    assert isinstance(store, QdrantServerStore)
    dead_client = store._client
    engine = QdrantClient(location=":memory:")
    store._client = engine
    row = container.catalog.add_source("app", "git", str(repo.path), access_groups=["payments"])
    report = Pipeline(container.catalog, store, container.embedder, container.sparse).index(
        row, make_source(row, settings, container.catalog))
    assert report.status == "ok", report.error
    store._client = dead_client
    container.users.create("alice", groups=["payments"])
    yield container, engine, dead_url
    container.close()


def test_the_api_answers_503_while_qdrant_is_down_and_answers_again_when_it_is_back(
    indexed: tuple[Container, QdrantClient, str],
) -> None:
    container, engine, dead_url = indexed
    store = container.store
    assert isinstance(store, QdrantServerStore)
    dead_client = store._client
    _, token = TokenStore(container.db).create("resume", user="alice", groups=["payments"])
    auth = {"Authorization": f"Bearer {token}"}
    server = _Uvicorn(create_app(container))
    try:
        down = httpx.post(server.base + "/api/ask", json={"question": QUESTION}, headers=auth, timeout=300)
        assert down.status_code == 503, down.text
        _assert_down_message(down.json()["error"]["message"], dead_url)
        assert down.json()["error"]["type"] == "service_unavailable"
        assert _poll_healthz(server.base, "down") == {"status": "degraded", "store": "down"}
        search = httpx.get(server.base + "/api/search", params={"q": QUESTION}, headers=auth, timeout=60)
        assert search.status_code == 503, search.text

        store._client = engine  # the server is back; the app is not restarted
        assert _poll_healthz(server.base, "up") == {"status": "ok", "store": "up"}
        up = httpx.post(server.base + "/api/ask", json={"question": QUESTION}, headers=auth, timeout=300)
        assert up.status_code == 200, up.text
        assert any(c["path"] == "payments/retry.py" for c in up.json()["citations"]), up.json()

        store._client = dead_client  # and down again: still the clear error, still no restart
        # (another question: the answer cache may serve the one just answered)
        again = httpx.post(server.base + "/api/ask", json={"question": "how does the http client time out?"},
                           headers=auth, timeout=300)
        assert again.status_code == 503
        _assert_down_message(again.json()["error"]["message"], dead_url)
    finally:
        store._client = dead_client
        server.stop()


# -- `sourcewise serve` in a subprocess: the chat, /api/ask and /healthz while it is down ---


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str, str]]:
    home = tmp_path_factory.mktemp("serve-down") / "home"
    dead_url = f"http://127.0.0.1:{free_port()}"
    setup = build(load_settings(home=home))
    try:
        setup.catalog.add_source("payments", "git", "/nowhere", access_groups=["everyone"])
        setup.users.create("alice", password=PASSWORD, groups=["everyone"])
        _, token = TokenStore(setup.db).create("t", user="alice", groups=["everyone"])
    finally:
        setup.close()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCEWISE_", "CHAINLIT_"))}
    env |= {"SOURCEWISE_HOME": str(home), "SOURCEWISE_STORE__BACKEND": "server",
            "SOURCEWISE_STORE__URL": dead_url, "SOURCEWISE_STORE__TIMEOUT_S": "5"}
    log_path = home.parent / "server.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "sourcewise.cli", "serve", "--host", "127.0.0.1",
                                 "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            try:
                if httpx.get(base + "/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        yield base, home, token, dead_url
    finally:
        stop_process(proc)


def test_serve_stays_up_and_says_why_when_qdrant_is_down(served: tuple[str, Path, str, str]) -> None:
    base, _, token, dead_url = served
    assert _poll_healthz(base, "down") == {"status": "degraded", "store": "down"}
    resp = httpx.post(base + "/api/ask", json={"question": QUESTION},
                      headers={"Authorization": f"Bearer {token}"}, timeout=300)
    assert resp.status_code == 503, resp.text
    _assert_down_message(resp.json()["error"]["message"], dead_url)
    assert httpx.get(base + "/healthz", timeout=20).status_code == 200  # the app is still up


def test_the_chat_shows_the_store_error(served: tuple[str, Path, str, str]) -> None:
    base, _, _, dead_url = served
    client = httpx.Client(base_url=base, timeout=20)
    assert client.post("/login", data={"username": "alice", "password": PASSWORD}).status_code == 200
    cookie = client.cookies.get("access_token")
    assert cookie
    texts = _chat(base, cookie, QUESTION)
    assert any("⚠️" in t and f"the Qdrant server at {dead_url} is not answering" in t for t in texts), texts


def _chat(base: str, cookie: str, question: str) -> list[str]:
    """Ask over Chainlit's socket as the browser does; the texts of the messages sent back."""

    def warned(name: str, data: Any) -> bool:
        return name in ("new_message", "update_message") and "⚠️" in ((data or {}).get("output") or "")

    events = ask_over_socket(base, cookie, question, warned, name="alice", timeout_s=300, settle_s=0)
    return [(d or {}).get("output") or "" for k in ("new_message", "update_message") for d in events.get(k, [])]
