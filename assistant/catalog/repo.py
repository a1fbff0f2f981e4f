"""Catalog operations used by the pipeline, the CLI and (later) the API.

Every method is one transaction, so a process killed between two calls leaves the
catalog at a state some earlier call committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assistant.catalog.db import Database
from assistant.catalog.redaction_schema import RedactionRow
from assistant.catalog.schema import (
    ChunkRow,
    DocOverrideRow,
    DocumentRow,
    FailureRow,
    FileHistoryRow,
    IndexRunRow,
    PendingWriteRow,
    SourceRow,
    utcnow,
)
from assistant.errors import ConfigError


@dataclass(frozen=True)
class DocState:
    """What the hash gate needs to know about an indexed document."""

    content_hash: str
    meta_hash: str
    chunk_count: int
    model_id: str
    redaction_key: str | None = None  # the rules its text was cleaned with; None: before redaction


@dataclass(frozen=True)
class SourceStatus:
    name: str
    kind: str
    location: str
    ref: str | None
    status: str
    access_groups: list[str]
    documents: int
    chunks: int
    last_version: str | None
    last_indexed_at: datetime | None
    last_error: str | None
    failures: int
    classification: str = "internal"


class Catalog:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- sources ---------------------------------------------------------------
    def add_source(
        self,
        name: str,
        kind: str,
        location: str,
        *,
        ref: str | None = None,
        access_groups: Sequence[str] = (),
        options: dict[str, Any] | None = None,
        classification: str = "internal",
    ) -> SourceRow:
        try:
            with self.db.session() as s:
                row = SourceRow(
                    name=name, kind=kind, location=location, ref=ref,
                    access_groups=list(access_groups), options=options or {},
                    classification=classification,
                )
                s.add(row)
                s.flush()
                return row
        except IntegrityError:
            raise ConfigError(
                f"a source named {name!r} exists; pick another name or `sourcewise source remove {name}`"
            ) from None

    def get_source(self, name: str) -> SourceRow:
        with self.db.session() as s:
            row = s.scalar(select(SourceRow).where(SourceRow.name == name))
        if row is None:
            known = ", ".join(r.name for r in self.list_sources()) or "none yet"
            raise ConfigError(f"no source named {name!r} (sources: {known}); add one with `sourcewise source add`")
        return row

    def list_sources(self) -> list[SourceRow]:
        with self.db.session() as s:
            return list(s.scalars(select(SourceRow).order_by(SourceRow.name)))

    def update_source(self, source_id: int, **fields: Any) -> None:
        with self.db.session() as s:
            row = s.get(SourceRow, source_id)
            if row is None:
                raise ConfigError(f"source id {source_id} vanished")
            for key, value in fields.items():
                setattr(row, key, value)

    def remove_source(self, source_id: int) -> None:
        with self.db.session() as s:
            row = s.get(SourceRow, source_id)
            if row is not None:
                s.delete(row)

    # -- documents -------------------------------------------------------------
    def doc_states(self, source_id: int) -> dict[str, DocState]:
        with self.db.session() as s:
            rows = s.execute(
                select(
                    DocumentRow.doc_id, DocumentRow.content_hash, DocumentRow.meta_hash,
                    DocumentRow.chunk_count, DocumentRow.model_id, DocumentRow.redaction_key,
                ).where(DocumentRow.source_id == source_id)
            )
            return {r[0]: DocState(r[1], r[2], r[3], r[4], r[5]) for r in rows}

    def record_documents(
        self, source_id: int, docs: Iterable[tuple[dict[str, Any], ...]],
        also: Callable[[Session], None] | None = None,
    ) -> None:
        """Replace document rows (and their chunk and redaction rows) and clear their
        pending marks. Each item is ``(fields, chunks)`` or ``(fields, chunks, redactions)``.
        ``also`` writes rows that belong to these documents (symbols, references) in
        the same transaction."""
        with self.db.session() as s:
            if also is not None:
                also(s)
            for fields, chunks, *more in docs:
                doc_id = fields["doc_id"]
                s.execute(delete(DocumentRow).where(DocumentRow.doc_id == doc_id))
                row = DocumentRow(source_id=source_id, indexed_at=utcnow(), **fields)
                row.chunks = [ChunkRow(**c) for c in chunks]
                s.add(row)
                if more and more[0]:
                    s.flush()
                    s.add_all(RedactionRow(document_id=row.id, source_id=source_id, **r) for r in more[0])
                s.execute(delete(PendingWriteRow).where(PendingWriteRow.doc_id == doc_id))

    def update_document_meta(self, doc_id: str, **fields: Any) -> None:
        with self.db.session() as s:
            row = s.scalar(select(DocumentRow).where(DocumentRow.doc_id == doc_id))
            if row is not None:
                for key, value in fields.items():
                    setattr(row, key, value)

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        with self.db.session() as s:
            for start in range(0, len(doc_ids), 500):
                part = list(doc_ids[start : start + 500])
                s.execute(delete(DocumentRow).where(DocumentRow.doc_id.in_(part)))
                s.execute(delete(PendingWriteRow).where(PendingWriteRow.doc_id.in_(part)))

    def document(self, doc_id: str) -> DocumentRow | None:
        with self.db.session() as s:
            return s.scalar(select(DocumentRow).where(DocumentRow.doc_id == doc_id))

    # -- admin and owner decisions that outlive re-indexing ----------------------
    def doc_overrides(self) -> dict[str, tuple[str | None, bool]]:
        """doc_id -> (owner, deprecated) for every document someone decided about."""
        with self.db.session() as s:
            return {r.doc_id: (r.owner, r.deprecated) for r in s.scalars(select(DocOverrideRow))}

    def set_doc_override(self, doc_id: str, actor: str, **fields: Any) -> None:
        """Set ``owner``/``deprecated``/``note`` for a document (kept across re-indexing)."""
        def write(s: Session) -> None:
            row = s.get(DocOverrideRow, doc_id)
            if row is None:
                row = DocOverrideRow(doc_id=doc_id, updated_by=actor)
                s.add(row)
            for key, value in fields.items():
                setattr(row, key, value)
            row.updated_by, row.updated_at = actor, utcnow()
            s.flush()

        self.db.write_retrying(write)  # two owners deciding at once: the later one wins, no error

    def documents(self, source_id: int) -> list[DocumentRow]:
        with self.db.session() as s:
            return list(s.scalars(select(DocumentRow).where(DocumentRow.source_id == source_id)
                                  .order_by(DocumentRow.path)))

    # -- crash safety ----------------------------------------------------------
    def mark_pending(self, source_id: int, doc_ids: Sequence[str]) -> None:
        with self.db.session() as s:
            existing = set(s.scalars(select(PendingWriteRow.doc_id).where(PendingWriteRow.doc_id.in_(list(doc_ids)))))
            s.add_all(PendingWriteRow(doc_id=d, source_id=source_id) for d in doc_ids if d not in existing)

    def pending(self, source_id: int) -> list[str]:
        with self.db.session() as s:
            return list(s.scalars(select(PendingWriteRow.doc_id).where(PendingWriteRow.source_id == source_id)))

    # -- file history ----------------------------------------------------------
    def load_history(self, source_id: int) -> list[FileHistoryRow]:
        with self.db.session() as s:
            return list(s.scalars(select(FileHistoryRow).where(FileHistoryRow.source_id == source_id)))

    def save_history(self, source_id: int, commit: str, rows: Iterable[tuple[str, str, datetime, str | None]]) -> None:
        with self.db.session() as s:
            s.execute(delete(FileHistoryRow).where(FileHistoryRow.source_id == source_id))
            s.add_all(
                FileHistoryRow(source_id=source_id, path=p, commit=c, committed_at=t, author=a)
                for p, c, t, a in rows
            )
            src = s.get(SourceRow, source_id)
            if src is not None:
                src.options = {**(src.options or {}), "history_commit": commit}

    # -- runs ------------------------------------------------------------------
    def start_run(self, source_id: int) -> int:
        with self.db.session() as s:
            run = IndexRunRow(source_id=source_id, status="running")
            s.add(run)
            s.flush()
            return run.id

    def finish_run(self, run_id: int, **fields: Any) -> None:
        with self.db.session() as s:
            run = s.get(IndexRunRow, run_id)
            if run is not None:
                run.finished_at = utcnow()
                for key, value in fields.items():
                    setattr(run, key, value)

    def add_failures(self, run_id: int, source_id: int, failures: Iterable[tuple[str, str, str]]) -> None:
        with self.db.session() as s:
            s.add_all(
                FailureRow(run_id=run_id, source_id=source_id, path=p, reason=r, message=m)
                for p, r, m in failures
            )

    def last_run(self, source_id: int) -> IndexRunRow | None:
        with self.db.session() as s:
            return s.scalar(select(IndexRunRow).where(IndexRunRow.source_id == source_id)
                            .order_by(IndexRunRow.id.desc()).limit(1))

    def failures(self, run_id: int) -> list[FailureRow]:
        with self.db.session() as s:
            return list(s.scalars(select(FailureRow).where(FailureRow.run_id == run_id).order_by(FailureRow.path)))

    # -- status ----------------------------------------------------------------
    def status(self) -> list[SourceStatus]:
        out = []
        with self.db.session() as s:
            for src in s.scalars(select(SourceRow).order_by(SourceRow.name)):
                docs = s.scalar(select(func.count()).select_from(DocumentRow).where(DocumentRow.source_id == src.id))
                chunks = s.scalar(
                    select(func.coalesce(func.sum(DocumentRow.chunk_count), 0)).where(DocumentRow.source_id == src.id)
                )
                last = s.scalar(select(IndexRunRow.id).where(IndexRunRow.source_id == src.id)
                                .order_by(IndexRunRow.id.desc()).limit(1))
                fails = s.scalar(select(func.count()).select_from(FailureRow).where(FailureRow.run_id == last)) if last else 0
                out.append(SourceStatus(
                    src.name, src.kind, src.location, src.ref, src.status, list(src.access_groups or []),
                    int(docs or 0), int(chunks or 0), src.last_version, src.last_indexed_at, src.last_error,
                    int(fails or 0), src.classification,
                ))
        return out
