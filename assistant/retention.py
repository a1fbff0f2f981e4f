"""What removing a source or a document deletes besides its points and catalog rows.

Removal must not leave the removed text behind where people can read it again. Points
and document rows go with the store and catalog deletes; findings go with the
``source_id`` foreign key; cached answers go when the index version changes (the
document count does). This module purges the *stored snippets*, in the same run:

- the chat's citation elements (``ChatElementRow.content``: the full passage text
  shown in the side panel) of every answer that retrieved a removed document: deleted;
- the chat answer's text (``ChatStepRow.output``) and its cited-source list
  (``metadata.citations``): replaced by a note;
- the interaction row's ``answer`` and ``history`` (earlier turns, which may quote the
  same sources): replaced by the note / emptied. The question stays (the user's own
  words, and the eval record), and so do ids, paths and scores in ``retrieved`` and
  ``citations`` and the flags that name the path (admins only see them once the source
  is gone: ``assistant.access``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, delete, select, update

from assistant.models import split_doc_id

REMOVED_ANSWER = "[removed: this answer quoted a source that has since been removed from Sourcewise]"
_BATCH = 500


@dataclass(frozen=True)
class Purged:
    """How many stored records a removal rewrote or deleted."""

    interactions: int = 0
    chat_steps: int = 0
    chat_elements: int = 0


def purge_source(db: Any, source: str) -> Purged:
    """Purge stored snippets of every answer that retrieved anything from ``source``."""
    prefix = f"{source}:"
    return _purge(db, source, lambda doc_id: doc_id.startswith(prefix))


def purge_documents(db: Any, doc_ids: Iterable[str]) -> Purged:
    """Purge stored snippets of every answer that retrieved one of ``doc_ids``."""
    wanted = set(doc_ids)
    total = Purged()
    for source in sorted({split_doc_id(d)[0] or "" for d in wanted}):
        got = _purge(db, source, wanted.__contains__)
        total = Purged(total.interactions + got.interactions, total.chat_steps + got.chat_steps,
                       total.chat_elements + got.chat_elements)
    return total


def _purge(db: Any, source: str, removed: Any) -> Purged:
    from assistant.catalog.chat_schema import ChatElementRow, ChatStepRow
    from assistant.catalog.schema import InteractionRow

    with db.session() as s:
        # The JSON text names the source wherever a retrieved doc_id does: a cheap prefilter.
        q = select(InteractionRow.id, InteractionRow.retrieved)
        if source:
            q = q.where(cast(InteractionRow.retrieved, String).contains(f"{source}:"))
        ids = [iid for iid, retrieved in s.execute(q)
               if any(removed(str(p.get("doc_id") or "")) for p in retrieved or ())]
        steps = elements = 0
        for start in range(0, len(ids), _BATCH):
            part = ids[start:start + _BATCH]
            s.execute(update(InteractionRow).where(InteractionRow.id.in_(part))
                      .values(answer=REMOVED_ANSWER, history=[]))
            for step in s.scalars(select(ChatStepRow).where(ChatStepRow.interaction_id.in_(part))):
                step.output = REMOVED_ANSWER
                step.meta = {k: v for k, v in (step.meta or {}).items() if k != "citations"}
                steps += 1
                elements += s.execute(delete(ChatElementRow).where(ChatElementRow.step_id == step.id)).rowcount or 0
    return Purged(len(ids), steps, elements)
