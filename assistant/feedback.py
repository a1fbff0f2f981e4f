"""Feedback on answers and flags on sources: the raw material of the eval set and the
owners' queue.

Only the person who asked (or an admin) may rate an answer or flag one of its sources:
Chainlit's own feedback endpoints lacked that check in 2026, so it lives here, under
every entry point (chat, API, CLI).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select

from assistant.audit import AuditLog
from assistant.catalog.db import Database
from assistant.catalog.schema import (
    DocOverrideRow,
    DocumentRow,
    EvalCaseRow,
    FeedbackRow,
    FlagRow,
    InteractionRow,
    SourceRow,
    utcnow,
)
from assistant.errors import ConfigError, NotFoundError, PermissionDeniedError
from assistant.metrics import NullMetrics
from assistant.models import User, split_doc_id
from assistant.notify import Notifier

REASONS = ("wrong_answer", "wrong_source", "outdated_source", "missing_source", "other")
FLAG_KINDS = ("outdated", "wrong")
MAX_COMMENT = 4000
_LINES = re.compile(r"#L(\d+)(?:-L(\d+))?$")
_COMMIT = re.compile(r"@([^:]+):")


@dataclass(frozen=True)
class ReviewItem:
    """A thumbs-down (or up) or a flag, with the interaction it came from."""

    kind: Literal["feedback", "flag"]
    id: int
    created_at: datetime
    user: str
    label: str  # "down"/"up" or the flag kind
    reason: str | None
    comment: str | None
    status: str
    interaction_id: int | None
    question: str | None
    answer: str | None
    retrieved: tuple[dict[str, Any], ...]
    cited: tuple[int, ...]
    path: str | None = None


def _comment(text: str | None) -> str | None:
    text = (text or "").strip()
    if len(text) > MAX_COMMENT:
        raise ConfigError(f"comment too long: {len(text)} characters (at most {MAX_COMMENT})")
    return text or None


def _mine(s: Any, interaction_id: int, user: User) -> FeedbackRow | None:
    """``user``'s own feedback row on an answer (one per user and answer)."""
    return s.scalar(select(FeedbackRow).where(FeedbackRow.interaction_id == interaction_id,
                                              FeedbackRow.user_name == user.name))


def _own(row: InteractionRow | None, interaction_id: int, user: User) -> InteractionRow:
    if row is None:
        raise NotFoundError(f"no answer with id {interaction_id}")
    if not user.is_admin and row.user_name != user.name:
        raise PermissionDeniedError("that answer belongs to someone else")
    return row


class FeedbackService:
    def __init__(self, db: Database, audit: AuditLog, notifier: Notifier | None = None, *,
                 metrics: NullMetrics | None = None) -> None:
        self.db = db
        self.audit = audit
        self.notifier = notifier
        self.metrics = metrics or NullMetrics()

    def interaction(self, interaction_id: int, user: User) -> InteractionRow:
        """The interaction, if ``user`` may see it."""
        with self.db.session() as s:
            return _own(s.get(InteractionRow, interaction_id), interaction_id, user)

    # -- thumbs ------------------------------------------------------------------
    def rate(self, interaction_id: int, user: User, value: str, reason: str | None = None,
             comment: str | None = None) -> int:
        """Record (or replace) ``user``'s thumbs on one answer; returns the feedback id."""
        if value not in ("up", "down"):
            raise ConfigError(f"feedback is 'up' or 'down', not {value!r}")
        if reason is not None and reason not in REASONS:
            raise ConfigError(f"unknown reason {reason!r}; one of: {', '.join(REASONS)}")
        note = _comment(comment)

        def write(s: Any) -> int:
            _own(s.get(InteractionRow, interaction_id), interaction_id, user)
            row = _mine(s, interaction_id, user)
            if row is None:
                row = FeedbackRow(interaction_id=interaction_id, user_name=user.name, value=value)
                s.add(row)
            row.value, row.reason, row.comment = value, reason if value == "down" else None, note
            row.created_at = utcnow()
            s.flush()
            return row.id

        feedback_id = self.db.write_retrying(write)  # a double-clicked thumb: one row, no error
        self.metrics.observe_feedback(value)
        return feedback_id

    def feedback_for(self, interaction_id: int, user: User) -> FeedbackRow | None:
        with self.db.session() as s:
            _own(s.get(InteractionRow, interaction_id), interaction_id, user)
            return _mine(s, interaction_id, user)

    def withdraw(self, interaction_id: int, user: User) -> bool:
        """Remove ``user``'s thumbs on an answer (the chat's "undo")."""
        with self.db.session() as s:
            _own(s.get(InteractionRow, interaction_id), interaction_id, user)
            row = _mine(s, interaction_id, user)
            if row is None:
                return False
            s.delete(row)
            return True

    # -- flags -------------------------------------------------------------------
    def flag(self, interaction_id: int, citation_n: int, user: User, kind: str,
             comment: str | None = None) -> int:
        """Flag source ``[citation_n]`` of an answer as outdated or wrong; its owner is notified."""
        if kind not in FLAG_KINDS:
            raise ConfigError(f"a flag is one of {', '.join(FLAG_KINDS)}, not {kind!r}")
        note = _comment(comment)
        with self.db.session() as s:
            inter = _own(s.get(InteractionRow, interaction_id), interaction_id, user)
            passage = next((p for p in inter.retrieved or () if p.get("n") == citation_n), None)
            if passage is None:
                raise NotFoundError(f"that answer has no source [{citation_n}]")
            cite = next((c.get("citation", "") for c in inter.citations or () if c.get("n") == citation_n), "")
            lines = _LINES.search(cite or "")
            commit = _COMMIT.search(cite or "")
        return self._flag(passage["doc_id"], passage.get("path"), user.name, kind, note, origin="user",
                          interaction_id=interaction_id, citation_n=citation_n,
                          start=int(lines.group(1)) if lines else None,
                          end=int(lines.group(2) or lines.group(1)) if lines else None,
                          commit=commit.group(1) if commit else None)

    def report_document(self, source: str, path: str, user: User, comment: str | None,
                        kind: str = "outdated") -> int:
        """Flag a document named by source and path (no answer behind it) for its owner, as
        ``user``: the MCP tool ``report_outdated``. A document the catalog lacks and one in a
        source ``user`` may not read get the same ``NotFoundError``, so a report cannot probe."""
        from assistant.access import can_read_source

        if kind not in FLAG_KINDS:
            raise ConfigError(f"a flag is one of {', '.join(FLAG_KINDS)}, not {kind!r}")
        note = _comment(comment)
        doc_id = f"{source}:{path}"
        with self.db.session() as s:
            found = s.scalar(select(DocumentRow.id).where(DocumentRow.doc_id == doc_id)) is not None
        if not found or not can_read_source(self.db, source, user):
            raise NotFoundError(f"no indexed document {path!r} in a source {source!r} you can read "
                                "(list_sources and search_code show what you can read)")
        return self._flag(doc_id, path, user.name, kind, note, origin="user")

    def flag_document(self, doc_id: str, actor: str, kind: str, comment: str | None,
                      origin: str = "finding") -> int:
        """A flag with no answer behind it (an automatic finding, an admin's note)."""
        return self._flag(doc_id, None, actor, kind, _comment(comment), origin=origin)

    def _flag(self, doc_id: str, path: str | None, actor: str, kind: str, comment: str | None, *,
              origin: str, interaction_id: int | None = None, citation_n: int | None = None,
              start: int | None = None, end: int | None = None, commit: str | None = None) -> int:
        with self.db.session() as s:
            doc = s.scalar(select(DocumentRow).where(DocumentRow.doc_id == doc_id))
            source = s.get(SourceRow, doc.source_id) if doc else None
            override = s.get(DocOverrideRow, doc_id)
            owner = (override.owner if override and override.owner else None) or (doc.owner if doc else None)
            row = FlagRow(doc_id=doc_id, source_name=source.name if source else (split_doc_id(doc_id)[0] or doc_id),
                          path=path or (doc.path if doc else doc_id), start_line=start, end_line=end,
                          commit=commit or (doc.version if doc else None), interaction_id=interaction_id,
                          citation_n=citation_n, kind=kind, origin=origin, user_name=actor,
                          comment=comment, owner=owner)
            s.add(row)
            s.flush()
            flag_id, label = row.id, f"{row.source_name}:{row.path}"
        self.audit.record(actor, "flag.create", label, {"flag_id": flag_id, "kind": kind, "owner": owner})
        if origin == "user":  # automatic flags (findings) are not feedback
            self.metrics.observe_feedback("flag")
        if self.notifier is not None:
            text = f"{label} was flagged as {kind} by {actor}" + (f": {comment}" if comment else "")
            self.notifier.flag_raised(owner, flag_id, text)
        return flag_id

    # -- review and promotion ------------------------------------------------------
    def review(self, limit: int = 100, *, include_up: bool = False, pending: bool = False) -> list[ReviewItem]:
        """Thumbs-down (and thumbs-up when asked) and user flags, newest first, for the admin.

        ``pending``: only those not yet promoted to an eval case.
        """
        with self.db.session() as s:
            fq = select(FeedbackRow).order_by(FeedbackRow.id.desc()).limit(limit)
            if not include_up:
                fq = fq.where(FeedbackRow.value == "down")
            if pending:
                fq = fq.where(FeedbackRow.status == "new")
            flq = select(FlagRow).where(FlagRow.origin == "user").order_by(FlagRow.id.desc()).limit(limit)
            if pending:
                promoted = select(EvalCaseRow.flag_id).where(EvalCaseRow.flag_id.is_not(None))
                flq = flq.where(FlagRow.id.not_in(promoted))
            items: list[ReviewItem] = []
            for f in s.scalars(fq):
                items.append(_item(s, "feedback", f.id, f.created_at, f.user_name, f.value, f.reason,
                                   f.comment, f.status, f.interaction_id, None))
            for fl in s.scalars(flq):
                items.append(_item(s, "flag", fl.id, fl.created_at, fl.user_name, fl.kind, None,
                                   fl.comment, fl.status, fl.interaction_id, fl.path))
        items.sort(key=lambda i: i.created_at, reverse=True)
        return items[:limit]

    def promote(self, kind: str, item_id: int, gold: Sequence[dict[str, Any]], actor: User | Any, *,
                set_name: str = "feedback", must_include: Sequence[str] = (),
                tags: Sequence[str] = ()) -> int:
        """Turn a feedback row or flag into an eval case with the gold sources an admin picked."""
        actor_name = getattr(actor, "name", str(actor))
        gold = [_gold(g) for g in gold]
        if not gold:
            raise ConfigError("pick at least one gold source (a path) for the eval case")
        if not set_name.strip():
            raise ConfigError("an eval case needs a set name")
        with self.db.session() as s:
            model = FeedbackRow if kind == "feedback" else FlagRow if kind == "flag" else None
            if model is None:
                raise ConfigError(f"promote 'feedback' or 'flag', not {kind!r}")
            item = s.get(model, item_id)
            if item is None:
                raise NotFoundError(f"no {kind} with id {item_id}")
            inter = s.get(InteractionRow, item.interaction_id) if item.interaction_id else None
            if inter is None:
                raise ConfigError(f"{kind} {item_id} has no question behind it to turn into a case")
            origin_tag = f"{kind}:{item.value if kind == 'feedback' else item.kind}"
            case = EvalCaseRow(
                set_name=set_name.strip(), question=inter.question, conversation=list(inter.history or []),
                gold=gold, must_include=[m for m in must_include if m.strip()],
                tags=sorted({*tags, origin_tag}), origin="feedback", interaction_id=inter.id,
                feedback_id=item_id if kind == "feedback" else None,
                flag_id=item_id if kind == "flag" else None, created_by=actor_name)
            s.add(case)
            if kind == "feedback":
                item.status = "promoted"
            s.flush()
            case_id = case.id
        self.audit.record(actor_name, "eval.promote", f"{kind}:{item_id}",
                          {"case_id": case_id, "set": set_name, "gold": gold})
        self.metrics.observe_promotion(kind)
        return case_id

    def cited_sources(self, interaction_id: int) -> list[dict[str, Any]]:
        """The sources an answer cited, as gold candidates (a thumbs-up's regression case)."""
        with self.db.session() as s:
            inter = s.get(InteractionRow, interaction_id)
            if inter is None:
                raise NotFoundError(f"no answer with id {interaction_id}")
            cited = {c.get("n") for c in inter.citations or ()}
            return [{"doc_id": p["doc_id"], "path": p.get("path")} for p in inter.retrieved or ()
                    if p.get("n") in cited]


def _gold(g: dict[str, Any]) -> dict[str, Any]:
    path = str(g.get("path") or "").strip()
    if not path:
        raise ConfigError("every gold source needs a path")
    out: dict[str, Any] = {"path": path}
    for key in ("source", "symbol"):
        if g.get(key):
            out[key] = str(g[key])
    for key in ("start_line", "end_line"):
        if g.get(key) not in (None, ""):
            out[key] = int(g[key])
    return out


def _item(s: Any, kind: Literal["feedback", "flag"], item_id: int, at: datetime, user: str, label: str,
          reason: str | None, comment: str | None, status: str, interaction_id: int | None,
          path: str | None) -> ReviewItem:
    inter = s.get(InteractionRow, interaction_id) if interaction_id else None
    return ReviewItem(kind, item_id, at, user, label, reason, comment, status, interaction_id,
                      inter.question if inter else None, inter.answer if inter else None,
                      tuple(inter.retrieved or ()) if inter else (),
                      tuple(c.get("n") for c in (inter.citations or ())) if inter else (), path)
