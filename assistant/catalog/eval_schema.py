"""Eval runs and their per-case results, kept in the catalog next to the cases they score.

A run is written case by case (``eval_results``), so an interrupted run keeps what it
has and ``sourcewise eval run --resume ID`` continues it; a finished run carries its
aggregate metrics, breakdowns and gate verdict, so reports and the regression gate read
history from one table instead of scattered files. ``set_hash`` identifies the exact
cases a run scored: a resume against a changed set is refused rather than mixed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from assistant.catalog.schema import Base, UTCDateTime, utcnow


class EvalRunRow(Base):
    """One run of an eval set through retrieval and answering."""

    __tablename__ = "eval_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    set_name: Mapped[str] = mapped_column(String(200))
    set_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="running")  # running | done | discarded
    generator: Mapped[str] = mapped_column(String(40))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    baseline_id: Mapped[int | None] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    breakdown: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    gate: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    index_version: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_eval_runs_set_created", "set_name", "created_at"),)


class EvalResultRow(Base):
    """One case's outcome in one run (the ``CaseScore`` fields plus question and answer)."""

    __tablename__ = "eval_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"))
    case_id: Mapped[str] = mapped_column(String(200))
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("run_id", "case_id", name="uq_eval_results_run_case"),)
