"""A real catalog (each test on SQLite and on PostgreSQL) with two users, one answered question
and one indexed document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant.audit import AuditLog
from assistant.catalog.db import Database
from assistant.catalog.interactions import InteractionLog
from assistant.catalog.repo import Catalog
from assistant.feedback import FeedbackService
from assistant.notify import Notifier
from assistant.users import UserStore
from tests.fixtures.postgres import catalog_url, pg_server  # noqa: F401 - fixtures


class RecordingStore:
    """Unit-level stand-in for the vector store: remembers payload writes."""

    def __init__(self) -> None:
        self.payloads: dict[str, dict[str, Any]] = {}
        self.flushes = 0

    def set_doc_payload(self, doc_id: str, payload: dict) -> None:
        self.payloads.setdefault(doc_id, {}).update(payload)

    def flush(self) -> None:
        self.flushes += 1


class World:
    def __init__(self, tmp_path: Path, catalog_url: str | None = None) -> None:
        self.db = Database(catalog_url or f"sqlite:///{tmp_path / 'catalog.db'}")
        self.catalog = Catalog(self.db)
        self.users = UserStore(self.db)
        self.audit = AuditLog(self.db)
        self.posted: list[tuple[str, dict]] = []
        self.notifier = Notifier(self.db, "http://hooks.invalid/x", poster=lambda u, b: self.posted.append((u, b)),
                                 background=False)
        self.feedback = FeedbackService(self.db, self.audit, self.notifier)
        self.store = RecordingStore()
        self.alice = self.users.create("alice", password="alice-password", groups=["eng"])
        self.bob = self.users.create("bob", password="bob-password", aliases=["@bob", "bob@example.com"],
                                     groups=["docs"])
        self.root = self.users.create("root", password="root-password", is_admin=True)
        src = self.catalog.add_source("app", "git", "/tmp/app", access_groups=["docs", "eng"])
        self.catalog.record_documents(src.id, [(self.doc("app:docs/deploy.md", "docs/deploy.md", "@bob"), []),
                                               (self.doc("app:pay.py", "pay.py", "@alice"), [])])
        self.interactions = InteractionLog(self.db)
        self.asked = self.ask("alice", "how do we deploy?", ["app:docs/deploy.md", "app:pay.py"], cited=[1])

    @staticmethod
    def doc(doc_id: str, path: str, owner: str) -> dict[str, Any]:
        from datetime import UTC, datetime

        return {"doc_id": doc_id, "path": path, "kind": "docs", "language": "markdown", "title": path,
                "content_hash": "h", "meta_hash": "m", "updated_at": datetime(2024, 1, 1, tzinfo=UTC),
                "version": "abc123", "author": None, "owner": owner, "url": None, "status": "active",
                "chunk_count": 1, "chunk_strategy": "prose", "model_id": "fake"}

    def ask(self, user: str, question: str, doc_ids: list[str], cited: list[int], channel: str = "ui") -> int:
        retrieved = [{"n": n, "id": f"p{n}", "doc_id": d, "path": d.split(":", 1)[1], "score": 1.0 / n}
                     for n, d in enumerate(doc_ids, 1)]
        citations = [{"n": n, "id": f"p{n}", "citation": f"app@abc123:{doc_ids[n - 1].split(':', 1)[1]}#L3-L9"}
                     for n in cited]
        iid = self.interactions.record(user_name=user, question=question, retrieved=retrieved, channel=channel,
                                       citations=citations, answer=f"answer to {question} [1]")
        assert iid is not None
        return iid


@pytest.fixture
def world(tmp_path: Path, catalog_url: str) -> World:
    w = World(tmp_path, catalog_url)
    yield w
    w.db.close()
