"""The indexing job queue in the catalog, shared by every worker and every door.

The admin pages, the owners' queue and ``sourcewise index --queue`` enqueue; workers
(``indexers.worker``: ``sourcewise worker`` processes, or one thread inside
``sourcewise serve``) claim, heartbeat with progress, and finish or fail. What makes it
safe with several workers on several machines:

- **Claim** selects the oldest eligible job ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
  two workers never wait on or take the same row. SQLite ignores the row lock; there
  the same code relies on SQLite's single writer: the claim is a conditional UPDATE
  (``WHERE id = ? AND lease_id IS ?``) whose row count says whether this worker won.
- **One job per source at a time**: a job is eligible only when no earlier job of the
  same source is still queued or running, so a re-index and a removal of one source
  never overlap and run in the order they were asked for.
- **Leases**: a running job whose heartbeat is older than ``lease_s`` is taken over. Every
  claim writes a new ``lease_id``; heartbeats and outcomes are conditional on it, so a
  worker that lost its lease (paused, partitioned) cannot overwrite its successor's
  work, and learns that it must stop. Clocks: workers compare their own UTC time with
  heartbeats other workers wrote, so keep machines on NTP (a lease of 60 s tolerates
  seconds of skew).
- **Attempts**: each claim counts; a job claimed ``max_attempts`` times without an outcome
  is failed with a message instead of being retried for ever.

Who may enqueue, see or cancel which job is decided by the callers (the admin pages and
the CLI are admin doors; the owners' pages check ownership before enqueueing and show a
person their own jobs only).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.orm import aliased

from assistant.catalog.db import Database
from assistant.catalog.job_schema import IndexJobRow
from assistant.catalog.schema import utcnow
from assistant.errors import ConfigError, NotFoundError

ACTIVE = ("queued", "running")
FINISHED = ("done", "failed", "cancelled")
LABELS = {"index": "re-index", "access": "access", "remove": "remove", "mark_fixed": "mark fixed",
          "finding_fixed": "mark fixed"}


@dataclass(frozen=True)
class JobView:
    """A job as the pages, the CLI and workers read it (a snapshot, never live)."""

    id: int
    kind: str
    label: str
    source: str | None
    params: dict[str, Any]
    requested_by: str
    state: str
    attempts: int
    max_attempts: int
    worker: str | None
    cancel_requested: bool
    tasks: dict[str, dict[str, int]]
    current: str | None
    report: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None
    lease_id: str | None = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def full(self) -> bool:
        return bool(self.params.get("full"))

    @property
    def percent(self) -> int:
        """Share of the current (or last) task done; 0 while scanning an unknown total."""
        if self.state == "done":
            return 100
        task = self.tasks.get(self.current or "") or (list(self.tasks.values())[-1] if self.tasks else None)
        if not task or not task.get("total"):
            return 0
        return min(100, int(100 * task.get("done", 0) / task["total"]))

    def as_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id, "kind": self.kind, "source": self.source, "label": self.label, "full": self.full,
            "requested_by": self.requested_by, "state": self.state, "current": self.current,
            "percent": self.percent, "tasks": {k: dict(v) for k, v in self.tasks.items()},
            "report": self.report, "error": self.error, "attempts": self.attempts, "worker": self.worker,
            "cancel_requested": self.cancel_requested, "created_at": iso(self.created_at),
            "started_at": iso(self.started_at), "heartbeat_at": iso(self.heartbeat_at),
            "finished_at": iso(self.finished_at),
        }


def _view(row: IndexJobRow) -> JobView:
    progress = row.progress or {}
    return JobView(
        id=row.id, kind=row.kind, label=row.label, source=row.source, params=dict(row.params or {}),
        requested_by=row.requested_by, state=row.state, attempts=row.attempts, max_attempts=row.max_attempts,
        worker=row.worker, cancel_requested=bool(row.cancel_requested),
        tasks={k: dict(v) for k, v in (progress.get("tasks") or {}).items()}, current=progress.get("current"),
        report=row.report, error=row.error, created_at=row.created_at, started_at=row.started_at,
        heartbeat_at=row.heartbeat_at, finished_at=row.finished_at, lease_id=row.lease_id)


class JobQueue:
    """Enqueue, claim, heartbeat, finish, cancel and list indexing jobs (see the module doc)."""

    def __init__(self, db: Database, *, max_attempts: int = 3) -> None:
        self.db = db
        self.max_attempts = max_attempts

    # -- doors: enqueue, read, cancel ---------------------------------------------
    def enqueue(self, kind: str, source: str | None, *, requested_by: str, params: dict[str, Any] | None = None,
                label: str | None = None, dedupe: bool = True) -> JobView:
        """Queue a job; an identical job (kind, source, params) still queued is returned instead."""
        params = dict(params or {})
        with self.db.session() as s:
            if dedupe:
                for row in s.scalars(select(IndexJobRow).where(
                        IndexJobRow.state == "queued", IndexJobRow.kind == kind,
                        IndexJobRow.source == source if source is not None else IndexJobRow.source.is_(None))):
                    if (row.params or {}) == params and not row.cancel_requested:
                        return _view(row)
            row = IndexJobRow(kind=kind, label=label or LABELS.get(kind, kind), source=source, params=params,
                              requested_by=requested_by, state="queued", attempts=0,
                              max_attempts=self.max_attempts, cancel_requested=False, progress={})
            s.add(row)
            s.flush()
            return _view(row)

    def get(self, job_id: int) -> JobView | None:
        with self.db.session() as s:
            row = s.get(IndexJobRow, job_id)
            return _view(row) if row else None

    def list(self, limit: int = 20, *, source: str | None = None, states: Iterable[str] | None = None,
             label: str | None = None) -> list[JobView]:
        """Newest first."""
        q = select(IndexJobRow).order_by(IndexJobRow.id.desc()).limit(limit)
        if source is not None:
            q = q.where(IndexJobRow.source == source)
        if states is not None:
            q = q.where(IndexJobRow.state.in_(list(states)))
        if label is not None:
            q = q.where(IndexJobRow.label == label)
        with self.db.session() as s:
            return [_view(r) for r in s.scalars(q)]

    def active_for(self, source: str) -> JobView | None:
        """The oldest queued or running job of a source (the one that runs next)."""
        with self.db.session() as s:
            row = s.scalar(select(IndexJobRow).where(IndexJobRow.source == source, IndexJobRow.state.in_(ACTIVE))
                           .order_by(IndexJobRow.id).limit(1))
            return _view(row) if row else None

    def cancel(self, job_id: int) -> JobView:
        """A queued job is cancelled at once; a running one is asked to stop (its worker
        stops at the next progress step and marks it cancelled)."""
        with self.db.session() as s:
            row = s.get(IndexJobRow, job_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no job {job_id}")
            if row.state in FINISHED:
                raise ConfigError(f"job {job_id} is already {row.state}")
            if row.state == "queued":
                row.state, row.finished_at, row.error = "cancelled", utcnow(), "cancelled before it started"
            else:
                row.cancel_requested = True
            s.flush()
            return _view(row)

    def prune(self, older_than: timedelta) -> int:
        """Delete finished jobs (done, failed, cancelled) that finished more than ``older_than``
        ago; queued and running ones are never touched. Returns how many went. Safe to run
        from several workers at once (a plain ``DELETE``)."""
        cutoff = utcnow() - older_than
        with self.db.session() as s:
            result = s.execute(delete(IndexJobRow).where(
                IndexJobRow.state.in_(FINISHED), IndexJobRow.finished_at.is_not(None),
                IndexJobRow.finished_at < cutoff))
            return int(result.rowcount or 0)

    def wait(self, job_id: int, timeout: float, poll_s: float = 0.1) -> JobView:
        """Poll until the job is finished or ``timeout`` passes; returns its last state."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.get(job_id)
            if view is None:
                raise NotFoundError(f"no job {job_id}")
            if not view.active or time.monotonic() >= deadline:
                return view
            time.sleep(poll_s)

    # -- workers: claim, heartbeat, outcome ------------------------------------------
    def claim(self, worker: str, lease_s: float, kinds: Iterable[str] | None = None) -> JobView | None:
        """Take the oldest eligible job (queued, or running with an expired lease) for ``worker``.

        A job that has used up its attempts is failed here rather than claimed again."""
        for _ in range(5):  # lost races (another worker won the row) are retried a few times
            with self.db.session() as s:
                now = utcnow()
                row = s.scalar(self._eligible(now - timedelta(seconds=lease_s), kinds))
                if row is None:
                    return None
                if row.attempts >= row.max_attempts:
                    gave_up = row.state == "running"
                    won = s.execute(update(IndexJobRow).where(
                        IndexJobRow.id == row.id, _same_lease(row.lease_id)).values(
                        state="failed", finished_at=now, lease_id=None,
                        error=(f"gave up after {row.attempts} attempts: its worker "
                               + ("stopped responding" if gave_up else "lost it") + " each time; "
                               "see the workers' logs, then enqueue it again"))).rowcount
                    continue
                lease = uuid.uuid4().hex
                won = s.execute(update(IndexJobRow).where(
                    IndexJobRow.id == row.id, _same_lease(row.lease_id),
                    IndexJobRow.state.in_(ACTIVE)).values(
                    state="running", worker=worker, lease_id=lease, attempts=row.attempts + 1,
                    heartbeat_at=now, started_at=row.started_at or now)).rowcount
                if won != 1:
                    continue
            return self.get(row.id)
        return None

    @staticmethod
    def _eligible(cutoff: datetime, kinds: Iterable[str] | None) -> Any:
        earlier = aliased(IndexJobRow)
        q = (select(IndexJobRow)
             .where(or_(IndexJobRow.state == "queued",
                        and_(IndexJobRow.state == "running", IndexJobRow.heartbeat_at < cutoff)))
             .where(~exists().where(earlier.source == IndexJobRow.source, earlier.id < IndexJobRow.id,
                                    earlier.state.in_(ACTIVE)))
             .order_by(IndexJobRow.id).limit(1)
             # PostgreSQL: lock the row, skip rows another worker is claiming. SQLite ignores
             # this; its single writer plus the conditional UPDATE in ``claim`` decide there.
             .with_for_update(skip_locked=True, of=IndexJobRow))
        if kinds is not None:
            q = q.where(IndexJobRow.kind.in_(list(kinds)))
        return q

    def heartbeat(self, job: JobView, progress: dict[str, Any] | None = None) -> str:
        """Say the job's worker is alive (and how far it got): ``ok``, ``cancel`` (someone
        asked it to stop) or ``lost`` (another worker holds it now, or it is finished)."""
        values: dict[str, Any] = {"heartbeat_at": utcnow()}
        if progress is not None:
            values["progress"] = progress
        with self.db.session() as s:
            won = s.execute(update(IndexJobRow).where(
                IndexJobRow.id == job.id, IndexJobRow.lease_id == job.lease_id,
                IndexJobRow.state == "running").values(**values)).rowcount
            if won != 1:
                return "lost"
            cancel = s.scalar(select(IndexJobRow.cancel_requested).where(IndexJobRow.id == job.id))
            return "cancel" if cancel else "ok"

    def finish(self, job: JobView, state: str = "done", *, error: str | None = None,
               report: dict[str, Any] | None = None, progress: dict[str, Any] | None = None) -> bool:
        """Record the outcome (``done``, ``failed`` or ``cancelled``); False when the lease was lost."""
        if state not in FINISHED:
            raise ValueError(f"not a finished state: {state}")
        values: dict[str, Any] = {"state": state, "error": error, "finished_at": utcnow(), "lease_id": None}
        if report is not None:
            values["report"] = report
        if progress is not None:
            values["progress"] = progress
        with self.db.session() as s:
            return bool(s.execute(update(IndexJobRow).where(
                IndexJobRow.id == job.id, IndexJobRow.lease_id == job.lease_id,
                IndexJobRow.state == "running").values(**values)).rowcount)

    def release(self, job: JobView, *, count_attempt: bool = False, error: str | None = None) -> bool:
        """Give a running job back to the queue (a worker stopping, or one that lost its
        database mid-job); a graceful stop does not count as an attempt."""
        values: dict[str, Any] = {"state": "queued", "worker": None, "lease_id": None, "heartbeat_at": None}
        if not count_attempt:
            values["attempts"] = IndexJobRow.attempts - 1
        if error is not None:
            values["error"] = error
        with self.db.session() as s:
            return bool(s.execute(update(IndexJobRow).where(
                IndexJobRow.id == job.id, IndexJobRow.lease_id == job.lease_id,
                IndexJobRow.state == "running").values(**values)).rowcount)


def _same_lease(lease_id: str | None) -> Any:
    return IndexJobRow.lease_id.is_(None) if lease_id is None else IndexJobRow.lease_id == lease_id
