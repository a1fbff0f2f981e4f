"""What a point carries: everything a citation and a filter need, nothing run-dependent.

Payloads must be a pure function of the document, its text and the source's groups, so
a re-run after a crash produces byte-identical points.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from assistant.access import effective_groups  # noqa: F401  (re-exported: the pipeline's import)
from assistant.models import Chunk, Document
from assistant.retrieval.identifiers import (
    defined_symbols,
    dir_prefixes,
    extension,
    file_role,
    path_keys,
)
from indexers.chunking.languages import is_prose

MAX_EMBED_CHARS = 4000




def doc_payload(
    doc: Document, groups: list[str], front_matter: dict[str, Any], model_id: str
) -> dict[str, Any]:
    """Document-level payload keys; ``set_doc_payload`` rewrites exactly these."""
    owner = front_matter.get("owner") or doc.owner
    title = front_matter.get("title") or doc.title
    last_reviewed = front_matter.get("last_reviewed") or doc.extra.get("last_reviewed")
    if isinstance(last_reviewed, datetime):
        last_reviewed = last_reviewed.isoformat()
    status = "deprecated" if front_matter.get("deprecated") else "active"
    return {
        "source": doc.source,
        "doc_id": doc.doc_id,
        "path": doc.path,
        "kind": doc.kind,
        "language": doc.language,
        "doc_title": title,
        "updated_at": doc.updated_at.isoformat(),
        "updated_ts": int(doc.updated_at.timestamp()),
        "commit": doc.version,
        "author": doc.author,
        "owner": owner,
        "url": doc.url,
        "access_groups": sorted(groups),
        "content_hash": doc.content_hash,
        "model_id": model_id,
        "status": status,
        "last_reviewed": last_reviewed,
        # exact-match keys for questions that name a file, and path: filters
        "path_keys": path_keys(doc.path),
        "dirs": dir_prefixes(doc.path),
        "ext": extension(doc.path),
        "role": file_role(doc.path),  # test | example | meta | main, for the ranking's priors
    }


def reviewed_at(value: Any) -> datetime | None:
    """Front matter ``last_reviewed`` (an ISO date or datetime) as an aware UTC datetime."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def apply_override(payload: dict[str, Any], owner: str | None, deprecated: bool) -> dict[str, Any]:
    """An admin's or owner's decision (reassigned owner, marked deprecated) beats the source's."""
    if owner:
        payload["owner"] = owner
    if deprecated:
        payload["status"] = "deprecated"
        payload["excluded"] = "deprecated"
    return payload


def chunk_payload(doc: Document, chunk: Chunk) -> dict[str, Any]:
    """Chunk-level payload keys; ``symbols`` (names the chunk defines, lowercased) lets a
    question naming ``RETRY_LIMIT`` find its definition exactly. Prose defines nothing."""
    code = doc.kind == "code" and not is_prose(doc.language)
    return {
        "chunk_index": chunk.index, "start_line": chunk.start_line, "end_line": chunk.end_line,
        "symbol": chunk.symbol, "title": chunk.title, "context": chunk.context,
        "chunk_kind": chunk.chunk_kind, "text": chunk.text,
        "symbols": defined_symbols(chunk.text, chunk.symbol) if code else [],
    }


def embed_text(doc: Document, chunk: Chunk) -> str:
    """The text the dense model sees: where the chunk lives, then the chunk."""
    head = [doc.path]
    if chunk.symbol:
        head.append(chunk.symbol)
    if chunk.title:
        head.append(chunk.title)
    if chunk.context:
        head.append(chunk.context)
    return ("\n".join(head) + "\n" + chunk.text)[:MAX_EMBED_CHARS]
