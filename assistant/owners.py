"""The doc owners' queue: sources someone flagged, sent to the people who can fix them.

A document's owner is, in order: an admin's or owner's reassignment (kept across
re-indexing), front matter, CODEOWNERS, the wiki page's author. Owner strings are
matched against a user's handles (name, ``@name``, aliases) and, for team owners such
as ``@org/docs``, against the user's groups.

Owning a document does not grant reading it: the queue shows (and the actions accept)
only documents in sources the viewer may read (``assistant.access``; admins read
everything), and a flag's question and answer only when the viewer may read every
source that answer drew on, since an answer quotes all of them. Anything else looks
exactly as if it did not exist.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from assistant.access import can_read_source, interaction_sources, readable_sources, source_groups
from assistant.audit import AuditLog
from assistant.catalog.db import Database
from assistant.catalog.repo import Catalog
from assistant.catalog.schema import (
    DocOverrideRow,
    DocumentRow,
    FlagRow,
    InteractionRow,
    SourceRow,
    utcnow,
)
from assistant.errors import ConfigError, NotFoundError, PermissionDeniedError
from assistant.metrics import NullMetrics
from assistant.notify import Notifier
from assistant.store.base import EXCLUDED_FIELD, VectorStore
from assistant.users import Account


@dataclass(frozen=True)
class FlagView:
    id: int
    kind: str
    origin: str
    user: str
    comment: str | None
    created_at: datetime
    start_line: int | None
    end_line: int | None
    commit: str | None
    interaction_id: int | None
    question: str | None
    answer: str | None
    hidden: bool = False  # the answer drew on sources the viewer may not read: question and answer withheld


@dataclass(frozen=True)
class QueueItem:
    doc_id: str
    source: str
    path: str
    title: str | None
    owner: str | None
    status: str
    url: str | None
    updated_at: datetime | None
    citations_recent: int
    flags: tuple[FlagView, ...] = field(default_factory=tuple)


def owner_matches(owner: str | None, account: Account) -> bool:
    """Whether ``owner`` (a CODEOWNERS/front-matter/wiki string) names ``account``."""
    if not owner:
        return False
    handles = account.handles()
    groups = {g.lower() for g in account.groups}
    for part in owner.replace(",", " ").split():
        p = part.lower()
        if p in handles or p.lstrip("@") in groups or p.lstrip("@").split("/")[-1] in groups:
            return True
    return False


class OwnerQueue:
    def __init__(self, db: Database, store: VectorStore | Callable[[], VectorStore], audit: AuditLog,
                 notifier: Notifier | None = None, *, citation_window_days: int = 30,
                 metrics: NullMetrics | None = None) -> None:
        self.db = db
        self.catalog = Catalog(db)
        self._store = store
        self.audit = audit
        self.notifier = notifier
        self.window = timedelta(days=citation_window_days)
        self.metrics = metrics or NullMetrics()

    @property
    def store(self) -> VectorStore:
        return self._store() if callable(self._store) else self._store  # type: ignore[return-value]

    # -- reading -------------------------------------------------------------------
    def queue(self, account: Account, owner: str | None = None) -> list[QueueItem]:
        """Documents with open flags owned by ``account`` (or by ``owner``, for admins),
        most-cited first."""
        if owner is not None and not account.is_admin and owner.lower() not in account.handles():
            raise PermissionDeniedError("only admins can open another owner's queue")
        if owner is not None:
            items = self._queue(lambda f: (f.owner or "").lower() == owner.lower(), account)
        else:
            items = self._queue(lambda f: owner_matches(f.owner, account), account)
        items.sort(key=lambda i: (-i.citations_recent, -len(i.flags), i.path))
        return items

    def queue_all(self, account: Account) -> list[QueueItem]:
        """Every owner's queue in one pass, owner by owner (the admin's overview)."""
        if not account.is_admin:
            raise PermissionDeniedError("only admins can see every owner's queue")
        items = self._queue(lambda f: True, account)
        items.sort(key=lambda i: (i.owner or "", -i.citations_recent, -len(i.flags), i.path))
        return items

    def _queue(self, wanted: Callable[[FlagRow], bool], viewer: Account) -> list[QueueItem]:
        user = viewer.user()
        readable = None if user.access_groups() is None else readable_sources(source_groups(self.db), user)
        with self.db.session() as s:
            flags = s.scalars(select(FlagRow).where(FlagRow.status == "open").order_by(FlagRow.id))
            by_doc: dict[str, list[FlagRow]] = {}
            for f in flags:
                if wanted(f) and (readable is None or f.source_name in readable):
                    by_doc.setdefault(f.doc_id, []).append(f)
            cited = self._citations(s, set(by_doc))
            return [self._item(s, doc_id, rows, cited[doc_id], readable) for doc_id, rows in by_doc.items()]

    def open_owners(self) -> list[tuple[str, int]]:
        """(owner, open flags) for owners with any ("" for documents nobody owns), busiest first."""
        with self.db.session() as s:
            rows = s.execute(select(FlagRow.owner, func.count()).where(FlagRow.status == "open")
                             .group_by(FlagRow.owner))
            return sorted(((o or "", int(n)) for o, n in rows), key=lambda r: (-r[1], r[0]))

    def open_flags(self, doc_id: str) -> list[FlagRow]:
        with self.db.session() as s:
            return list(s.scalars(select(FlagRow).where(FlagRow.doc_id == doc_id, FlagRow.status == "open")))

    def _citations(self, s: Any, doc_ids: set[str]) -> Counter[str]:
        """How often each document was cited in answers within the window."""
        counts: Counter[str] = Counter()
        if not doc_ids:
            return counts
        since = utcnow() - self.window
        rows = s.execute(select(InteractionRow.retrieved, InteractionRow.citations)
                         .where(InteractionRow.created_at >= since, InteractionRow.channel != "eval"))
        for retrieved, citations in rows:
            cited = {c.get("n") for c in citations or ()}
            for p in retrieved or ():
                if p.get("n") in cited and p.get("doc_id") in doc_ids:
                    counts[p["doc_id"]] += 1
        return counts

    def _item(self, s: Any, doc_id: str, rows: list[FlagRow], cited: int, readable: set[str] | None) -> QueueItem:
        """One document's flags; ``readable``: the sources the viewer may read (``None``: all)."""
        doc = s.scalar(select(DocumentRow).where(DocumentRow.doc_id == doc_id))
        views = []
        for f in rows:
            inter = s.get(InteractionRow, f.interaction_id) if f.interaction_id else None
            hidden = inter is not None and readable is not None and not interaction_sources(inter.retrieved) <= readable
            shown = inter if inter is not None and not hidden else None
            views.append(FlagView(f.id, f.kind, f.origin, f.user_name, f.comment, f.created_at, f.start_line,
                                  f.end_line, f.commit, f.interaction_id, shown.question if shown else None,
                                  shown.answer if shown else None, hidden))
        first = rows[0]
        return QueueItem(doc_id, first.source_name, doc.path if doc else first.path, doc.title if doc else None,
                         first.owner, doc.status if doc else "removed", doc.url if doc else None,
                         doc.updated_at if doc else None, cited, tuple(views))

    # -- actions -------------------------------------------------------------------
    def authorise(self, doc_id: str, actor: Account) -> tuple[str | None, str, str]:
        """(current owner, source name, path), if ``actor`` owns ``doc_id`` or is an admin.

        A document in a source ``actor`` may not read is "no document", like one that
        does not exist (its path and owner are not told)."""
        with self.db.session() as s:
            doc = s.scalar(select(DocumentRow).where(DocumentRow.doc_id == doc_id))
            flag = s.scalar(select(FlagRow).where(FlagRow.doc_id == doc_id).order_by(FlagRow.id.desc()))
            if doc is None and flag is None:
                raise NotFoundError(f"no document {doc_id!r}")
            override = s.get(DocOverrideRow, doc_id)
            owner = (override.owner if override else None) or (doc.owner if doc else None) \
                or (flag.owner if flag else None)
            source = s.get(SourceRow, doc.source_id).name if doc else flag.source_name  # type: ignore[union-attr]
            path = doc.path if doc else flag.path  # type: ignore[union-attr]
        if not can_read_source(self.db, source, actor.user()):
            raise NotFoundError(f"no document {doc_id!r}")
        if not actor.is_admin and not owner_matches(owner, actor):
            raise PermissionDeniedError(f"{path} is owned by {owner or 'nobody'}; only its owner or an admin can act")
        return owner, source, path

    def _close(self, doc_id: str, actor: Account, status: str, note: str | None,
               flag_id: int | None = None) -> int:
        with self.db.session() as s:
            q = select(FlagRow).where(FlagRow.doc_id == doc_id, FlagRow.status == "open")
            if flag_id is not None:
                q = q.where(FlagRow.id == flag_id)
            rows = list(s.scalars(q))
            for f in rows:
                f.status, f.resolved_by, f.resolution_note, f.resolved_at = status, actor.name, note, utcnow()
            return len(rows)

    def mark_fixed(self, doc_id: str, actor: Account, reindex: Callable[[str], Any], note: str | None = None) -> int:
        """Re-index the document's source now (picking up the fix), then close its open flags."""
        _, source, path = self.authorise(doc_id, actor)
        result = reindex(source)
        status = getattr(result, "status", "ok")
        if status != "ok":
            raise ConfigError(f"re-indexing {source} failed ({getattr(result, 'error', status)}); flags left open")
        closed = self._close(doc_id, actor, "fixed", note)
        self.audit.record(actor.name, "owner.fixed", f"{source}:{path}", {"doc_id": doc_id, "closed": closed,
                                                                          "note": note})
        self.metrics.observe_owner_action("fixed")
        return closed

    def dismiss(self, flag_id: int, actor: Account, note: str) -> None:
        """Close one flag as not a problem; the note says why (kept for the flagger to read)."""
        if not (note or "").strip():
            raise ConfigError("say why the flag is dismissed (a note is required)")
        with self.db.session() as s:
            flag = s.get(FlagRow, flag_id)
            if flag is None or not can_read_source(self.db, flag.source_name, actor.user()):
                raise NotFoundError(f"no flag {flag_id}")
            doc_id, status = flag.doc_id, flag.status
        if status != "open":
            raise ConfigError(f"flag {flag_id} is already {status}")
        _, source, path = self.authorise(doc_id, actor)
        self._close(doc_id, actor, "dismissed", note.strip(), flag_id)
        self.audit.record(actor.name, "owner.dismissed", f"{source}:{path}", {"flag_id": flag_id, "note": note})
        self.metrics.observe_owner_action("dismissed")

    def deprecate(self, doc_id: str, actor: Account, note: str | None = None, *, deprecated: bool = True) -> int:
        """Exclude the document from retrieval (kept in the catalog); ``deprecated=False`` restores it."""
        _, source, path = self.authorise(doc_id, actor)
        self.catalog.set_doc_override(doc_id, actor.name, deprecated=deprecated, note=note)
        status = "deprecated" if deprecated else "active"
        self.catalog.update_document_meta(doc_id, status=status)
        self.store.set_doc_payload(doc_id, {"status": status, EXCLUDED_FIELD: "deprecated" if deprecated else ""})
        self.store.flush()
        closed = self._close(doc_id, actor, "fixed", f"deprecated: {note}" if note else "deprecated") \
            if deprecated else 0
        self.audit.record(actor.name, "owner.deprecated" if deprecated else "owner.restored", f"{source}:{path}",
                          {"doc_id": doc_id, "note": note, "closed": closed})
        self.metrics.observe_owner_action("deprecated" if deprecated else "restored")
        return closed

    def reassign(self, doc_id: str, actor: Account, new_owner: str) -> None:
        """Hand the document (and its open flags) to someone else; they are notified."""
        new_owner = (new_owner or "").strip()
        if not new_owner or len(new_owner) > 300:
            raise ConfigError("name the new owner (a user name, @handle or e-mail)")
        old, source, path = self.authorise(doc_id, actor)
        self.catalog.set_doc_override(doc_id, actor.name, owner=new_owner)
        self.catalog.update_document_meta(doc_id, owner=new_owner)
        self.store.set_doc_payload(doc_id, {"owner": new_owner})
        self.store.flush()
        with self.db.session() as s:
            flags = list(s.scalars(select(FlagRow).where(FlagRow.doc_id == doc_id, FlagRow.status == "open")))
            for f in flags:
                f.owner = new_owner
            ids = [f.id for f in flags]
        self.audit.record(actor.name, "owner.reassigned", f"{source}:{path}",
                          {"doc_id": doc_id, "from": old, "to": new_owner})
        self.metrics.observe_owner_action("reassigned")
        if self.notifier is not None and ids:
            self.notifier.flag_raised(new_owner, ids[0], f"{source}:{path} was reassigned to you by {actor.name} "
                                                         f"with {len(ids)} open flag(s)")
