"""Reading the index as a caller: their sources, a document's indexed text, where a name is
defined, and searches, each with its access check and audit row (DESIGN rule 9).

Doors that hand source text to tools (the MCP server) call this instead of the store or
git: the text comes from the index, which holds it redacted, at the commit that was
indexed. A raw git blob may still hold a secret that redaction removed, so nothing here
reads the repository. A file that does not exist, one at another commit and one in a
source outside the caller's groups all raise the same ``NotFoundError``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from assistant.access import may_read, readable_sources, source_groups
from assistant.audit import AuditLog
from assistant.catalog.db import Database
from assistant.catalog.schema import DocOverrideRow, DocumentRow, SourceRow
from assistant.catalog.staleness_schema import SymbolRow
from assistant.catalog.symbols import symbol_key
from assistant.errors import ConfigError, NotFoundError
from assistant.models import Filter, User
from assistant.retrieval.retriever import Retrieval, parse_datetime
from assistant.store.base import VectorStore

if TYPE_CHECKING:
    from assistant.retrieval.query import QueryFilters
    from assistant.retrieval.retriever import Retriever


@dataclass(frozen=True)
class SourceInfo:
    """A source as a reader sees it (never its location or access groups)."""

    name: str
    kind: str
    ref: str | None
    commit: str | None
    classification: str
    status: str
    documents: int
    last_indexed_at: datetime | None


@dataclass(frozen=True)
class DocumentText:
    """Lines ``start_line``..``end_line`` of a document as the index holds them."""

    source: str
    path: str
    commit: str
    kind: str
    language: str | None
    title: str | None
    url: str | None
    owner: str | None
    updated_at: datetime
    status: str
    stale_reason: str | None
    start_line: int
    end_line: int
    last_line: int  # the last line the index holds
    text: str
    missing_lines: tuple[tuple[int, int], ...]  # ranges no chunk holds (skipped or blank)
    truncated: bool


@dataclass(frozen=True)
class Definition:
    """Where a name is defined in the indexed version of a file."""

    name: str
    kind: str
    source: str
    path: str
    start_line: int
    end_line: int
    signature: str | None
    commit: str
    url: str | None
    owner: str | None
    updated_at: datetime


def not_found(source: str, path: str) -> NotFoundError:
    """The one answer for a missing, moved-on or forbidden file (the caller's words echoed only)."""
    return NotFoundError(f"no indexed file {path!r} in a source {source!r} you can read, at that commit "
                         "(list_sources names your sources; search_code finds paths)")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


class SourceReader:
    """Caller-scoped reads of the catalog and the index, audited."""

    def __init__(self, db: Database, store: VectorStore, audit: AuditLog) -> None:
        self.db = db
        self.store = store
        self.audit = audit

    # -- sources -----------------------------------------------------------------------
    def sources(self, user: User) -> list[SourceInfo]:
        """The sources ``user`` may read, by name."""
        readable = readable_sources(source_groups(self.db), user)
        with self.db.session() as s:
            counts = dict(s.execute(select(DocumentRow.source_id, func.count()).group_by(DocumentRow.source_id)).all())
            rows = [r for r in s.scalars(select(SourceRow).order_by(SourceRow.name)) if r.name in readable]
            return [SourceInfo(r.name, r.kind, r.ref, r.last_version, r.classification, r.status,
                               int(counts.get(r.id, 0)), r.last_indexed_at) for r in rows]

    # -- search ------------------------------------------------------------------------
    def search(self, retriever: Retriever, user: User, query: str, *, k: int,
               filters: QueryFilters | None, channel: str) -> Retrieval:
        """The retriever's passages for ``user``, with an audit row saying what was shown
        (sources and chunk ids, the query's hash, not its text)."""
        result = retriever.retrieve(query, user=user, k=k, filters=filters)
        self.audit.record(user.name, "search.query", f"channel:{channel}", {
            "channel": channel, "query_sha256": _sha(query), "sources": sorted({p.source for p in result.passages}),
            "chunks": [p.id for p in result.passages]})
        return result

    # -- documents ---------------------------------------------------------------------
    def read(self, user: User, source: str, path: str, *, commit: str | None = None,
             start_line: int | None = None, end_line: int | None = None, max_chars: int = 16_000,
             channel: str = "mcp") -> DocumentText:
        """The indexed text of ``source:path`` (lines ``start_line``..``end_line``), cut at a
        line boundary after ``max_chars``. Raises ``not_found`` for anything ``user`` may not have."""
        if start_line is not None and end_line is not None and end_line < start_line:
            raise ConfigError(f"end_line {end_line} is before start_line {start_line}")
        try:
            doc = self._readable_doc(user, source, path, commit)
        except NotFoundError:
            self.audit.record(user.name, "source.read", f"{source}:{path}",
                              {"channel": channel, "found": False, "commit": commit})
            raise
        lines, meta = doc
        last = max(lines)
        first_wanted = start_line or 1
        if first_wanted > last:
            raise ConfigError(f"start_line {first_wanted} is past the end of {path!r} (the index holds "
                              f"lines 1-{last})")
        stop = min(end_line or last, last)
        out: list[str] = []
        missing: list[tuple[int, int]] = []
        size, truncated, shown_end = 0, False, first_wanted - 1
        for n in range(first_wanted, stop + 1):
            line = lines.get(n)
            if line is None:
                if missing and missing[-1][1] == n - 1:
                    missing[-1] = (missing[-1][0], n)
                else:
                    missing.append((n, n))
                line = ""
            if out and size + len(line) + 1 > max_chars:
                truncated = True
                break
            out.append(line)
            size += len(line) + 1
            shown_end = n
        if size > max_chars and out:  # one line longer than the budget
            out[-1] = out[-1][:max(0, max_chars - (size - len(out[-1]) - 1))]
            truncated = True
        missing = [(a, min(b, shown_end)) for a, b in missing if a <= shown_end]
        self.audit.record(user.name, "source.read", f"{source}:{path}", {
            "channel": channel, "found": True, "commit": meta["commit"], "lines": [first_wanted, shown_end],
            "truncated": truncated})
        return DocumentText(
            source=source, path=path, commit=meta["commit"], kind=meta["kind"], language=meta["language"],
            title=meta["title"], url=meta["url"], owner=meta["owner"], updated_at=meta["updated_at"],
            status=meta["status"], stale_reason=meta["stale_reason"], start_line=first_wanted, end_line=shown_end,
            last_line=last, text="\n".join(out), missing_lines=tuple(missing), truncated=truncated)

    def _readable_doc(self, user: User, source: str, path: str,
                      commit: str | None) -> tuple[dict[int, str], dict[str, Any]]:
        groups = source_groups(self.db)
        if source not in groups or not may_read(groups[source], user) or not path:
            raise not_found(source, path)
        doc_id = f"{source}:{path}"
        flt = Filter({"doc_id": [doc_id]})
        allowed = user.access_groups()
        if allowed is not None:  # the store checks too: the catalog's word is not the only one
            flt = flt.and_("access_groups", allowed)
        points = sorted(self.store.points(flt), key=lambda h: (int(h.payload.get("start_line") or 1),
                                                                int(h.payload.get("chunk_index") or 0)))
        if not points:
            raise not_found(source, path)
        first = points[0].payload
        indexed = str(first.get("commit") or "")
        if commit is not None and not _same_commit(commit, indexed):
            raise not_found(source, path)
        lines: dict[int, str] = {}
        for hit in points:
            start = int(hit.payload.get("start_line") or 1)
            for i, line in enumerate(str(hit.payload.get("text") or "").split("\n")):
                lines.setdefault(start + i, line)
        meta = {
            "commit": indexed, "kind": str(first.get("kind") or "code"), "language": first.get("language"),
            "title": first.get("doc_title") or first.get("title"), "url": _file_url(first.get("url")),
            "owner": first.get("owner"), "updated_at": parse_datetime(first.get("updated_at"), first.get("updated_ts")),
            "status": str(first.get("status") or "active"), "stale_reason": first.get("stale_reason"),
        }
        return lines, meta

    # -- definitions -------------------------------------------------------------------
    def definitions(self, user: User, name: str, *, limit: int = 20) -> list[Definition]:
        """Where ``name`` (``Class.method``, ``RETRY_LIMIT``, ``--flag``) is defined in the
        indexed version of the files of the sources ``user`` may read; exact spellings first."""
        name = (name or "").strip()
        if not name or len(name) > 300:
            raise ConfigError("give the name to look up (up to 300 characters), e.g. RetryPolicy or retry_payment")
        readable = readable_sources(source_groups(self.db), user)
        found: list[Definition] = []
        with self.db.session() as s:
            rows = s.execute(
                select(SymbolRow, DocumentRow, SourceRow.name, DocOverrideRow.owner)
                .join(DocumentRow, (DocumentRow.source_id == SymbolRow.source_id) & (DocumentRow.path == SymbolRow.path)
                      & (DocumentRow.content_hash == SymbolRow.blob))
                .join(SourceRow, SourceRow.id == SymbolRow.source_id)
                .outerjoin(DocOverrideRow, DocOverrideRow.doc_id == DocumentRow.doc_id)
                .where(SymbolRow.key == symbol_key(name))
                .order_by(SourceRow.name, SymbolRow.path, SymbolRow.line))
            for sym, doc, src, override_owner in rows:
                if src not in readable:
                    continue
                found.append(Definition(sym.name, sym.kind, src, sym.path, sym.line, sym.end_line, sym.signature,
                                        doc.version, _file_url(doc.url), override_owner or doc.owner,
                                        _aware(doc.updated_at)))
        found.sort(key=lambda d: (not _exact(d.name, name), d.name.lower() != name.lower(), d.source, d.path, d.start_line))
        self.audit.record(user.name, "symbol.find", f"name_sha256:{_sha(name)[:16]}",
                          {"channel": "mcp", "found": len(found), "sources": sorted({d.source for d in found})})
        return found[:limit]


def _exact(found: str, asked: str) -> bool:
    return found == asked or found.rsplit(".", 1)[-1] == asked


def _same_commit(asked: str, indexed: str) -> bool:
    asked = asked.strip().lower()
    return bool(indexed) and len(asked) >= 7 and indexed.lower().startswith(asked)


def _file_url(url: Any) -> str | None:
    """A document's link without a line anchor (chunk URLs carry ``#L``)."""
    if not isinstance(url, str) or not url:
        return None
    return url.split("#L", 1)[0]


def _aware(value: datetime | None) -> datetime:
    return parse_datetime(value.isoformat() if value is not None else None)
