"""Findings' lifecycle: open new ones, keep or reopen the ones that still hold, close
the ones whose cause went away, and never reopen a dismissal.

A finding is identified by its ``fingerprint`` (kind + document + reference + what it
pointed at, not the line), so a line move or a re-index updates the same row, an owner's
dismissal is remembered, and a finding that comes back after being closed reopens with
``reopened += 1`` instead of starting over.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from assistant.catalog.db import Database
from assistant.catalog.schema import utcnow
from assistant.catalog.staleness_schema import FindingRow

KINDS = ("dead", "drift", "age")


@dataclass
class Candidate:
    """A finding as the detector sees it this run."""

    kind: str
    doc_id: str
    path: str
    reference: str | None
    target: str  # what the reference pointed at: "billing.py::compute_invoice_total", a path, "review:<date>"
    line: int | None
    summary: str
    public_summary: str  # the same without anything read from the code (for readers who may not see it)
    evidence: dict[str, Any]
    suggestion: dict[str, Any] | None = None
    code_source: str | None = None

    @property
    def fingerprint(self) -> str:
        key = "\0".join((self.kind, self.doc_id, self.reference or "", self.target))
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class LedgerResult:
    opened: list[int] = field(default_factory=list)  # new and reopened finding ids
    reopened: int = 0
    closed: int = 0
    open: int = 0
    docs: set[str] = field(default_factory=set)  # documents whose findings changed


def apply(db: Database, source_id: int, current_docs: Collection[str], candidates: Iterable[Candidate],
          owners: Mapping[str, str | None], keep_code_sources: Collection[str] = (),
          keep_docs: Collection[str] = ()) -> LedgerResult:
    """Bring a docs source's findings in line with this run's candidates.

    ``current_docs``: every document the source has now (a finding of any other closes:
    its document was deleted). ``keep_code_sources``: code sources that could not be used
    this run (failed, no symbol table); their dead/drift findings are left as they are,
    and so are those of ``keep_docs`` (documents whose references could not be read).
    """
    result = LedgerResult()
    now = utcnow()
    with db.session() as s:
        existing = {f.fingerprint: f for f in s.scalars(select(FindingRow).where(FindingRow.source_id == source_id))}
        seen: set[str] = set()
        fresh: list[FindingRow] = []
        for c in candidates:
            fp = c.fingerprint
            if fp in seen:
                continue
            seen.add(fp)
            evidence = {**c.evidence, "public_summary": c.public_summary, "target": c.target}
            row = existing.get(fp)
            if row is None:
                row = FindingRow(fingerprint=fp, source_id=source_id, doc_id=c.doc_id, path=c.path, kind=c.kind,
                                 reference=c.reference, line=c.line, status="open", summary=c.summary,
                                 evidence=evidence, suggestion=c.suggestion, code_source=c.code_source,
                                 owner=owners.get(c.doc_id), opened_at=now, updated_at=now, reopened=0)
                s.add(row)
                fresh.append(row)
                result.docs.add(c.doc_id)
                continue
            if row.status == "closed":
                row.status, row.closed_at, row.notified_at = "open", None, None
                row.reopened = (row.reopened or 0) + 1
                result.reopened += 1
                fresh.append(row)
                result.docs.add(c.doc_id)
            if (row.line, row.summary, row.evidence, row.suggestion) != (c.line, c.summary, evidence, c.suggestion):
                result.docs.add(c.doc_id)
            row.path, row.line, row.summary, row.evidence = c.path, c.line, c.summary, evidence
            row.suggestion, row.code_source, row.owner = c.suggestion, c.code_source, owners.get(c.doc_id)
            row.updated_at = now
        for fp, row in existing.items():
            if fp in seen or row.status != "open":
                continue
            alive = row.doc_id in current_docs
            if alive and row.kind != "age" and (row.code_source in keep_code_sources or row.doc_id in keep_docs):
                continue
            row.status, row.closed_at, row.updated_at = "closed", now, now
            result.closed += 1
            result.docs.add(row.doc_id)
        s.flush()
        result.opened = [r.id for r in fresh]
        result.open = sum(1 for fp, r in existing.items() if r.status == "open") + sum(
            1 for r in fresh if r.fingerprint not in existing)
    return result
