"""What a point carries: everything a citation and a filter need, nothing run-dependent.

Payloads must be a pure function of the document, its text and the source's groups, so
a re-run after a crash produces byte-identical points.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from assistant.models import PUBLIC_GROUP, Chunk, Document

MAX_EMBED_CHARS = 4000


def effective_groups(groups: list[str] | None) -> list[str]:
    """A source's access groups; none given means everyone may read it."""
    return sorted(set(groups or ())) or [PUBLIC_GROUP]


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
