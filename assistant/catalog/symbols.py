"""Symbol tables and doc references in the catalog (issue 16).

``assistant`` imports nothing from ``indexers``, so the rows here have their own small
types: the pipeline converts ``indexers.staleness`` ``Definition``/``Reference`` into
``SymbolRecord``/``ReferenceRecord``.

Symbols are content-addressed: one set of rows per (source, path, blob), written once
and kept when the file changes or goes (history queries ask "was ``X`` defined at
commit C?": C's tree gives the (path, blob) pairs, these rows the names). References
belong to a document's current version and are replaced with it; a marker row per doc
(``doc_reference_scans``) says which version was scanned, also when it names nothing.

Every public method is one transaction. The ``write_*`` functions take a session so
the pipeline can write these rows in the same transaction as the documents they
belong to (``Catalog.record_documents(..., also=...)``).

Changes from the first sketch of this interface: ``SymbolRecord.params`` (stored in
``symbols.params``, JSON) carries each parameter's name, default and annotation for
drift checks; ``scanned_docs`` and ``reference_scan`` expose the per-doc scan marker;
``save_references`` takes ``truncated``/``ignored``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from assistant.catalog.db import Database
from assistant.catalog.schema import DocumentRow, SourceRow, utcnow
from assistant.catalog.staleness_schema import (
    DocReferenceRow,
    DocReferenceScanRow,
    SymbolBlobRow,
    SymbolRow,
)

_IN_CHUNK = 400  # bound parameters per IN (...) clause (SQLite's default limit is 999+)
MAX_KEY = 300


@dataclass(frozen=True)
class SymbolRecord:
    """One definition as stored: ``params`` are ``(name, default, annotation)`` triples."""

    name: str
    kind: str
    line: int
    end_line: int
    signature: str | None = None
    value: str | None = None
    params: tuple[tuple[str, str | None, str | None], ...] = ()

    @property
    def key(self) -> str:
        return symbol_key(self.name)


@dataclass(frozen=True)
class ReferenceRecord:
    """One reference as stored (see ``indexers.staleness.references.Reference``)."""

    text: str
    kind: str
    line: int
    context: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReferenceScan:
    """Which version of a doc was scanned, for which code languages, and what the caps
    and markers dropped."""

    blob: str
    count: int
    truncated: bool
    ignored: int
    code_languages: str = ""  # sorted, comma-joined


def languages_key(languages: Iterable[str]) -> str:
    return ",".join(sorted(set(languages)))[:300]


def symbol_key(name: str) -> str:
    """The lookup key of a name: its lowercased last dotted part (``delay`` for
    ``RetryPolicy.delay``); options and keys without dots are their own key."""
    last = name if name.startswith("-") else name.rsplit(".", 1)[-1]
    return last.lower()[:MAX_KEY]


def _params_json(params: Sequence[tuple[str, str | None, str | None]]) -> list[list[str | None]] | None:
    return [list(p) for p in params] or None


def _record(row: SymbolRow) -> SymbolRecord:
    params = tuple((str(p[0]), p[1], p[2]) for p in (row.params or []) if len(p) == 3)
    return SymbolRecord(row.name, row.kind, row.line, row.end_line, row.signature, row.value, params)


def _scan(row: DocReferenceScanRow) -> ReferenceScan:
    return ReferenceScan(row.blob, row.count, row.truncated, row.ignored, row.code_languages or "")


def _chunks(items: Sequence[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield list(items[start : start + _IN_CHUNK])


# -- session-level writers (the pipeline's transaction) ----------------------------------


def write_definitions(
    session: Session, source_id: int,
    items: Iterable[tuple[str, str, str | None, Sequence[SymbolRecord]]],
) -> int:
    """Replace the rows of each (path, blob); returns the number of definitions written.
    Idempotent: writing the same file version twice leaves one copy."""
    written = 0
    for path, blob, language, defs in items:
        session.execute(delete(SymbolRow).where(
            SymbolRow.source_id == source_id, SymbolRow.blob == blob, SymbolRow.path == path))
        session.execute(delete(SymbolBlobRow).where(
            SymbolBlobRow.source_id == source_id, SymbolBlobRow.blob == blob, SymbolBlobRow.path == path))
        session.add(SymbolBlobRow(source_id=source_id, path=path, blob=blob, language=language,
                                  count=len(defs), parsed_at=utcnow()))
        session.add_all(
            SymbolRow(source_id=source_id, path=path, blob=blob, name=d.name, key=d.key, kind=d.kind,
                      line=d.line, end_line=d.end_line, signature=d.signature, value=d.value,
                      params=_params_json(d.params))
            for d in defs
        )
        written += len(defs)
    return written


def write_references(
    session: Session, source_id: int, doc_id: str, blob: str, refs: Sequence[ReferenceRecord],
    *, truncated: bool = False, ignored: int = 0, code_languages: Iterable[str] = (),
) -> None:
    """Replace a doc's references (and its scan marker) with those of version ``blob``."""
    session.execute(delete(DocReferenceRow).where(DocReferenceRow.doc_id == doc_id))
    session.execute(delete(DocReferenceScanRow).where(DocReferenceScanRow.doc_id == doc_id))
    session.add(DocReferenceScanRow(source_id=source_id, doc_id=doc_id, blob=blob, count=len(refs),
                                    truncated=truncated, ignored=ignored,
                                    code_languages=languages_key(code_languages), scanned_at=utcnow()))
    session.add_all(
        DocReferenceRow(source_id=source_id, doc_id=doc_id, blob=blob, text=r.text, kind=r.kind,
                        line=r.line, context=r.context, details=dict(r.details))
        for r in refs
    )


def remove_references(session: Session, doc_ids: Sequence[str]) -> None:
    for part in _chunks(list(doc_ids)):
        session.execute(delete(DocReferenceRow).where(DocReferenceRow.doc_id.in_(part)))
        session.execute(delete(DocReferenceScanRow).where(DocReferenceScanRow.doc_id.in_(part)))


class SymbolCatalog:
    """Reads and writes ``symbol_blobs``, ``symbols``, ``doc_references`` and
    ``doc_reference_scans``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- symbols -----------------------------------------------------------------------
    def parsed_blobs(self, source_id: int) -> set[tuple[str, str]]:
        """(path, blob) pairs whose definitions are stored (also those defining nothing)."""
        with self.db.session() as s:
            rows = s.execute(select(SymbolBlobRow.path, SymbolBlobRow.blob)
                             .where(SymbolBlobRow.source_id == source_id))
            return {(r[0], r[1]) for r in rows}

    def save_definitions(
        self, source_id: int, items: Iterable[tuple[str, str, str | None, Sequence[SymbolRecord]]]
    ) -> None:
        """Store each (path, blob, language, definitions); idempotent."""
        with self.db.session() as s:
            write_definitions(s, source_id, items)

    def definitions(
        self, source_id: int, pairs: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], list[SymbolRecord]]:
        """Definitions of each parsed (path, blob), in line order; pairs never parsed are
        absent (parse them with ``extract_definitions`` and save them), pairs that define
        nothing map to ``[]``."""
        wanted = set(pairs)
        out: dict[tuple[str, str], list[SymbolRecord]] = {}
        blobs = sorted({b for _, b in wanted})
        with self.db.session() as s:
            for part in _chunks(blobs):
                for path, blob in s.execute(select(SymbolBlobRow.path, SymbolBlobRow.blob).where(
                        SymbolBlobRow.source_id == source_id, SymbolBlobRow.blob.in_(part))):
                    if (path, blob) in wanted:
                        out[(path, blob)] = []
                rows = s.scalars(select(SymbolRow).where(
                    SymbolRow.source_id == source_id, SymbolRow.blob.in_(part))
                    .order_by(SymbolRow.line, SymbolRow.id))
                for row in rows:
                    if (row.path, row.blob) in out:
                        out[(row.path, row.blob)].append(_record(row))
        return out

    def find(
        self, source_id: int, key: str, pairs: Iterable[tuple[str, str]] | None = None
    ) -> list[tuple[str, str, SymbolRecord]]:
        """Definitions whose key (lowercased last dotted part) is ``key``'s, as
        (path, blob, record); restricted to ``pairs`` (a commit's tree) when given."""
        wanted = set(pairs) if pairs is not None else None
        with self.db.session() as s:
            rows = s.scalars(select(SymbolRow).where(
                SymbolRow.source_id == source_id, SymbolRow.key == symbol_key(key))
                .order_by(SymbolRow.path, SymbolRow.line, SymbolRow.id))
            return [(r.path, r.blob, _record(r)) for r in rows
                    if wanted is None or (r.path, r.blob) in wanted]

    # -- references --------------------------------------------------------------------
    def save_references(
        self, source_id: int, doc_id: str, blob: str, refs: Sequence[ReferenceRecord],
        *, truncated: bool = False, ignored: int = 0, code_languages: Iterable[str] = (),
    ) -> None:
        """Replace the doc's rows with those of version ``blob``."""
        with self.db.session() as s:
            write_references(s, source_id, doc_id, blob, refs, truncated=truncated, ignored=ignored,
                             code_languages=code_languages)

    def references(
        self, source_id: int, doc_ids: Iterable[str] | None = None
    ) -> dict[str, tuple[str, list[ReferenceRecord]]]:
        """doc_id -> (blob, references in line order) for scanned docs of the source."""
        out: dict[str, tuple[str, list[ReferenceRecord]]] = {}
        with self.db.session() as s:
            scans = select(DocReferenceScanRow.doc_id, DocReferenceScanRow.blob).where(
                DocReferenceScanRow.source_id == source_id)
            refs = select(DocReferenceRow).where(DocReferenceRow.source_id == source_id)
            groups: list[list[str] | None] = [None] if doc_ids is None else list(_chunks(sorted(set(doc_ids))))
            for part in groups:
                q1, q2 = scans, refs
                if part is not None:
                    q1 = q1.where(DocReferenceScanRow.doc_id.in_(part))
                    q2 = q2.where(DocReferenceRow.doc_id.in_(part))
                for doc_id, blob in s.execute(q1):
                    out[doc_id] = (blob, [])
                for row in s.scalars(q2.order_by(DocReferenceRow.line, DocReferenceRow.id)):
                    if row.doc_id in out and out[row.doc_id][0] == row.blob:
                        out[row.doc_id][1].append(ReferenceRecord(
                            row.text, row.kind, row.line, row.context or "", dict(row.details or {})))
        return out

    def scanned_docs(self, source_id: int) -> dict[str, ReferenceScan]:
        """doc_id -> which version's references are stored, and how they were read."""
        with self.db.session() as s:
            rows = s.scalars(select(DocReferenceScanRow).where(DocReferenceScanRow.source_id == source_id))
            return {r.doc_id: _scan(r) for r in rows}

    def reference_scan(self, doc_id: str) -> ReferenceScan | None:
        with self.db.session() as s:
            row = s.get(DocReferenceScanRow, doc_id)
            return None if row is None else _scan(row)

    # -- what the pipeline asks before a run ---------------------------------------------
    def code_documents(self, source_id: int) -> set[str]:
        """doc_ids of the source's documents chunked as code (their parse was trusted):
        the ones a symbol table can be built for."""
        with self.db.session() as s:
            return set(s.scalars(select(DocumentRow.doc_id).where(
                DocumentRow.source_id == source_id, DocumentRow.chunk_strategy == "code")))

    def code_languages(self, source_names: Iterable[str]) -> frozenset[str]:
        """Languages of the code files indexed in the named sources (unknown names are
        skipped): what a docs source's code blocks are checked against."""
        names = sorted(set(source_names))
        if not names:
            return frozenset()
        with self.db.session() as s:
            rows = s.scalars(select(SymbolBlobRow.language).distinct().join(
                SourceRow, SourceRow.id == SymbolBlobRow.source_id).where(SourceRow.name.in_(names)))
            return frozenset(r for r in rows if r)

    def delete_references(self, doc_ids: Sequence[str]) -> None:
        """Forget deleted docs' references (their symbols, if code, stay: keyed by blob)."""
        with self.db.session() as s:
            remove_references(s, doc_ids)


__all__ = [
    "ReferenceRecord", "ReferenceScan", "SymbolCatalog", "SymbolRecord", "languages_key",
    "remove_references", "symbol_key", "write_definitions", "write_references",
]
