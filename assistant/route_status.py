"""What an operator sees of the routes: each route, each step's circuit, recent failures.

The live circuits are in the serving process (``Router.status``, shown on
``/admin/settings``). ``sourcewise route status`` runs in another process, so it rebuilds
the circuits by replaying the route steps recorded in recent interaction rows through
the same breaker, on the rows' own timestamps: what a single server saw, from the record.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from assistant.catalog.db import Database
from assistant.catalog.schema import InteractionRow
from assistant.generation.circuit import CircuitBreaker
from assistant.settings import Settings


class _Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def configured_status(settings: Settings) -> list[dict[str, Any]]:
    """The routes as configured, every circuit closed (before any question was answered)."""
    cfg = settings.routing
    out = []
    for key, names in sorted(cfg.routes.items()):
        steps = []
        for name in names:
            ep = cfg.endpoints.get(name)
            kind = ep.kind if ep else "extractive"
            steps.append({"endpoint": name, "generator": kind, "model": ep.model if ep else None,
                          "state": "n/a" if kind == "extractive" else "closed", "recent": []})
        out.append({"route": key, "steps": steps})
    return out


def recorded_status(settings: Settings, db: Database, *, limit: int = 2000,
                    now: datetime | None = None) -> list[dict[str, Any]]:
    """``configured_status`` with each circuit replayed from the last ``limit`` routed answers."""
    cfg = settings.routing
    clock = _Clock()
    breakers = {name: CircuitBreaker(cfg.failure_threshold, cfg.failure_window_s, cfg.cooldown_s, clock=clock)
                for name, ep in cfg.endpoints.items() if ep.kind != "extractive"}
    with db.session() as s:
        rows = list(s.execute(select(InteractionRow.created_at, InteractionRow.timings)
                              .order_by(InteractionRow.id.desc()).limit(limit)))
    for created_at, timings in reversed(rows):
        route = (timings or {}).get("route") if isinstance(timings, dict) else None
        if not isinstance(route, dict):
            continue
        clock.now = _epoch(created_at)
        for step in route.get("steps") or []:
            breaker = breakers.get(str(step.get("endpoint")))
            if breaker is None:
                continue
            if step.get("outcome") == "failed":
                breaker.failure(str(step.get("reason") or "error"))
            elif step.get("outcome") == "answered":
                breaker.success()
    clock.now = _epoch(now or datetime.now(UTC))
    out = configured_status(settings)
    for route in out:
        for step in route["steps"]:
            breaker = breakers.get(step["endpoint"])
            if breaker is not None:
                snap = breaker.snapshot()
                if snap["state"] == "open" and snap["retry_in_s"] == 0:
                    snap["state"] = "half-open"  # the next question probes it
                step.update(snap)
    return out


def _epoch(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
