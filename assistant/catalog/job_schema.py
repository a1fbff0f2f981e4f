"""Indexing jobs (issue 19): a queue in the catalog that any number of workers share.

A job is a row: what to do (``kind`` + ``params``, about one ``source``), who asked, its
state (queued -> running -> done | failed | cancelled) and, while running, which worker
holds it (``worker``, ``lease_id``) and when that worker last said it was alive
(``heartbeat_at``). A running job whose heartbeat is older than the lease is taken over
by another worker; ``lease_id`` changes on every claim, so a worker that lost its lease
can no longer write the job's progress or outcome (a fencing token).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from assistant.catalog.schema import Base, UTCDateTime, utcnow


class IndexJobRow(Base):
    """One requested indexing job (re-index, access change, removal, owner's 'mark fixed')."""

    __tablename__ = "index_jobs"
    __table_args__ = (Index("ix_index_jobs_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # index | access | remove | mark_fixed | finding_fixed
    label: Mapped[str] = mapped_column(String(40))  # what the pages show: re-index, access, mark fixed ...
    source: Mapped[str | None] = mapped_column(String(250), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requested_by: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    worker: Mapped[str | None] = mapped_column(String(200))
    lease_id: Mapped[str | None] = mapped_column(String(40))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"current": task, "tasks": {...}}
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
