"""Shared set-up for the identity tests: a real SQLite catalog and the real server app in-process.

Chainlit writes ``.chainlit/`` where it is first imported, so its root is pointed at a
temporary directory before anything imports it (as ``tests/unit/ui/conftest.py`` does).
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("CHAINLIT_APP_ROOT", tempfile.mkdtemp(prefix="sw-chainlit-"))
os.environ.setdefault("CHAINLIT_ENV_FILE", os.path.join(os.environ["CHAINLIT_APP_ROOT"], ".env"))

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from assistant.container import Container
from assistant.settings import load_settings
from ui import runtime

# Sign-in tests hash many passwords; the cost itself is tested with the default in test_identity_login.
FAST_HASH = {"scrypt_n": 2**14}
OUTSIDE = ("192.0.2.10", 50000)  # TEST-NET-1: never a configured proxy here


def make_container(home: Path, *, ui: dict[str, Any] | None = None, auth: dict[str, Any] | None = None,
                   catalog: dict[str, Any] | None = None) -> Container:
    return Container(load_settings(home=home, ui=ui or {}, auth={**FAST_HASH, **(auth or {})},
                                   catalog=catalog or {}))


@contextmanager
def server_app(container: Container, *, chat: bool = True) -> Iterator[Any]:
    """The whole app (API, pages, chat) as ``sourcewise serve`` builds it, with fake answering."""
    from ui.server import create_server_app

    app = create_server_app(container, answerer=object(), retriever=object(), chat=chat)
    try:
        yield app
    finally:
        runtime.uninstall()


def client(app: Any, peer: tuple[str, int] = OUTSIDE) -> TestClient:
    """A client whose requests come from ``peer`` (the immediate peer the server sees)."""
    return TestClient(app, client=peer, raise_server_exceptions=False, follow_redirects=False)


def login(c: TestClient, name: str, password: str) -> str:
    """Sign in through Chainlit's real ``/login``; returns the session JWT."""
    r = c.post("/login", data={"username": name, "password": password})
    assert r.status_code == 200, r.text
    token = c.cookies.get("access_token")
    assert token
    return str(token)
