"""Canary evals: an eval set run against the live index on a schedule, gated against the
last canary run of the same set that passed.

A model, prompt, settings or index change that makes answers worse shows up as a gate
failure, and ``assistant.ops.alerts`` turns the newest canary run's failed gate into the
alert ``canary_gate:<set>`` naming the metrics that dropped; the next passing run resolves
it. The first canary run of a set has nothing to compare with: it passes and becomes the
baseline. A run that failed is never a baseline, so a regression stays a regression until
it is fixed (or the failed run is discarded with ``sourcewise eval discard``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from assistant.catalog.db import Database
from assistant.catalog.eval_schema import EvalRunRow
from eval.gate import load_tolerances
from eval.runner import Progress, resolve_set, run_eval
from eval.store import DONE, EvalStore

LABEL = "canary"


def _canary_runs(db: Database, set_name: str | None = None) -> list[EvalRunRow]:
    """Finished canary runs, newest first (of ``set_name`` when given)."""
    stmt = select(EvalRunRow).where(EvalRunRow.status == DONE).order_by(EvalRunRow.id.desc())
    if set_name is not None:
        stmt = stmt.where(EvalRunRow.set_name == set_name)
    with db.session() as s:
        return [r for r in s.scalars(stmt) if (r.settings or {}).get(LABEL)]


def canary_baseline(db: Database, set_name: str) -> int | None:
    """The newest canary run of ``set_name`` that passed its gate (or had none: the first)."""
    for row in _canary_runs(db, set_name):
        if not row.gate or row.gate.get("passed", True):
            return row.id
    return None


def last_canary_at(db: Database, set_name: str) -> datetime | None:
    """When the newest canary run of ``set_name`` started (the scheduler's "is one due")."""
    runs = _canary_runs(db, set_name)
    return runs[0].created_at if runs else None


@dataclass(frozen=True)
class CanaryResult:
    run_id: int
    set_name: str
    baseline_id: int | None
    passed: bool
    failing_metrics: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.run_id, "set": self.set_name, "baseline_id": self.baseline_id, "passed": self.passed,
                "failing_metrics": list(self.failing_metrics), "failures": list(self.failures),
                "metrics": dict(self.metrics)}


def run_canary(container: Any, set_name: str | None = None, *, progress: Progress | None = None) -> CanaryResult:
    """Run the canary set (``alerts.canary_set`` unless named) with the live settings and
    index, gated against ``canary_baseline``; the run is stored, labelled a canary run."""
    cfg = container.settings.alerts
    eval_set = resolve_set(container, set_name or cfg.canary_set)
    tolerances = load_tolerances(cfg.canary_tolerances) if cfg.canary_tolerances else None
    baseline_id = canary_baseline(container.db, eval_set.name)
    run_id = run_eval(container, eval_set, baseline_id=baseline_id, tolerances=tolerances, progress=progress,
                      labels={LABEL: True})
    row = EvalStore(container.db).get(run_id)
    gate = row.gate or {}
    failing = [r["metric"] for r in gate.get("rows", []) if r.get("status") == "fail"]
    return CanaryResult(run_id, eval_set.name, baseline_id, bool(gate.get("passed", True)), failing,
                        list(gate.get("failures", [])), dict(row.metrics or {}))
