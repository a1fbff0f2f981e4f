"""Real git repositories with history, the real pipeline (which records symbol tables and
references), catalog and an EdgeStore; a hashing fake embedder stands in for the model
(unit level)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from assistant.audit import AuditLog
from assistant.catalog.db import Database
from assistant.catalog.repo import Catalog
from assistant.embedding.sparse import SparseEncoder
from assistant.findings import FindingsService
from assistant.notify import Notifier
from assistant.settings import Settings, load_settings
from assistant.staleness import Weights
from assistant.store.base import VectorStore
from assistant.store.edge import EdgeStore
from assistant.users import UserStore
from indexers.pipeline import RunReport
from indexers.runner import index_source
from tests.fixtures.gitrepo import GitRepo


class HashEmbedder:
    model_id = "fake-8"
    dim = 8

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        digest = hashlib.sha256(text.encode()).digest()
        return [b / 255 + 0.01 for b in digest[:8]]


class StaleWorld:
    """A data dir with a real catalog and EdgeStore; sources indexed through ``index_source``."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SOURCEWISE_HOME", str(tmp_path / "home"))
        self.tmp = tmp_path
        self.monkeypatch = monkeypatch
        self.posted: list[tuple[str, dict]] = []
        self.configure(review_days_docs=None, review_days_wiki=None)  # age only where a test asks

    def configure(self, **staleness: Any) -> None:
        """Staleness settings for the next runs (on top of the earlier ``configure`` calls)."""
        self._overrides = {**getattr(self, "_overrides", {}), **staleness}
        base = load_settings()
        cfg = base.staleness.model_copy(update=self._overrides)
        self.settings: Settings = base.model_copy(update={"staleness": cfg})
        if getattr(self, "container", None) is not None:
            self.container.settings = self.settings
            return
        db = Database(self.settings.catalog_url)
        self.db = db
        self.catalog = Catalog(db)
        self.store: VectorStore = EdgeStore(self.tmp / "home" / "store")
        self.audit = AuditLog(db)
        self.notifier = Notifier(db, "http://hooks.invalid/x", poster=lambda u, b: self.posted.append((u, b)),
                                 background=False)
        self.container = SimpleNamespace(
            settings=self.settings, db=db, catalog=self.catalog, store=self.store, embedder=HashEmbedder(),
            sparse=SparseEncoder(), index_lock=threading.Lock(), notifier=self.notifier, audit=self.audit)
        self.container.findings = FindingsService(db, self.audit, self.store,
                                                  Weights.from_settings(self.settings.staleness))
        self.users = UserStore(db)

    def add(self, name: str, kind: str, location: Path | str, groups: Sequence[str] = (), **options: Any) -> None:
        opts = {"include": [], "exclude": [], **options}
        self.catalog.add_source(name, kind, str(location), access_groups=list(groups), options=opts)

    def index(self, name: str) -> RunReport:
        """``index_source``: the pipeline (recording symbol tables and references), then detection."""
        report = index_source(self.container, name)
        assert report.status == "ok", report.error
        assert report.staleness_error is None, report.staleness_error
        return report

    @property
    def service(self) -> FindingsService:
        return self.container.findings

    def payload(self, doc_id: str) -> dict[str, Any]:
        from assistant.models import Filter

        hits = self.store.points(Filter({"doc_id": [doc_id]}))
        assert hits, f"no points for {doc_id}"
        return dict(hits[0].payload)

    def findings(self, status: str | None = "open", kind: str | None = None) -> list[Any]:
        from sqlalchemy import select

        from assistant.catalog.staleness_schema import FindingRow

        with self.db.session() as s:
            q = select(FindingRow).order_by(FindingRow.id)
            rows = [f for f in s.scalars(q) if (status is None or f.status == status)
                    and (kind is None or f.kind == kind)]
        return rows

    def close(self) -> None:
        self.store.close()
        self.db.close()


@pytest.fixture
def stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StaleWorld]:
    w = StaleWorld(tmp_path, monkeypatch)
    yield w
    w.close()


BILLING_V1 = '''"""Invoices."""

TAX_RATE = 0.2


def compute_invoice_total(lines: list, currency: str = "EUR", rounding: int = 2) -> float:
    """Sum the invoice lines and add tax."""
    subtotal = sum(line.amount for line in lines)
    total = subtotal * (1 + TAX_RATE)
    return round(total, rounding)


def format_invoice(total: float) -> str:
    return f"{total:.2f}"
'''

BILLING_DOC = '''---
owner: "@billing-team"
---
# Billing

Totals come from `compute_invoice_total(lines)` in `billing/invoice.py`.
Amounts are rounded with `rounding=2` by default, in `currency="EUR"`.

```python
from billing.invoice import format_invoice
print(format_invoice(12.5))
```
'''


def make_billing_repo(path: Path) -> GitRepo:
    """Code and a doc that names it, both committed on 2024-01-10."""
    repo = GitRepo(path)
    repo.write("billing/__init__.py", "")
    repo.write("billing/invoice.py", BILLING_V1)
    repo.write("docs/billing.md", BILLING_DOC)
    repo.write("README.md", "# Shop\n\nSee `docs/billing.md`.\n")
    repo.commit("billing", "2024-01-10T10:00:00+00:00")
    return repo
