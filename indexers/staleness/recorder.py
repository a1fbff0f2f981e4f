"""The pipeline's staleness step: symbol tables of code files and references of docs,
from the text and parse the pipeline already has, written in the documents' own
catalog transaction.

Crash safety follows the pipeline's order. Rows for re-embedded documents go in the
``record_documents`` transaction (``writer``), so a document is recorded with its
rows or not at all. Rows for unchanged documents (the one-time backfill of an index
built before symbol tables existed, or docs whose code languages changed) are
idempotent replacements keyed by (path, blob) and doc id, so a run killed midway
converges on the next. Deleted and recovered documents lose their references before
their catalog rows go, so no reference outlives its document.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from assistant.catalog.db import Database
from assistant.catalog.symbols import (
    ReferenceRecord,
    SymbolCatalog,
    SymbolRecord,
    languages_key,
    write_definitions,
    write_references,
)
from assistant.models import Document
from indexers.chunking.languages import has_grammar, is_prose
from indexers.chunking.select import ChunkResult
from indexers.staleness.references import Reference, doc_references
from indexers.staleness.symbols import Definition, definitions_from_tree

if TYPE_CHECKING:
    from indexers.pipeline import RunReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Extracted:
    """What one document contributes: definitions (code) or references (prose)."""

    doc_id: str
    path: str
    blob: str
    language: str | None
    definitions: tuple[SymbolRecord, ...] | None = None
    references: tuple[ReferenceRecord, ...] | None = None
    truncated: bool = False
    ignored: int = 0


def symbol_record(d: Definition) -> SymbolRecord:
    return SymbolRecord(d.name, d.kind, d.line, d.end_line, d.signature, d.value,
                        tuple((p.name, p.default, p.annotation) for p in d.params))


def reference_record(r: Reference) -> ReferenceRecord:
    return ReferenceRecord(r.text, r.kind, r.line, r.context, dict(r.details))


def is_prose_doc(doc: Document) -> bool:
    return doc.kind in ("docs", "wiki") or is_prose(doc.language)


class StalenessRecorder:
    """One per pipeline run: knows what is already extracted and the source's code
    languages, extracts per document, writes rows and counts them in the report."""

    def __init__(self, db: Database, code_sources: Sequence[str] = ()) -> None:
        self.symbols = SymbolCatalog(db)
        self.code_sources = tuple(code_sources)
        self.source_id = 0
        self.code_languages: frozenset[str] = frozenset()
        self.parsed: set[tuple[str, str]] = set()
        self.report: RunReport | None = None

    def start(self, source_id: int, docs: Iterable[Document], report: RunReport,
              full: bool = False) -> None:
        """Before a run's writes: the code languages docs are read for (this source's
        code files, else those of ``code_sources``) and the blobs already parsed
        (``full``: none, so ``index --full`` rebuilds every symbol table it touches)."""
        t0 = time.perf_counter()
        self.source_id, self.report = source_id, report
        languages = {d.language for d in docs if d.kind == "code" and has_grammar(d.language)}
        self.code_languages = frozenset(
            languages or self.symbols.code_languages(self.code_sources))  # type: ignore[arg-type]
        self.parsed = set() if full else self.symbols.parsed_blobs(source_id)
        report.staleness_seconds += time.perf_counter() - t0

    # -- extraction ---------------------------------------------------------------------
    def extract(self, doc: Document, text: str, result: ChunkResult) -> Extracted | None:
        """Definitions from the chunker's parse (no second parse) or the doc's references;
        None for files that have neither, and code files already extracted."""
        t0 = time.perf_counter()
        try:
            return self._extract(doc, text, result)
        except Exception:  # a bug here must never cost the document its index
            log.exception("cannot extract symbols or references from %s", doc.doc_id)
            return None
        finally:
            if self.report is not None:
                self.report.staleness_seconds += time.perf_counter() - t0

    def _extract(self, doc: Document, text: str, result: ChunkResult) -> Extracted | None:
        if result.tree is not None and result.language is not None:
            if (doc.path, doc.content_hash) in self.parsed:
                return None
            defs = definitions_from_tree(result.tree, text, doc.path, result.language)
            return Extracted(doc.doc_id, doc.path, doc.content_hash, result.language,
                             definitions=tuple(symbol_record(d) for d in defs))
        if result.strategy == "code" or not is_prose_doc(doc):
            return None
        found = doc_references(text, doc.path, doc.language, self.code_languages,
                               ignore_all=doc.extra.get("stale_check") is False)
        return Extracted(doc.doc_id, doc.path, doc.content_hash, doc.language,
                         references=tuple(reference_record(r) for r in found.references),
                         truncated=found.truncated, ignored=found.ignored)

    # -- writing ------------------------------------------------------------------------
    def writer(self, items: Sequence[Extracted | None]) -> Callable[[Session], None]:
        """Writes ``items`` into the caller's transaction (``record_documents``)."""
        def write(session: Session) -> None:
            self._write(session, [i for i in items if i is not None])
        return write

    def save(self, items: Sequence[Extracted]) -> None:
        """Writes ``items`` in a transaction of their own (backfill of unchanged docs)."""
        with self.symbols.db.session() as session:
            self._write(session, items)

    def _write(self, session: Session, items: Sequence[Extracted]) -> None:
        t0 = time.perf_counter()
        report = self.report
        code = [i for i in items if i.definitions is not None]
        if code:
            count = write_definitions(session, self.source_id,
                                      ((i.path, i.blob, i.language, i.definitions or ()) for i in code))
            self.parsed.update((i.path, i.blob) for i in code)
            if report is not None:
                report.symbols_files += len(code)
                report.symbols += count
        for item in items:
            if item.references is None:
                continue
            write_references(session, self.source_id, item.doc_id, item.blob, item.references,
                             truncated=item.truncated, ignored=item.ignored,
                             code_languages=self.code_languages)
            if report is not None:
                report.references_docs += 1
                report.references += len(item.references)
                report.references_truncated += int(item.truncated)
        if report is not None:
            report.staleness_seconds += time.perf_counter() - t0

    def delete(self, doc_ids: Sequence[str]) -> None:
        """Deleted or recovered documents lose their references (symbols stay: keyed by
        blob, they serve history queries)."""
        if doc_ids:
            self.symbols.delete_references(doc_ids)

    # -- backfill -----------------------------------------------------------------------
    def backfill_candidates(self, docs: Iterable[Document]) -> list[Document]:
        """Unchanged documents still missing rows: code chunked as code without a symbol
        table for its blob, prose without references for its blob or read for other
        code languages than the source has now."""
        t0 = time.perf_counter()
        code_docs = self.symbols.code_documents(self.source_id)
        scans = self.symbols.scanned_docs(self.source_id)
        wanted = languages_key(self.code_languages)
        out = []
        for doc in docs:
            if doc.doc_id in code_docs:
                if (doc.path, doc.content_hash) not in self.parsed:
                    out.append(doc)
            elif is_prose_doc(doc):
                scan = scans.get(doc.doc_id)
                if scan is None or scan.blob != doc.content_hash or scan.code_languages != wanted:
                    out.append(doc)
        if self.report is not None:
            self.report.staleness_seconds += time.perf_counter() - t0
        return out


__all__ = ["Extracted", "StalenessRecorder", "is_prose_doc", "reference_record", "symbol_record"]
