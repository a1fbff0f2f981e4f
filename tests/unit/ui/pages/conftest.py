"""Fixtures for the owner and admin pages: the real app, a real SQLite catalog, fake indexing.

Identity is the one thing replaced through ``app.dependency_overrides``: a test names
the caller with ``pages.as_user("alice")``. Indexing would load the embedding model, so
the app's indexing worker thread (``indexers.worker``, on the real catalog queue) gets
``FakeReindex`` (which reports progress like the pipeline) and the container gets ``FakeStore``; ``tests/integration/test_pages_reindex.py`` does it for real.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

import ui.pages
from assistant.api.app import create_app
from assistant.catalog.interactions import InteractionLog
from assistant.container import Container
from assistant.settings import load_settings
from ui.pages.deps import LoginRequired, current_account
from assistant.catalog.jobs import JobQueue
from assistant.settings import WorkerSettings
from ui.pages.jobs import start_worker

NOW = datetime.now(UTC)


@dataclass
class FakeReport:
    source: str
    status: str = "ok"
    error: str | None = None
    version: str = "c0ffee" * 6 + "abcd"
    seconds: float = 0.25
    failures: list[Any] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        return {"seen": 3, "new": 1, "changed": 1, "unchanged": 1, "deleted": 0}


@dataclass
class FakeReindex:
    """Stands in for ``indexers.runner.index_source``; ``gate`` holds a run mid-way."""

    status: str = "ok"
    error: str | None = None
    gate: threading.Event | None = None
    started: threading.Event = field(default_factory=threading.Event)
    calls: list[tuple[str, bool]] = field(default_factory=list)

    def __call__(self, container: Container, name: str, *, full: bool = False, progress: Any = None) -> FakeReport:
        self.calls.append((name, full))
        progress.start("scan", 0)
        progress.advance("scan", 3)
        progress.finish("scan")
        progress.start("embed", 4)
        progress.advance("embed", 1)
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(30), "test never released the fake re-index"
        progress.advance("embed", 3)
        progress.finish("embed")
        return FakeReport(name, status=self.status, error=self.error)


@dataclass
class FakeStore:
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def set_doc_payload(self, doc_id: str, payload: dict) -> None:
        self.calls.append(("payload", (doc_id, dict(payload))))

    def set_source_payload(self, source: str, payload: dict) -> None:
        self.calls.append(("source_payload", (source, dict(payload))))

    def delete_source(self, source: str) -> None:
        self.calls.append(("delete_source", source))

    def flush(self) -> None:
        self.calls.append(("flush", None))

    def close(self) -> None:
        pass


@dataclass
class Pages:
    client: TestClient
    container: Container
    reindex: FakeReindex
    store: FakeStore
    jobs: JobQueue
    user: dict[str, str | None]

    def as_user(self, name: str | None) -> None:
        self.user["name"] = name

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, follow_redirects=False, **kw)

    def csrf(self, url: str = "/owners") -> str:
        """The CSRF token from a form on ``url``, as the browser would submit it."""
        page = self.get(url)
        assert page.status_code == 200, page.text
        m = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
        assert m, "no CSRF token on the page"
        return m.group(1)

    def post(self, url: str, data: dict[str, Any] | None = None, *, token: str | None = "auto",
             form_page: str | None = None, **kw: Any) -> Any:
        body = dict(data or {})
        if token == "auto":
            token = self.csrf(form_page or ("/admin" if self.is_admin() else "/owners"))
        if token is not None:
            body["csrf_token"] = token
        return self.client.post(url, data=body, follow_redirects=False, **kw)

    def is_admin(self) -> bool:
        account = self.container.users.get(self.user["name"] or "")
        return bool(account and account.is_admin)

    def wait_jobs(self) -> None:
        for job in self.jobs.list(100):
            assert not self.jobs.wait(job.id, timeout=30).active, f"job {job.id} never finished"

    def flash(self, response: Any) -> str:
        """The message a redirect carries to the next page."""
        assert response.status_code == 303, (response.status_code, response.text)
        page = self.client.get(response.headers["location"])
        m = re.search(r'<div class="flash (?:notice|error)" role="status">(.*?)</div>', page.text, re.DOTALL)
        return m.group(1) if m else ""


@pytest.fixture
def pages(tmp_path: Path) -> Iterator[Pages]:
    # The admin form adds local sources only under allowed roots (tests put repos in srv/).
    container = Container(load_settings(home=tmp_path / "home", indexing={"allowed_roots": [str(tmp_path / "srv")]}))
    store = FakeStore()
    container.__dict__["store"] = store  # cached_property: the fake wins
    users = container.users
    users.create("root", password="correct horse", is_admin=True, display_name="Root Admin")
    users.create("alice", password="alice-password", groups=["payments"], aliases=["@alice", "alice@example.com"])
    users.create("bob", password="bob-password", groups=["web"])
    app = create_app(container)
    app.include_router(ui.pages.router)
    reindex = FakeReindex()
    jobs = container.jobs
    start_worker(app, container, reindex=reindex,
                 settings=WorkerSettings(poll_s=0.02, heartbeat_s=0.1, lease_s=30))
    who: dict[str, str | None] = {"name": None}

    async def test_account(request: Request) -> Any:
        account = container.users.get(who["name"] or "")
        if account is None:
            raise LoginRequired("/login")
        return account

    app.dependency_overrides[current_account] = test_account
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Pages(client, container, reindex, store, jobs, who)
    ui.pages.shutdown(app)
    container.close()


# -- catalog seeding -----------------------------------------------------------------
def add_doc(container: Container, source: str, path: str, *, owner: str | None = None,
            age_days: float = 10, status: str = "active", url: str | None = None, title: str | None = None) -> str:
    """A document row as the pipeline would record it (the source is created if missing)."""
    catalog = container.catalog
    known = {r.name: r for r in catalog.list_sources()}
    row = known.get(source) or catalog.add_source(source, "git", f"/srv/{source}", access_groups=["payments"])
    doc_id = f"{source}:{path}"
    fields = {"doc_id": doc_id, "path": path, "kind": "docs" if path.endswith(".md") else "code",
              "language": None, "title": title, "content_hash": "h" + path, "meta_hash": "m" + path,
              "updated_at": NOW - timedelta(days=age_days), "version": "a" * 40, "author": None, "owner": owner,
              "url": url, "status": status, "chunk_count": 2, "chunk_strategy": "prose", "model_id": "m"}
    catalog.record_documents(row.id, [(fields, [])])
    return doc_id


def add_answer(container: Container, user: str, question: str, answer: str, docs: list[str],
               cited: tuple[int, ...] = (1,)) -> int:
    """An interaction citing ``docs`` (``[n]`` in order)."""
    retrieved = [{"n": n, "id": f"p{n}", "doc_id": d, "path": d.split(":", 1)[1], "score": 0.5 / n}
                 for n, d in enumerate(docs, 1)]
    citations = [{"n": n, "id": f"p{n}", "citation": f"{docs[n - 1].replace(':', '@' + 'a' * 40 + ':', 1)}#L1-L9"}
                 for n in cited]
    ident = InteractionLog(container.db).record(user_name=user, channel="ui", question=question, answer=answer,
                                                retrieved=retrieved, citations=citations, generator="extractive")
    assert ident is not None
    return ident
