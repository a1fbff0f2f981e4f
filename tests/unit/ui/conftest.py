"""Chat UI test fixtures: a real catalog (each test on SQLite and on PostgreSQL), the UI runtime
installed, Chainlit kept out of the working directory (it writes ``.chainlit/`` and ``.files/``
where it is first imported)."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("CHAINLIT_APP_ROOT", tempfile.mkdtemp(prefix="sw-chainlit-"))
os.environ.setdefault("CHAINLIT_ENV_FILE", os.path.join(os.environ["CHAINLIT_APP_ROOT"], ".env"))

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from assistant.catalog.interactions import InteractionLog
from assistant.container import Container, build
from assistant.settings import load_settings
from tests.fixtures.postgres import catalog_url, pg_server  # noqa: F401 - fixtures
from ui import identity, runtime


@pytest.fixture
def container(tmp_path: Path, catalog_url: str) -> Iterator[Container]:
    c = build(load_settings(home=tmp_path / "home", catalog={"url": catalog_url}))
    yield c
    c.close()


@pytest.fixture
def rt(container: Container) -> Iterator[runtime.UiRuntime]:
    installed = runtime.install(container, answerer=object(), retriever=object())
    installed.users.create("alice", password="alice-password")
    installed.users.create("bob", password="bob-password")
    yield installed
    runtime.uninstall()


def interaction(container: Container, user: str, n_sources: int = 2) -> int:
    """An answered interaction row for ``user`` citing ``n_sources`` passages."""
    retrieved = [{"n": n, "id": f"p{n}", "doc_id": f"app:f{n}.py", "path": f"f{n}.py", "score": 1.0}
                 for n in range(1, n_sources + 1)]
    citations = [{"n": n, "id": f"p{n}", "citation": f"app@abc:f{n}.py#L1-L3"} for n in range(1, n_sources + 1)]
    iid = InteractionLog(container.catalog).record(user_name=user, channel="ui", question="q?", answer="a [1]",
                                                   retrieved=retrieved, citations=citations)
    assert iid is not None
    return iid


@contextmanager
def as_caller(name: str | None) -> Iterator[None]:
    """Run data layer calls as if ``name`` made the request (what ``CallerMiddleware`` sets)."""
    token = identity._caller.set(name or "")
    try:
        yield
    finally:
        identity._caller.reset(token)


def step(step_id: str, thread_id: str, **kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"id": step_id, "threadId": thread_id, "type": "assistant_message", "name": "Sourcewise",
                         "output": "answer [1]", "createdAt": "2026-01-02T03:04:05.000000Z", "metadata": {}}
    d.update(kw)
    return d
