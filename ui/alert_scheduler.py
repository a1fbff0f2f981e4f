"""The server's alert scheduler, composed: ``AlertService`` over the app's container, and
the canary eval (``eval.canary``) as its slow job when ``alerts.canary_interval_hours`` is
set. Lives in ``ui`` because ``assistant`` never imports ``eval``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from assistant.ops.alerts import AlertScheduler, AlertService

log = logging.getLogger(__name__)


def alert_scheduler(container: Any, *, clock: Any = None) -> AlertScheduler | None:
    """The scheduler ``sourcewise serve`` starts, or None when ``alerts.enabled`` is off."""
    cfg = container.settings.alerts
    if not cfg.enabled:
        return None
    clock = clock or (lambda: datetime.now(UTC))
    service = AlertService(container.db, container.settings, audit=container.audit, clock=clock)
    canary = due = None
    if cfg.canary_interval_hours > 0:
        from eval.canary import last_canary_at, run_canary

        every = timedelta(hours=cfg.canary_interval_hours)
        started: list[datetime] = []  # this process's last start: a run that crashed is not retried every tick

        def due(now: datetime) -> bool:
            last = max([t for t in (last_canary_at(container.db, cfg.canary_set), *started[-1:]) if t],
                       default=None)
            return last is None or now - last >= every

        def canary() -> None:
            started.append(clock())
            result = run_canary(container)
            log.info("canary eval run %s of set %s: %s", result.run_id, result.set_name,
                     "passed" if result.passed else f"failed ({', '.join(result.failing_metrics)})")

    return AlertScheduler(service, interval_s=cfg.interval_s, canary=canary, canary_due=due, clock=clock)
