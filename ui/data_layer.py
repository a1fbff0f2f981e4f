"""Chainlit's data layer on the catalog: threads survive a restart, and only their owner sees them.

Chainlit calls its data layer without saying on whose behalf (its feedback endpoints
shipped without an ownership check), so every read and write here asks who is calling
(``ui.identity.current_caller`` for HTTP and socket requests, else the websocket
session's user) and refuses threads, steps, elements and feedback that belong to
someone else. Chainlit's users are the catalog's accounts: ``PersistedUser.id`` is the
account name. Native thumbs up/down end in ``FeedbackService.rate``/``withdraw`` on the
interaction whose id the answer step carries.

A stored answer is shown again only while its owner may still read every source it
drew on (``assistant.access.hidden_interactions``): after a source's groups narrow or it
is removed, resuming the thread shows a note instead of the answer, and its citation
elements are not served.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from chainlit.data.base import BaseDataLayer
from chainlit.data.utils import queue_until_user_message
from chainlit.types import (
    Feedback,
    PageInfo,
    PaginatedResponse,
    Pagination,
    ThreadDict,
    ThreadFilter,
)
from chainlit.user import PersistedUser, User
from fastapi import HTTPException
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from assistant.access import REDACTED_ANSWER, hidden_interactions
from assistant.catalog.chat_schema import ChatElementRow, ChatStepRow, ChatThreadRow
from assistant.catalog.schema import utcnow
from assistant.errors import PermissionDeniedError
from ui.chat_writer import ChatWriter, Write
from ui.identity import current_caller

if TYPE_CHECKING:
    from chainlit.element import Element, ElementDict
    from chainlit.step import StepDict

    from ui.runtime import UiRuntime

log = logging.getLogger("sourcewise.ui")

MAX_TEXT = 200_000  # characters of a step's input/output kept
MAX_ELEMENT = 1_000_000
MAX_ID = 64  # thread, step and element ids (Chainlit's are UUIDs); the columns' length
ELEMENT_URL = "/chat-element/{id}"
REFUSED = "that conversation belongs to someone else"


def _short(value: Any, limit: int) -> str | None:
    """A client-sent label cut to its column's length: PostgreSQL refuses a longer one (SQLite
    would keep it), so both keep the same prefix."""
    return None if value is None else str(value)[:limit]


def _id_ok(value: Any) -> bool:
    return value is not None and len(str(value)) <= MAX_ID


class RefusedError(PermissionDeniedError, HTTPException):
    """Someone else's thread, step, element or feedback: 403 when raised under a Chainlit endpoint."""

    def __init__(self, message: str = REFUSED) -> None:
        HTTPException.__init__(self, status_code=403, detail=message)
        Exception.__init__(self, message)

    def __str__(self) -> str:
        return str(self.detail)


def caller() -> str | None:
    """Who the data layer is working for: the request's signed-in user, else the socket session's."""
    who = current_caller()
    if who:
        return who
    try:
        from chainlit.context import context

        user = context.session.user
    except Exception:  # noqa: BLE001 - no Chainlit context: an HTTP call outside a session
        return None
    return user.identifier if user is not None else None


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else None


def _parse(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _clip(text: Any, limit: int = MAX_TEXT) -> str | None:
    if text is None:
        return None
    text = text if isinstance(text, str) else str(text)
    return text if len(text) <= limit else text[:limit] + f"\n... [{len(text) - limit:,} more characters]"


def _owns(row: ChatThreadRow | None, who: str | None) -> bool:
    """A thread is its owner's; an ownerless one (anonymous deployments) only an anonymous caller's."""
    return row is not None and (row.user_name or None) == (who or None)


def step_interaction(s: Session, step: ChatStepRow) -> int | None:
    """The interaction a step's thumbs rate: its own, else its answer's. Chainlit 2 puts the
    thumbs on the run (the ``on_message`` step), whose child assistant message carries the id."""
    if step.interaction_id is not None:
        return step.interaction_id
    return s.scalar(select(ChatStepRow.interaction_id)  # type: ignore[no-any-return]
                    .where(ChatStepRow.parent_id == step.id, ChatStepRow.thread_id == step.thread_id,
                           ChatStepRow.interaction_id.is_not(None))
                    .order_by(ChatStepRow.created_at.desc()).limit(1))


class CatalogDataLayer(BaseDataLayer):
    """Chainlit persistence in the catalog database (SQLite or PostgreSQL)."""

    def __init__(self, rt: UiRuntime | None = None) -> None:
        self._rt = rt

    @property
    def rt(self) -> UiRuntime:
        """The given runtime, else the installed one (read per call: Chainlit caches this object)."""
        if self._rt is not None:
            return self._rt
        from ui import runtime

        return runtime.current()

    @property
    def db(self) -> Any:
        return self.rt.container.db

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await run_in_threadpool(fn, *args)

    # -- users --------------------------------------------------------------------
    async def get_user(self, identifier: str) -> PersistedUser | None:
        account = await self._run(self.rt.users.get, identifier)
        if account is None or account.disabled:
            return None
        return PersistedUser(id=account.name, identifier=account.name, createdAt=_iso(utcnow()) or "",
                             display_name=account.display_name or account.name,
                             metadata={"groups": list(account.groups), "is_admin": account.is_admin})

    async def create_user(self, user: User) -> PersistedUser | None:
        """Accounts are made by sign-in (``ui.auth``); this only looks the account up."""
        return await self.get_user(user.identifier)

    # -- feedback -----------------------------------------------------------------
    async def upsert_feedback(self, feedback: Feedback) -> str:
        """Chainlit's thumbs on an answer -> ``FeedbackService.rate`` for its interaction."""
        return await self._run(self._upsert_feedback, feedback, caller())  # type: ignore[no-any-return]

    def _upsert_feedback(self, feedback: Feedback, who: str | None) -> str:
        self.flush()
        value = "up" if int(feedback.value) == 1 else "down"
        with self.db.session() as s:
            step = self._own_step(s, feedback.forId, who)
            iid, feedback_id = step_interaction(s, step), step.feedback_id or str(uuid.uuid4())
        if iid is not None:
            self.rt.feedback.rate(iid, self._user(who), value, None, feedback.comment)
        with self.db.session() as s:
            step = s.get(ChatStepRow, feedback.forId)
            if step is not None:
                step.feedback_id, step.feedback_value = feedback_id, int(feedback.value)
                step.feedback_comment = _clip(feedback.comment, 4000)
        return feedback_id

    async def delete_feedback(self, feedback_id: str) -> bool:
        return await self._run(self._delete_feedback, feedback_id, caller())  # type: ignore[no-any-return]

    def _delete_feedback(self, feedback_id: str, who: str | None) -> bool:
        self.flush()
        with self.db.session() as s:
            step = s.scalar(select(ChatStepRow).where(ChatStepRow.feedback_id == feedback_id))
            if step is None:
                return False
            if not _owns(s.get(ChatThreadRow, step.thread_id), who):
                raise RefusedError()
            iid = step_interaction(s, step)
            step.feedback_id = step.feedback_value = step.feedback_comment = None
        if iid is not None:
            self.rt.feedback.withdraw(iid, self._user(who))
        return True

    def _user(self, who: str | None) -> Any:
        account = self.rt.users.get(who) if who else None
        if account is None or account.disabled:
            raise RefusedError("sign in to rate answers")
        return account.user()

    def _own_step(self, s: Session, step_id: str, who: str | None) -> ChatStepRow:
        step = s.get(ChatStepRow, step_id)
        if step is None or not _owns(s.get(ChatThreadRow, step.thread_id), who):
            raise RefusedError()  # unknown and foreign look the same
        return step

    # -- threads ------------------------------------------------------------------
    async def get_thread_author(self, thread_id: str) -> str:
        if thread_id in self.writer.owners:
            return self.writer.owners[thread_id] or ""

        def author() -> str:
            with self.db.session() as s:
                row = s.get(ChatThreadRow, thread_id)
                return (row.user_name or "") if row else ""

        return await self._run(author)  # type: ignore[no-any-return]

    async def get_thread(self, thread_id: str) -> ThreadDict | None:
        """The thread with its steps and elements, or ``None`` when it is missing or not the caller's."""
        return await self._run(self._get_thread, thread_id, caller())  # type: ignore[no-any-return]

    def _get_thread(self, thread_id: str, who: str | None) -> ThreadDict | None:
        self.flush()
        with self.db.session() as s:
            row = s.get(ChatThreadRow, thread_id)
            if not _owns(row, who):
                if row is not None:
                    log.warning("refused thread %s to %r (owner %r)", thread_id, who, row.user_name)
                return None
            steps = s.scalars(select(ChatStepRow).where(ChatStepRow.thread_id == thread_id)
                              .order_by(ChatStepRow.created_at, ChatStepRow.start_at)).all()
            elements = s.scalars(select(ChatElementRow).where(ChatElementRow.thread_id == thread_id)
                                 .order_by(ChatElementRow.created_at)).all()
            hidden = self._hidden_steps(who, steps)
            return _thread_dict(row, [_step_dict(x, hidden=x.id in hidden) for x in steps],
                                [_element_dict(e) for e in elements if e.step_id not in hidden])

    def _hidden_steps(self, who: str | None, steps: Any) -> set[str]:
        """Ids of the answer steps whose answer drew on a source ``who`` may not read now."""
        by_interaction = {x.interaction_id: x.id for x in steps if x.interaction_id is not None}
        if not by_interaction:
            return set()
        hidden = hidden_interactions(self.db, self._reader(who), by_interaction)
        return {by_interaction[i] for i in hidden}

    def _reader(self, who: str | None) -> Any:
        """The retrieval identity of the caller (unknown or disabled: no groups, public only)."""
        from assistant.models import User

        account = self.rt.users.get(who) if who else None
        if account is None or account.disabled:
            return User(who or "anonymous")
        return account.user()

    def _element_hidden(self, s: Session, row: ChatElementRow, who: str | None) -> bool:
        step = s.get(ChatStepRow, row.step_id) if row.step_id else None
        return step is not None and bool(self._hidden_steps(who, [step]))

    async def delete_thread(self, thread_id: str) -> None:
        def drop() -> None:
            who = caller_now
            self.flush()
            with self.db.session() as s:
                row = s.get(ChatThreadRow, thread_id)
                if row is None:
                    return
                if not _owns(row, who):
                    raise RefusedError()
                s.execute(delete(ChatElementRow).where(ChatElementRow.thread_id == thread_id))
                s.execute(delete(ChatStepRow).where(ChatStepRow.thread_id == thread_id))
                s.delete(row)
            self.writer.forget_thread(thread_id)

        caller_now = caller()
        await self._run(drop)

    async def list_threads(self, pagination: Pagination, filters: ThreadFilter) -> PaginatedResponse[ThreadDict]:
        """The caller's own threads, newest first (a ``userId`` filter for anyone else finds nothing)."""
        return await self._run(self._list_threads, pagination, filters, caller())  # type: ignore[no-any-return]

    def _list_threads(self, pagination: Pagination, filters: ThreadFilter,
                      who: str | None) -> PaginatedResponse[ThreadDict]:
        empty = PaginatedResponse(pageInfo=PageInfo(hasNextPage=False, startCursor=None, endCursor=None), data=[])
        if not who or (filters.userId and filters.userId != who):
            return empty
        self.flush()
        with self.db.session() as s:
            q = select(ChatThreadRow).where(ChatThreadRow.user_name == who)
            if filters.search:
                q = q.where(ChatThreadRow.name.ilike(f"%{filters.search[:200]}%"))
            if filters.feedback is not None:
                q = q.where(ChatThreadRow.id.in_(select(ChatStepRow.thread_id).where(
                    ChatStepRow.feedback_value == int(filters.feedback))))
            if pagination.cursor:
                anchor = s.get(ChatThreadRow, pagination.cursor)
                if anchor is not None:
                    q = q.where(or_(ChatThreadRow.updated_at < anchor.updated_at,
                                    (ChatThreadRow.updated_at == anchor.updated_at) & (ChatThreadRow.id < anchor.id)))
            first = max(1, min(int(pagination.first or 20), 200))
            rows = s.scalars(q.order_by(ChatThreadRow.updated_at.desc(), ChatThreadRow.id.desc())
                             .limit(first + 1)).all()
            more = len(rows) > first
            data = [_thread_dict(r, [], []) for r in rows[:first]]
        return PaginatedResponse(pageInfo=PageInfo(hasNextPage=more, startCursor=data[0]["id"] if data else None,
                                                   endCursor=data[-1]["id"] if data else None), data=data)

    async def update_thread(self, thread_id: str, name: str | None = None, user_id: str | None = None,
                            metadata: dict | None = None, tags: list[str] | None = None) -> None:
        who = caller()
        if thread_id in self.writer.owners:  # known: checked and queued here, no thread hop
            self._update_thread(thread_id, name, user_id, metadata, tags, who)
        else:
            await self._run(self._update_thread, thread_id, name, user_id, metadata, tags, who)

    def _update_thread(self, thread_id: str, name: str | None, user_id: str | None, metadata: dict | None,
                       tags: list[str] | None, who: str | None) -> None:
        self._ensure_thread(thread_id, who, user_id)
        self._check_owner(thread_id, who)
        self.writer.submit(Write("thread", thread_id, partial(_apply_thread, name, metadata, tags)))

    def _ensure_thread(self, thread_id: str, who: str | None, user_id: str | None = None) -> None:
        """Create the thread for the caller if it is new (in its own transaction: Chainlit writes a
        new thread's first steps concurrently, and the loser of that race must not fail), and
        remember its owner, so later writes are checked without reading it again."""
        if thread_id in self.writer.owners:
            return
        if not _id_ok(thread_id):
            raise RefusedError()  # no thread has such an id; none may be made with it
        with self.db.session() as s:
            row = s.get(ChatThreadRow, thread_id)
            if row is not None:
                self.writer.remember_owner(thread_id, row.user_name or None)
                return
        if user_id and who and user_id != who:
            raise RefusedError()
        try:
            with self.db.session() as s:
                s.add(ChatThreadRow(id=thread_id, user_name=who or user_id, meta={}, tags=[]))
        except IntegrityError:
            pass  # created meanwhile; its owner decides
        with self.db.session() as s:
            row = s.get(ChatThreadRow, thread_id)
            if row is not None:
                self.writer.remember_owner(thread_id, row.user_name or None)

    def _check_owner(self, thread_id: str, who: str | None) -> None:
        """Refuse a write to a thread that is someone else's (owners are remembered per thread)."""
        if thread_id not in self.writer.owners or (self.writer.owners[thread_id] or None) != (who or None):
            raise RefusedError()

    @property
    def writer(self) -> ChatWriter:
        """The runtime's chat history writer (one per catalog)."""
        return self.rt.chat_writer

    def flush(self) -> None:
        """Wait for queued history writes, so a read sees them."""
        self.writer.flush()

    # -- steps --------------------------------------------------------------------
    @queue_until_user_message()
    async def create_step(self, step_dict: StepDict) -> None:
        await self._write_step_async(dict(step_dict))

    @queue_until_user_message()
    async def update_step(self, step_dict: StepDict) -> None:
        await self._write_step_async(dict(step_dict))

    async def _write_step_async(self, d: dict[str, Any]) -> None:
        who = caller()
        if d.get("threadId") in self.writer.owners:  # known: checked and queued here, no thread hop
            self._upsert_step(d, who)
        else:
            await self._run(self._upsert_step, d, who)

    def _upsert_step(self, d: dict[str, Any], who: str | None) -> None:
        thread_id = d.get("threadId")
        if not thread_id or not d.get("id"):
            return
        self._ensure_thread(thread_id, who)
        self._check_owner(thread_id, who)
        step_id = str(d["id"])
        if not _id_ok(step_id):
            raise RefusedError()
        earlier = self.writer.step_threads.get(step_id)
        if earlier is not None and earlier != thread_id:
            raise RefusedError()  # a step id cannot move to another thread
        self.writer.remember_step(step_id, thread_id)
        self.writer.submit(Write("step", step_id, partial(_apply_step, d, thread_id)))

    @queue_until_user_message()
    async def delete_step(self, step_id: str) -> None:
        def drop(who: str | None) -> None:
            self.flush()
            with self.db.session() as s:
                row = s.get(ChatStepRow, step_id)
                if row is None:
                    return
                if not _owns(s.get(ChatThreadRow, row.thread_id), who):
                    raise RefusedError()
                s.execute(delete(ChatElementRow).where(ChatElementRow.step_id == step_id))
                s.delete(row)

        await self._run(drop, caller())

    async def get_favorite_steps(self, user_id: str) -> list[StepDict]:
        return []

    # -- elements -----------------------------------------------------------------
    @queue_until_user_message()
    async def create_element(self, element: Element) -> None:
        who = caller()
        if element.thread_id in self.writer.owners:
            self._create_element(element, who)
        else:
            await self._run(self._create_element, element, who)

    def _create_element(self, element: Element, who: str | None) -> None:
        if not element.thread_id or not element.for_id:
            return
        self._ensure_thread(element.thread_id, who)
        self._check_owner(element.thread_id, who)
        if not _id_ok(element.id) or not _id_ok(element.for_id):
            raise RefusedError()
        content = element.content if isinstance(element.content, str) else None
        fields = {  # read now: the element object may change after this returns
            "step_id": element.for_id, "type": _short(element.type, 40), "name": element.name or "",
            "display": _short(element.display, 20), "mime": _short(element.mime, 200),
            "language": _short(getattr(element, "language", None), 40),
            "size": _short(getattr(element, "size", None), 20), "page": getattr(element, "page", None),
            "url": element.url,
            "content": _clip(content, MAX_ELEMENT) if content is not None else None,
            "props": dict(getattr(element, "props", None) or {}),
        }
        self.writer.submit(Write("element", element.id, partial(_apply_element, element.id, fields, element.thread_id)))

    async def get_element(self, thread_id: str, element_id: str) -> ElementDict | None:
        def read(who: str | None) -> ElementDict | None:
            self.flush()
            with self.db.session() as s:
                row = s.get(ChatElementRow, element_id)
                if row is None or row.thread_id != thread_id or not _owns(s.get(ChatThreadRow, thread_id), who):
                    return None
                if self._element_hidden(s, row, who):
                    return None
                return _element_dict(row)

        return await self._run(read, caller())  # type: ignore[no-any-return]

    def element_content(self, element_id: str, who: str | None) -> str | None:
        """A stored element's text for its thread's owner (served at ``ELEMENT_URL``)."""
        self.flush()
        with self.db.session() as s:
            row = s.get(ChatElementRow, element_id)
            if row is None or not _owns(s.get(ChatThreadRow, row.thread_id), who):
                return None
            if self._element_hidden(s, row, who):
                return None
            return row.content

    @queue_until_user_message()
    async def delete_element(self, element_id: str, thread_id: str | None = None) -> None:
        def drop(who: str | None) -> None:
            self.flush()
            with self.db.session() as s:
                row = s.get(ChatElementRow, element_id)
                if row is None or (thread_id and row.thread_id != thread_id):
                    return
                if not _owns(s.get(ChatThreadRow, row.thread_id), who):
                    raise RefusedError()
                s.delete(row)

        await self._run(drop, caller())

    async def build_debug_url(self) -> str:
        return ""

    async def close(self) -> None:
        await self._run(self.flush)


def _apply_thread(name: str | None, metadata: dict | None, tags: list[str] | None, s: Session,
                  row: ChatThreadRow | None) -> ChatThreadRow | None:
    """A queued ``update_thread`` (ownership was checked when it was queued)."""
    if row is None:
        return None  # deleted meanwhile
    if name is not None:
        row.name = name[:255]
    if metadata:
        merged = {k: v for k, v in (row.meta or {}).items() if metadata.get(k, 0) is not None}
        merged.update({k: v for k, v in metadata.items() if v is not None})
        row.meta = merged
        if name is None and isinstance(metadata.get("name"), str):
            row.name = metadata["name"][:255]
    if tags is not None:
        row.tags = [str(t) for t in tags]
    row.updated_at = utcnow()
    return row


def _apply_step(d: dict[str, Any], thread_id: str, s: Session, row: ChatStepRow | None) -> ChatStepRow | None:
    """A queued step create/update: fields that are set overwrite, metadata merges."""
    if row is None:
        row = ChatStepRow(id=d["id"], thread_id=thread_id, type=_short(d.get("type") or "run", 40), meta={},
                          created_at=_parse(d.get("createdAt")) or utcnow())
        s.add(row)
    elif row.thread_id != thread_id:
        log.warning("refused a write of step %s (thread %s) into thread %s", row.id, row.thread_id, thread_id)
        return row
    if d.get("type") and d["type"] != "run":
        row.type = _short(d["type"], 40)
    if d.get("parentId") is not None:
        row.parent_id = str(d["parentId"]) if _id_ok(d["parentId"]) else None  # longer: no such step
    if d.get("name") is not None:
        row.name = d["name"]
    if d.get("language") is not None:
        row.language = _short(d["language"], 40)
    for attr, key in (("input", "input"), ("output", "output")):
        if d.get(key) not in (None, ""):
            setattr(row, attr, _clip(d[key]))
    if d.get("showInput") is not None:
        row.show_input = str(d["showInput"])[:40]
    if d.get("isError") is not None:
        row.is_error = bool(d["isError"])
    row.start_at = _parse(d.get("start")) or row.start_at
    row.end_at = _parse(d.get("end")) or row.end_at
    meta = d.get("metadata")
    if isinstance(meta, dict) and meta:
        row.meta = {**(row.meta or {}), **meta}
        iid = meta.get("interaction_id")
        if isinstance(iid, int) and not isinstance(iid, bool):
            row.interaction_id = iid
    return row


def _apply_element(element_id: str, fields: dict[str, Any], thread_id: str, s: Session,
                   row: ChatElementRow | None) -> ChatElementRow | None:
    """A queued element write (its content is the citation text shown again after a restart)."""
    if row is None:
        row = ChatElementRow(id=element_id, thread_id=thread_id)
        s.add(row)
    elif row.thread_id != thread_id:
        log.warning("refused a write of element %s (thread %s) into thread %s", row.id, row.thread_id, thread_id)
        return row
    for attr, value in fields.items():
        setattr(row, attr, value)
    return row


def _thread_dict(row: ChatThreadRow, steps: list[Any], elements: list[Any]) -> ThreadDict:
    return ThreadDict(id=row.id, createdAt=_iso(row.updated_at or row.created_at) or "", name=row.name,
                      userId=row.user_name, userIdentifier=row.user_name, tags=list(row.tags or []),
                      metadata=dict(row.meta or {}), steps=steps, elements=elements)


def _step_dict(row: ChatStepRow, *, hidden: bool = False) -> dict[str, Any]:
    """A step as Chainlit reads it; ``hidden``: its answer drew on a source the reader may
    not read now, so the text and cited-source list are replaced by a note."""
    feedback = None
    if row.feedback_id is not None and row.feedback_value is not None:
        feedback = {"forId": row.id, "id": row.feedback_id, "value": row.feedback_value,
                    "comment": row.feedback_comment}
    show: Any = row.show_input
    if show in ("True", "False"):
        show = show == "True"
    meta = {k: v for k, v in (row.meta or {}).items() if not (hidden and k == "citations")}
    return {"id": row.id, "threadId": row.thread_id, "parentId": row.parent_id, "name": row.name or "",
            "type": row.type, "input": "" if hidden else row.input or "",
            "output": REDACTED_ANSWER if hidden else row.output or "", "metadata": meta, "createdAt": _iso(row.created_at), "start": _iso(row.start_at),
            "end": _iso(row.end_at), "isError": row.is_error, "showInput": show, "language": row.language,
            "feedback": feedback}


def _element_dict(row: ChatElementRow) -> dict[str, Any]:
    url = row.url or (ELEMENT_URL.format(id=row.id) if row.content is not None else None)
    return {"id": row.id, "threadId": row.thread_id, "type": row.type, "url": url, "chainlitKey": None,
            "objectKey": None, "name": row.name, "display": row.display, "size": row.size,
            "language": row.language, "page": row.page, "props": dict(row.props or {}), "forId": row.step_id,
            "mime": row.mime, "autoPlay": None, "playerConfig": None}
