"""Operational alerts (issue 18): a rule that fired about one subject, with its evidence.

An alert is a catalog row (DESIGN rule 10): it says which rule fired about what (``key``
= rule + subject, ``index_failing:payments``), the values that fired it (observed,
threshold, baseline, window), survives restarts, and resolves itself when the cause goes
away. ``open_key`` equals ``key`` while the alert is open and is NULL once resolved: its
unique constraint keeps one open row per key even when the server's scheduler and a
``sourcewise alerts check`` run at once (NULLs never collide). A key that fires again
after resolving opens a new row, so the history keeps each incident.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from assistant.catalog.schema import Base, UTCDateTime, utcnow


class AlertRow(Base):
    """One incident of one alert rule about one subject, and what was posted about it."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300))  # rule:subject
    open_key: Mapped[str | None] = mapped_column(String(300), unique=True)  # key while open, else NULL
    rule: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str | None] = mapped_column(String(250))  # a source or eval set name; None: global
    state: Mapped[str] = mapped_column(String(20), default="open")  # open | resolved
    observed: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    baseline: Mapped[float | None] = mapped_column(Float)
    window_hours: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # counts, failing metrics, ...
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # webhook delivery: each post (raised, reminder, resolved) is logged in ``notifications``
    raised_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    post_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # a process posting this alert now (until then no other process takes the post; a
    # process that dies mid-post leaves it to expire and the next check posts it)
    posting_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    post_error: Mapped[str | None] = mapped_column(Text)
    notifications: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    __table_args__ = (
        Index("ix_alerts_key", "key"),
        Index("ix_alerts_state", "state"),
    )
