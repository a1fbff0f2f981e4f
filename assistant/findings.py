"""Staleness findings for people: who sees which, with what evidence, and what they can do.

Every door (the ``/owners`` page, ``sourcewise stale``, ``sourcewise owners ...``) reads
and acts through this service, so the same rules hold everywhere:

* a finding about a document in a source the viewer may not read does not exist for
  them (``NotFoundError``, never "forbidden");
* evidence read from a code source the viewer may not read (code, hunk, path, commit,
  the suggested new name and its patch) is withheld and replaced by "evidence in a
  source you cannot read", and the summary is the one that names only what the
  document itself says;
* only the document's owner (``assistant.owners.owner_matches``) or an admin may
  dismiss a finding (a reason is required; the fingerprint remembers it) or mark it
  fixed (re-index: the detector closes what no longer holds), and every action,
  downloading a patch included, is in the audit log.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from assistant.audit import AuditLog
from assistant.catalog.db import Database
from assistant.catalog.schema import DocOverrideRow, DocumentRow, SourceRow, utcnow
from assistant.catalog.staleness_schema import FindingRow
from assistant.errors import ConfigError, NotFoundError, PermissionDeniedError
from assistant.models import PUBLIC_GROUP, User
from assistant.metrics import NullMetrics
from assistant.owners import owner_matches
from assistant.staleness import SEVERITY, WITHHELD, Weights, code_sources_of, refresh_scores
from assistant.store.base import VectorStore

MAX_NOTE = 2000
_DOC_KEYS = ("doc", "lines", "context", "basis", "since", "days", "policy_days")


@dataclass(frozen=True)
class FindingView:
    """A finding as one viewer may see it."""

    id: int
    kind: str
    status: str
    source: str
    doc_id: str
    path: str
    reference: str | None
    line: int | None
    summary: str
    evidence: dict[str, Any]
    suggestion: dict[str, Any] | None
    code_source: str | None
    owner: str | None
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    reopened: int
    dismissed_by: str | None
    dismiss_note: str | None
    withheld: bool

    @property
    def severity(self) -> int:
        return SEVERITY.get(self.kind, 0)

    @property
    def has_patch(self) -> bool:
        return bool(self.suggestion and self.suggestion.get("patch"))

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("opened_at", "updated_at", "closed_at"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


def _user(viewer: Any) -> User:
    return viewer.user() if hasattr(viewer, "user") else viewer


def may_read(viewer: Any, groups: Sequence[str] | None) -> bool:
    """Whether ``viewer`` (a ``User`` or an ``Account``) may read a source with ``groups``."""
    allowed = _user(viewer).access_groups()
    return allowed is None or bool((set(groups or ()) or {PUBLIC_GROUP}) & set(allowed))


class FindingsService:
    def __init__(self, db: Database, audit: AuditLog, store: VectorStore | Callable[[], VectorStore] | None = None,
                 weights: Weights | None = None, *, metrics: NullMetrics | None = None) -> None:
        self.db = db
        self.metrics = metrics or NullMetrics()
        self.audit = audit
        self._store = store
        self.weights = weights or Weights()

    @property
    def store(self) -> VectorStore | None:
        return self._store() if callable(self._store) else self._store  # type: ignore[return-value]

    # -- reading ---------------------------------------------------------------------------
    def list(self, viewer: Any, *, sources: Iterable[str] | None = None, statuses: Sequence[str] = ("open",),
             kinds: Sequence[str] | None = None, doc_ids: Iterable[str] | None = None) -> list[FindingView]:
        """Findings ``viewer`` may see, most severe first."""
        wanted_sources = set(sources) if sources is not None else None
        wanted_docs = set(doc_ids) if doc_ids is not None else None
        with self.db.session() as s:
            by_id = {r.id: r for r in s.scalars(select(SourceRow))}
            groups = {r.name: r.access_groups for r in by_id.values()}
            q = select(FindingRow).order_by(FindingRow.id)
            if statuses:
                q = q.where(FindingRow.status.in_(list(statuses)))
            if kinds:
                q = q.where(FindingRow.kind.in_(list(kinds)))
            out = []
            for f in s.scalars(q):
                src = by_id.get(f.source_id)
                if src is None or (wanted_sources is not None and src.name not in wanted_sources):
                    continue
                if wanted_docs is not None and f.doc_id not in wanted_docs:
                    continue
                if not may_read(viewer, src.access_groups):
                    continue  # the document is not theirs to read: the finding does not exist
                out.append(self._view(f, src.name, viewer, groups))
        out.sort(key=lambda v: (-v.severity, v.source, v.path, v.line or 0, v.id))
        return out

    def get(self, finding_id: int, viewer: Any) -> FindingView:
        with self.db.session() as s:
            f = s.get(FindingRow, finding_id)
            src = s.get(SourceRow, f.source_id) if f is not None else None
            if f is None or src is None or not may_read(viewer, src.access_groups):
                raise NotFoundError(f"no finding {finding_id}")
            groups = {r.name: r.access_groups for r in s.scalars(select(SourceRow))}
            return self._view(f, src.name, viewer, groups)

    def queue(self, account: Any, owner: str | None = None) -> list[FindingView]:
        """Open findings on documents ``account`` owns (or ``owner``'s, for admins)."""
        if owner is not None and not account.is_admin and owner.lower() not in account.handles():
            raise PermissionDeniedError("only admins can open another owner's queue")
        current = self._owners()
        out = []
        for v in self.list(account):
            who = current.get(v.doc_id, v.owner)
            if owner is not None and (who or "").lower() == owner.lower():
                out.append(v)
            elif owner is None and owner_matches(who, account):
                out.append(v)
        return out

    def counts_by_source(self) -> dict[str, dict[str, int]]:
        """Per source: how many documents carry open findings of each kind (the admin's table)."""
        with self.db.session() as s:
            names = {r.id: r.name for r in s.scalars(select(SourceRow))}
            docs: dict[tuple[str, str], set[str]] = defaultdict(set)
            for source_id, kind, doc_id in s.execute(select(FindingRow.source_id, FindingRow.kind, FindingRow.doc_id)
                                                     .where(FindingRow.status == "open")):
                if source_id in names:
                    docs[(names[source_id], kind)].add(doc_id)
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for (source, kind), ids in docs.items():
            out[source][kind] = len(ids)
        return dict(out)

    # -- actions ---------------------------------------------------------------------------
    def dismiss(self, finding_id: int, actor: Any, note: str) -> FindingView:
        """Not a problem: closed for good (the detector never reopens a dismissal)."""
        note = (note or "").strip()
        if not note:
            raise ConfigError("say why the finding is not a problem (a reason is required)")
        if len(note) > MAX_NOTE:
            raise ConfigError(f"reason too long: {len(note)} characters (at most {MAX_NOTE})")
        view = self.authorise(finding_id, actor)
        if view.status != "open":
            raise ConfigError(f"finding {finding_id} is {view.status}; only open findings can be dismissed")
        with self.db.session() as s:
            f = s.get(FindingRow, finding_id)
            f.status, f.dismissed_by, f.dismiss_note, f.dismissed_at = "dismissed", actor.name, note, utcnow()
            f.updated_at = utcnow()
        self._rescore([view.doc_id])
        self.audit.record(actor.name, "finding.dismissed", f"{view.source}:{view.path}",
                          {"finding_id": finding_id, "kind": view.kind, "reference": view.reference, "note": note})
        self.metrics.observe_owner_action("finding.dismissed")
        return self.get(finding_id, actor)

    def patch(self, finding_id: int, viewer: Any) -> tuple[str, str]:
        """(file name, unified diff) of the suggested fix, for those who may see it."""
        view = self.get(finding_id, viewer)
        if not view.has_patch:
            raise NotFoundError(f"finding {finding_id} has no patch to download")
        self.audit.record(_user(viewer).name, "finding.patch", f"{view.source}:{view.path}",
                          {"finding_id": finding_id, "suggestion": (view.suggestion or {}).get("with")})
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", view.path.rsplit("/", 1)[-1])[:100]  # a header-safe file name
        return f"finding-{finding_id}-{name}.patch", str(view.suggestion["patch"])  # type: ignore[index]

    def mark_fixed(self, finding_id: int, actor: Any, reindex: Callable[[str], Any]) -> FindingView:
        """Re-index the document's source now; the detector closes the finding if the fix
        took (the returned view says whether it did)."""
        view = self.authorise(finding_id, actor)
        result = reindex(view.source)
        status = getattr(result, "status", "ok")
        if status != "ok":
            raise ConfigError(f"re-indexing {view.source} failed ({getattr(result, 'error', status)}); "
                              "the finding is unchanged")
        after = self.get(finding_id, actor)
        self.audit.record(actor.name, "finding.fixed", f"{view.source}:{view.path}",
                          {"finding_id": finding_id, "kind": view.kind, "status": after.status})
        self.metrics.observe_owner_action("finding.fixed")
        return after

    # -- internals -------------------------------------------------------------------------
    def authorise(self, finding_id: int, actor: Any) -> FindingView:
        """The finding, if ``actor`` may act on it (its document's owner, or an admin)."""
        view = self.get(finding_id, actor)  # NotFound for those who may not read the document
        owner = self._owners([view.doc_id]).get(view.doc_id, view.owner)
        if not actor.is_admin and not owner_matches(owner, actor):
            raise PermissionDeniedError(f"{view.path} is owned by {owner or 'nobody'}; only its owner or an admin "
                                        "can act on its findings")
        return view

    def _owners(self, doc_ids: Iterable[str] | None = None) -> dict[str, str | None]:
        """The current owner of documents: an override first, then the document's own."""
        with self.db.session() as s:
            q = select(DocumentRow.doc_id, DocumentRow.owner)
            oq = select(DocOverrideRow)
            if doc_ids is not None:
                ids = list(doc_ids)
                q, oq = q.where(DocumentRow.doc_id.in_(ids)), oq.where(DocOverrideRow.doc_id.in_(ids))
            out: dict[str, str | None] = {d: o for d, o in s.execute(q)}
            for o in s.scalars(oq):
                if o.owner:
                    out[o.doc_id] = o.owner
        return out

    def _rescore(self, doc_ids: Sequence[str]) -> None:
        refresh_scores(self.db, self.store, doc_ids, self.weights)

    def _view(self, f: FindingRow, source: str, viewer: Any, groups: dict[str, Any]) -> FindingView:
        # a code source since removed counts as one nobody but an admin may read
        restricted = [n for n in code_sources_of(f) if not may_read(viewer, groups.get(n, ["\0removed"]))]
        evidence = dict(f.evidence or {})
        summary, suggestion, code_source = f.summary, f.suggestion, f.code_source
        if restricted:
            summary = evidence.get("public_summary") or f.summary
            kept = {k: v for k, v in evidence.items() if k in _DOC_KEYS}
            if f.kind == "age":
                changed = [c for c in evidence.get("code_changed") or () if c.get("source") not in restricted]
                kept["code_changed"] = changed
                kept["code_changed_count"] = len(changed)
            evidence = {**kept, "withheld": WITHHELD}
            suggestion = None
            code_source = None if f.code_source in restricted else f.code_source
        evidence.pop("public_summary", None)
        evidence.pop("target", None)
        return FindingView(f.id, f.kind, f.status, source, f.doc_id, f.path, f.reference, f.line, summary,
                           evidence, dict(suggestion) if suggestion else None, code_source, f.owner, f.opened_at,
                           f.updated_at, f.closed_at, f.reopened or 0, f.dismissed_by, f.dismiss_note,
                           bool(restricted))


def severity_counts(views: Iterable[FindingView]) -> Counter[str]:
    return Counter(v.kind for v in views)
