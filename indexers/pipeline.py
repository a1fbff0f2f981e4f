"""The one writer: plan (hash gate) -> redact -> chunk -> embed -> store -> catalog -> sweep.

Files that hold credentials are never read (``secret-path``) and every other text is
redacted (``indexers.redaction``) before anything is derived from it.

Crash safety comes from ordering. Before a batch's points go to the store its document
ids are marked pending in the catalog; the store is flushed before the catalog records
the documents (and clears the marks). A run killed anywhere leaves either finished
documents or pending marks, and the next run first deletes the points of pending
documents and forgets them, so they are redone exactly as a clean run would do them.
Deletions go store first, then catalog, which is idempotent.

Symbol tables and doc references (``indexers.staleness``) are written in the same
transaction as the documents they come from; for unchanged documents that lack them
(an index built before they existed) they are idempotent replacements, and a deleted
or recovered document loses its references before its catalog row.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from assistant.catalog.repo import Catalog, DocState
from assistant.catalog.schema import SourceRow
from assistant.embedding.base import Embedder
from assistant.embedding.sparse import SparseEncoder, path_terms, terms
from assistant.errors import ItemError, RunStopped, SourceError
from assistant.models import Chunk, Document, Filter, ItemFailure, Point, point_id
from assistant.retention import purge_documents
from assistant.staleness import doc_staleness
from assistant.store.base import VectorStore
from indexers.chunking.languages import is_prose
from indexers.chunking.select import chunk_text
from indexers.payload import (
    apply_override,
    chunk_payload,
    doc_payload,
    effective_groups,
    embed_text,
    reviewed_at,
)
from indexers.redaction import Redaction, Redactor
from indexers.sources.base import Source
from indexers.sources.frontmatter import front_matter_fields, split_front_matter
from indexers.staleness.recorder import Extracted, StalenessRecorder

log = logging.getLogger(__name__)
OPTIMIZE_AFTER = 500  # points written in a run before segments are rebuilt for speed
CRASH_ENV = "SOURCEWISE_TEST_CRASH_AT"  # fault injection for the kill -9 tests


def crash_point(name: str) -> None:
    """SIGKILL ourselves at a named point when a test asks for it (``name[:nth]``)."""
    want = os.environ.get(CRASH_ENV)
    if not want:
        return
    stage, _, nth = want.partition(":")
    if stage != name:
        return
    _crash_counts[name] += 1
    if _crash_counts[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


_crash_counts: Counter[str] = Counter()
_OWNER_HANDLE = re.compile(r"@[\w./\-]+|[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")


def _secret_path_message(rule: str) -> str:
    return f"{rule} file: never indexed (allow it with SOURCEWISE_SECRETS__ALLOW_PATHS if it holds no secret)"


class ProgressSink(Protocol):
    def start(self, task: str, total: int) -> None: ...
    def advance(self, task: str, amount: int = 1) -> None: ...
    def finish(self, task: str) -> None: ...


class NullProgress:
    def start(self, task: str, total: int) -> None:
        pass

    def advance(self, task: str, amount: int = 1) -> None:
        pass

    def finish(self, task: str) -> None:
        pass


@dataclass
class RunReport:
    source: str
    status: str = "ok"
    version: str | None = None
    seen: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    meta_updated: int = 0
    deleted: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    chunks: int = 0
    fallback: Counter[str] = field(default_factory=Counter)
    embedded: int = 0
    recovered: int = 0
    history_commits: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    # symbol tables and doc references (indexers.staleness): rows written this run
    symbols_files: int = 0
    symbols: int = 0
    references_docs: int = 0
    references: int = 0
    references_truncated: int = 0
    staleness_seconds: float = 0.0
    error: str | None = None
    failures: list[ItemFailure] = field(default_factory=list)
    redactions: dict[str, Counter[str]] = field(default_factory=dict)  # path -> rule -> count
    # staleness findings, filled in after the run by ``indexers.runner``; the detection's
    # time is added to ``staleness_seconds`` too (``detection_seconds`` alone)
    findings_opened: int = 0
    findings_closed: int = 0
    findings_open: int = 0
    detection_seconds: float = 0.0
    staleness_capped: int = 0
    staleness_deferred: int = 0
    staleness_error: str | None = None
    staleness_checked_docs: int = 0  # documents the detection re-checked (all of them when not scoped)
    staleness_scoped: bool = False  # the detection checked only what this run could have changed
    staleness_state: dict[str, Any] = field(default_factory=dict)  # what the next run's detection scopes from
    # documents this run wrote, relabelled, deleted, recovered or backfilled (not in counts)
    touched: set[str] = field(default_factory=set)

    @property
    def embed_share(self) -> float:
        return self.embed_seconds / self.seconds if self.seconds else 0.0

    def counts(self) -> dict[str, Any]:
        return {
            "seen": self.seen, "new": self.new, "changed": self.changed, "unchanged": self.unchanged,
            "meta_updated": self.meta_updated, "deleted": self.deleted, "skipped": dict(self.skipped),
            "chunks": self.chunks, "fallback": dict(self.fallback), "embedded": self.embedded,
            "recovered": self.recovered, "history_commits": self.history_commits,
            "redacted": dict(sum(self.redactions.values(), Counter())),
            "redactions": {path: dict(c) for path, c in sorted(self.redactions.items())},
            "symbols_files": self.symbols_files, "symbols": self.symbols,
            "references_docs": self.references_docs, "references": self.references,
            "references_truncated": self.references_truncated,
            "findings_opened": self.findings_opened, "findings_closed": self.findings_closed,
            "findings_open": self.findings_open, "staleness_seconds": round(self.staleness_seconds, 3),
            "detection_seconds": round(self.detection_seconds, 3), "staleness_capped": self.staleness_capped,
            "staleness_deferred": self.staleness_deferred, "staleness_error": self.staleness_error,
            "staleness_checked_docs": self.staleness_checked_docs, "staleness_scoped": self.staleness_scoped,
            "staleness_state": self.staleness_state,
        }


@dataclass
class _Prepared:
    doc: Document
    payload: dict[str, Any]
    chunks: tuple[Chunk, ...]
    strategy: str
    redaction: Redaction
    staleness: Extracted | None = None


class Pipeline:
    """Indexes sources into one store + catalog. Callers hold the writer lock."""

    def __init__(
        self,
        catalog: Catalog,
        store: VectorStore,
        embedder: Embedder,
        sparse: SparseEncoder,
        *,
        batch_docs: int = 64,
        chunk_max_chars: int = 1500,
        progress: ProgressSink | None = None,
        redactor: Redactor | None = None,
        code_sources: Sequence[str] = (),
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.embedder = embedder
        self.sparse = sparse
        self.batch_docs = batch_docs
        self.chunk_max_chars = chunk_max_chars
        self.progress = progress or NullProgress()
        self.redactor = redactor or Redactor()  # secrets are redacted unless settings say otherwise
        self._pii = False
        self._redaction_key = self.redactor.key(False)
        self._collection_ready = False
        self._overrides: dict[str, tuple[str | None, bool]] = {}
        self._staleness: dict[str, tuple[float, str | None]] = {}
        # symbol tables and doc references ride along with the documents they belong to
        self.staleness = StalenessRecorder(catalog.db, code_sources)

    # -- entry point -----------------------------------------------------------
    def index(self, row: SourceRow, source: Source, *, full: bool = False) -> RunReport:
        """Bring the store and catalog in line with what ``source`` yields now."""
        report = RunReport(source=row.name)
        started = time.perf_counter()
        run_id = self.catalog.start_run(row.id)
        self._collection_ready = False
        self._overrides = self.catalog.doc_overrides()
        self._pii = self.redactor.pii_for(row.options, row.classification)
        self._redaction_key = self.redactor.key(self._pii)
        self._staleness = doc_staleness(self.catalog.db, row.id)
        try:
            report.recovered = self._recover(row)
            self._run(row, source, report, full)
        except SourceError as exc:
            report.status, report.error = "failed", str(exc)
        except BaseException as exc:  # store/model down, Ctrl-C: record the run, then stop
            interrupted = isinstance(exc, KeyboardInterrupt | RunStopped)
            report.status = "interrupted" if interrupted else "failed"
            report.error = (f"interrupted ({exc.reason})" if isinstance(exc, RunStopped) else "interrupted"
                            ) if interrupted else f"{type(exc).__name__}: {exc}"
            report.seconds = time.perf_counter() - started
            with contextlib.suppress(Exception):
                self._finish(row, run_id, report)
            raise
        report.seconds = time.perf_counter() - started
        self._finish(row, run_id, report)
        return report

    def _run(self, row: SourceRow, source: Source, report: RunReport, full: bool) -> None:
        docs: dict[str, Document] = {}
        self.progress.start("scan", 0)
        for item in source.scan():
            if isinstance(item, ItemFailure):
                report.failures.append(item)
                report.skipped[item.reason] += 1
            elif (rule := self.redactor.path_rule(item.path)) is not None:  # never read, and gone if indexed
                report.failures.append(ItemFailure(item.path, "secret-path", _secret_path_message(rule)))
                report.skipped["secret-path"] += 1
            else:
                docs[item.doc_id] = item
            self.progress.advance("scan")
        self.progress.finish("scan")
        report.version = source.version
        report.seen = len(docs) + len(report.failures)
        report.history_commits = getattr(getattr(source, "history", None), "walked", 0)

        groups = effective_groups(row.access_groups)
        states = self.catalog.doc_states(row.id)
        model_id = self.embedder.model_id
        to_embed: list[Document] = []
        to_relabel: list[Document] = []
        for doc_id, doc in docs.items():
            state = states.get(doc_id)
            if state is None:
                report.new += 1
                to_embed.append(doc)
            elif (full or state.content_hash != doc.content_hash or state.model_id != model_id
                  or state.redaction_key != self._redaction_key):  # cleaned by other rules: redo
                report.changed += 1
                to_embed.append(doc)
            elif state.meta_hash != doc.meta_hash(groups):
                report.meta_updated += 1
                to_relabel.append(doc)
            else:
                report.unchanged += 1

        self.staleness.start(row.id, docs.values(), report, full)
        report.touched.update(d.doc_id for d in (*to_embed, *to_relabel))
        gone = sorted(set(states) - set(docs))
        report.touched.update(gone)
        if full:
            gone += sorted(self.store.doc_ids(Filter({"source": [row.name]})) - set(states) - set(docs))
        self._delete(gone)
        report.deleted = len([d for d in gone if d in states])
        if report.deleted:  # answers that quoted a removed document lose the quote too
            purge_documents(self.catalog.db, [d for d in gone if d in states])

        self._embed_all(row, to_embed, states, groups, report)
        self._relabel(to_relabel, groups, report)
        embedded = {d.doc_id for d in to_embed}
        report.touched.update(self._backfill([d for d in docs.values() if d.doc_id in states
                                              and d.doc_id not in embedded], groups))
        self._save_history(row, source)
        if report.chunks + report.deleted >= OPTIMIZE_AFTER:
            self.store.optimize()

    # -- steps -----------------------------------------------------------------
    def _recover(self, row: SourceRow) -> int:
        pending = self.catalog.pending(row.id)
        if pending:
            self.store.delete_docs(pending)
            self.store.flush()
            self.staleness.delete(pending)
            self.catalog.delete_documents(pending)
        return len(pending)

    def _delete(self, doc_ids: Sequence[str]) -> None:
        if not doc_ids:
            return
        self.store.delete_docs(doc_ids)
        self.store.flush()
        crash_point("after-store-delete")
        self.staleness.delete(list(doc_ids))
        self.catalog.delete_documents(list(doc_ids))

    def _embed_all(
        self, row: SourceRow, docs: list[Document], states: dict[str, DocState],
        groups: list[str], report: RunReport,
    ) -> None:
        self.progress.start("embed", len(docs))
        for start in range(0, len(docs), self.batch_docs):
            batch = docs[start : start + self.batch_docs]
            prepared: list[_Prepared] = []
            dropped: list[str] = []
            for doc in batch:
                try:
                    prepared.append(self._prepare(doc, groups))
                except Exception as exc:  # one bad item never stops the run
                    if not isinstance(exc, ItemError):
                        log.exception("cannot index %s", doc.doc_id)
                        exc = ItemError("internal-error", f"{type(exc).__name__}: {exc}")
                    report.failures.append(ItemFailure(doc.path, exc.reason, str(exc)))
                    report.skipped[exc.reason] += 1
                    report.new -= doc.doc_id not in states
                    report.changed -= doc.doc_id in states
                    if doc.doc_id in states:
                        dropped.append(doc.doc_id)
            self._delete(dropped)
            report.deleted += len(dropped)
            if prepared:
                self._write_batch(row, prepared, states, report)
            self.progress.advance("embed", len(batch))
        self.progress.finish("embed")

    def _prepare(self, doc: Document, groups: list[str]) -> _Prepared:
        original = doc.read_text()
        if (rule := self.redactor.text_path_rule(doc.path, original)) is not None:
            raise ItemError("secret-path", _secret_path_message(rule))
        # Redact once, before anything is derived: chunks, titles, symbols, vectors.
        redaction = self.redactor.redact(original, path=doc.path, language=doc.language, pii=self._pii)
        text = redaction.text
        payload = self._payload(doc, groups, text, original)
        result = chunk_text(text, doc.path, doc.language, max_chars=self.chunk_max_chars)
        if not result.chunks:
            raise ItemError("empty", "no text to index")
        return _Prepared(doc, payload, result.chunks, result.strategy if not result.fallback_reason
                         else f"window:{result.fallback_reason}", redaction,
                         self.staleness.extract(doc, text, result))

    def _write_batch(
        self, row: SourceRow, prepared: list[_Prepared], states: dict[str, DocState], report: RunReport
    ) -> None:
        texts: list[str] = []
        for item in prepared:
            texts.extend(embed_text(item.doc, c) for c in item.chunks)
        if not self._collection_ready:  # first write of the run: only now load the model
            self.store.ensure_collection(self.embedder.dim)
            self._collection_ready = True
        self.catalog.mark_pending(row.id, [p.doc.doc_id for p in prepared])
        crash_point("after-mark-pending")
        t0 = time.perf_counter()
        dense = self.embedder.embed_documents(texts)
        report.embed_seconds += time.perf_counter() - t0
        report.embedded += len(texts)

        points: list[Point] = []
        records = []
        k = 0
        for item in prepared:
            extra = path_terms(item.doc.path)
            chunk_rows = []
            for chunk in item.chunks:
                pid = point_id(item.doc.doc_id, chunk.index)
                symbol_terms = terms(chunk.symbol or "") + terms(chunk.title or "")
                sparse = self.sparse.encode_document(
                    f"{chunk.context or ''}\n{chunk.text}", extra + symbol_terms
                )
                payload = {**item.payload, **chunk_payload(item.doc, chunk)}
                points.append(Point(pid, dense[k], sparse, payload))
                k += 1
                chunk_rows.append({
                    "chunk_index": chunk.index, "point_id": pid, "start_line": chunk.start_line,
                    "end_line": chunk.end_line, "symbol": chunk.symbol, "title": chunk.title,
                })
            if item.strategy.startswith("window:"):
                report.fallback[item.strategy.split(":", 1)[1]] += 1
            report.chunks += len(item.chunks)
            if item.redaction.hits:
                report.redactions[item.doc.path] = item.redaction.counts()
            records.append((self._doc_fields(item), chunk_rows, item.redaction.rows()))

        for start in range(0, len(points), 256):
            self.store.upsert(points[start : start + 256])
            crash_point("after-upsert")
        for item in prepared:
            old = states.get(item.doc.doc_id)
            if old is not None and old.chunk_count > len(item.chunks):
                self.store.delete_doc_tail(item.doc.doc_id, len(item.chunks))
        self.store.flush()
        crash_point("before-catalog")
        self.catalog.record_documents(row.id, records,
                                      also=self.staleness.writer([p.staleness for p in prepared]))
        crash_point("after-catalog")

    def _relabel(self, docs: list[Document], groups: list[str], report: RunReport) -> None:
        payloads: list[tuple[Document, dict[str, Any]]] = []
        for doc in docs:
            try:
                original = doc.read_text() if is_prose(doc.language) else ""
            except ItemError:
                original = ""
            text = self.redactor.redact(original, path=doc.path, language=doc.language, pii=self._pii).text
            payload = self._payload(doc, groups, text, original)
            self.store.set_doc_payload(doc.doc_id, payload)
            payloads.append((doc, payload))
        if docs:
            self.store.flush()
        for doc, payload in payloads:
            self.catalog.update_document_meta(
                doc.doc_id, meta_hash=doc.meta_hash(groups), updated_at=doc.updated_at,
                version=doc.version, author=payload["author"], owner=payload["owner"], url=doc.url,
                title=payload["doc_title"], status=payload["status"],
                reviewed_at=reviewed_at(payload.get("last_reviewed")),
            )
        report.meta_updated = len(payloads)

    def _backfill(self, docs: list[Document], groups: list[str]) -> list[str]:
        """Symbol tables and references for unchanged documents that have none yet (an
        index built before they existed): read and extracted, never re-embedded. Returns
        the documents it looked at (their staleness must be judged again)."""
        todo = self.staleness.backfill_candidates(docs)
        for start in range(0, len(todo), self.batch_docs):
            items = []
            for doc in todo[start : start + self.batch_docs]:
                try:
                    extracted = self._prepare(doc, groups).staleness
                except Exception as exc:  # the document stays indexed as it is
                    log.debug("no staleness rows for %s: %s", doc.doc_id, exc)
                    continue
                if extracted is not None:
                    items.append(extracted)
            self.staleness.save(items)
            crash_point("after-backfill")
        return [d.doc_id for d in todo]

    def _save_history(self, row: SourceRow, source: Source) -> None:
        history = getattr(source, "history", None)
        if history is None or history.walked == 0 and (row.options or {}).get("history_commit") == history.commit:
            return
        self.catalog.save_history(
            row.id, history.commit,
            ((p, v.commit, v.committed_at, v.author) for p, v in history.files.items()),
        )

    def _finish(self, row: SourceRow, run_id: int, report: RunReport) -> None:
        failures = [(f.path, f.reason, f.message) for f in report.failures]
        if failures:
            self.catalog.add_failures(run_id, row.id, failures)
        self.catalog.finish_run(
            run_id, status=report.status, version=report.version, counts=report.counts(),
            seconds=report.seconds, embed_seconds=report.embed_seconds, error=report.error,
        )
        fields: dict[str, Any] = {"last_error": report.error}
        if report.status == "ok":
            from assistant.catalog.schema import utcnow

            fields.update(last_indexed_at=utcnow(), last_version=report.version)
        self.catalog.update_source(row.id, **fields)

    def _payload(self, doc: Document, groups: list[str], text: str, original: str | None = None) -> dict[str, Any]:
        """From the redacted ``text``; an owner handle redacted as personal data (an
        e-mail) comes from the ``original`` front matter: owners are routing, not content."""
        front = self._front_matter(doc, text)
        if original is not None and original != text and "REDACTED:" in str(front.get("owner") or ""):
            owner = self._front_matter(doc, original).get("owner")
            front["owner"] = owner if isinstance(owner, str) and _OWNER_HANDLE.fullmatch(owner) else None
        payload = doc_payload(doc, groups, front, self.embedder.model_id)
        payload["doc_title"] = self.redactor.redact_value(payload["doc_title"], pii=self._pii)
        if self._pii:  # a commit author's e-mail is personal data too
            payload["author"] = self.redactor.redact_value(payload["author"], pii=True)
        owner, deprecated = self._overrides.get(doc.doc_id, (None, False))
        # the staleness detector's score outlives re-embedding (it runs after the run)
        payload["staleness"], payload["stale_reason"] = self._staleness.get(doc.doc_id, (0.0, None))
        return apply_override(payload, owner, deprecated)

    @staticmethod
    def _front_matter(doc: Document, text: str) -> dict[str, Any]:
        if not text or not is_prose(doc.language):
            return {}
        meta, _ = split_front_matter(text)
        return front_matter_fields(meta) if meta else {}

    def _doc_fields(self, item: _Prepared) -> dict[str, Any]:
        doc, payload = item.doc, item.payload
        return {
            "doc_id": doc.doc_id, "path": doc.path, "kind": doc.kind, "language": doc.language,
            "title": payload.get("doc_title"), "content_hash": doc.content_hash,
            "meta_hash": doc.meta_hash(payload["access_groups"]), "updated_at": doc.updated_at,
            "version": doc.version, "author": payload.get("author"), "owner": payload.get("owner"),
            "url": doc.url, "status": payload.get("status", "active"), "chunk_count": len(item.chunks),
            "chunk_strategy": item.strategy[:20], "model_id": self.embedder.model_id,
            "redaction_key": self._redaction_key,
            "reviewed_at": reviewed_at(payload.get("last_reviewed")),
            "staleness": payload.get("staleness") or None, "stale_reason": payload.get("stale_reason"),
        }
