"""The ``/admin/health`` report: load one window's rows from the catalog, run ``stats`` on them.

Admin-only data (question text included); the page and any other door check that the
caller is an admin before calling ``health_report``. It shares its settings with the
rest of issue 18: the price table of /metrics (``metrics.prices``), the index schedule of
the ``index_stale`` alert (``alerts.index_max_age_hours`` and its per-source overrides)
and the open alerts (``assistant.ops.alerts``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from assistant.catalog.db import Database
from assistant.catalog.schema import FeedbackRow, InteractionRow, SourceRow
from assistant.errors import ConfigError
from assistant.ops import stats

log = logging.getLogger("sourcewise.ops")

WINDOWS = (1, 7, 30)


@dataclass(frozen=True)
class HealthReport:
    days: int
    start: datetime
    end: datetime
    questions: int
    rates: dict[str, float | None]
    daily: list[stats.DayRates]
    latency: list[stats.Latency]
    usage: list[stats.ModelUsage]
    worst: list[stats.WorstQuestion]
    overdue: list[stats.OverdueSource]
    index_max_age_hours: float
    priced: bool  # a price table is configured


def check_window(days: Any) -> int:
    """The window in days: one of ``WINDOWS``, else a ``ConfigError`` (a 400 page) saying which."""
    try:
        value = int(str(days))
    except ValueError:
        value = -1
    if value not in WINDOWS:
        raise ConfigError(f"days must be one of {', '.join(map(str, WINDOWS))} (got {str(days)[:20]!r})")
    return value


def prices_of(settings: Any) -> Mapping[str, Any]:
    """The price table (``metrics.prices``: per million tokens per model, as /metrics uses)."""
    return settings.metrics.prices


def index_schedule(settings: Any) -> tuple[float, Mapping[str, float]]:
    """(default hours, per-source hours) a source may go without a successful index: the
    alert rule's own settings, so the page and the ``index_stale`` alert agree."""
    alerts = settings.alerts
    return float(alerts.index_max_age_hours), dict(alerts.index_max_age_by_source)


def open_alerts(db: Database) -> list[Any]:
    """The open alerts (``assistant.ops.alerts``); the dashboard still shows the rest when
    they cannot be read."""
    from assistant.ops.alerts import open_alerts as read_open

    try:
        return list(read_open(db))
    except Exception:  # noqa: BLE001 - the page shows everything else
        log.exception("could not read open alerts")
        return []


def window_rows(db: Database, start: datetime, end: datetime) -> tuple[list[InteractionRow], list[FeedbackRow]]:
    """The window's interactions (eval runs left out) and the feedback on them."""
    with db.session() as s:
        rows = list(s.scalars(select(InteractionRow)
                              .where(InteractionRow.created_at >= start, InteractionRow.created_at <= end,
                                     InteractionRow.channel != "eval")
                              .order_by(InteractionRow.id)))
        ids = [r.id for r in rows]
        feedback: list[FeedbackRow] = []
        for i in range(0, len(ids), 500):
            feedback += s.scalars(select(FeedbackRow).where(FeedbackRow.interaction_id.in_(ids[i:i + 500])))
        s.expunge_all()
    return rows, feedback


def health_report(db: Database, settings: Any, days: int = 7, now: datetime | None = None,
                  worst: int = 15) -> HealthReport:
    """Everything the dashboard shows for the ``days`` calendar days ending today (UTC)."""
    days = check_window(days)
    now = now or datetime.now(UTC)
    day_list = stats.window_days(now, days)
    start = datetime.combine(day_list[0], datetime.min.time(), UTC)
    rows, feedback = window_rows(db, start, now + timedelta(seconds=1))
    prices = prices_of(settings)
    max_age, overrides = index_schedule(settings)
    with db.session() as s:
        sources = list(s.scalars(select(SourceRow).order_by(SourceRow.name)))
        s.expunge_all()
    return HealthReport(
        days=days, start=start, end=now, questions=len(rows), rates=stats.rates(rows, feedback),
        daily=stats.daily_rates(rows, feedback, day_list), latency=stats.latencies(rows),
        usage=stats.usage(rows, prices), worst=stats.worst_questions(rows, feedback, worst),
        overdue=stats.overdue_sources(sources, now, max_age, overrides), index_max_age_hours=max_age,
        priced=bool(prices),
    )
