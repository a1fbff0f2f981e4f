"""The alert rules: what in the catalog counts as degraded, as ``Signal`` values.

The math (rates, the nearest-rank p95, the thumbs-down baseline check) is pure and unit
tested; the collectors read the interaction log, feedback, index runs and canary eval runs
for one point in time. A rule returns the signals firing *now*; ``assistant.ops.alerts``
turns them into deduplicated alert rows and resolves the open alerts a rule no longer
reports. Messages leave for a webhook outside the access model, so they carry counts,
rates, source and eval set names, never a question, a user, an error text or a path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from assistant.catalog.db import Database
from assistant.catalog.eval_schema import EvalRunRow
from assistant.catalog.schema import FeedbackRow, IndexRunRow, InteractionRow, SourceRow
from assistant.settings import AlertSettings

RULES = ("thumbs_down", "latency_p95", "error_rate", "fallback_rate", "index_failing", "index_stale", "canary_gate")
EVAL_CHANNEL = "eval"  # eval and canary runs answer through the same path: not users' traffic
# An interaction error starting with one of these is the user's input or an abandoned
# stream, not a failure of the system: it never counts towards the error rate.
_NOT_FAILURES = ("ConfigError", "PermissionDeniedError", "NotFoundError", "abandoned")


@dataclass(frozen=True)
class Signal:
    """A rule firing about one subject (a source, an eval set, a stage, or nothing: global)."""

    rule: str
    subject: str | None
    message: str
    observed: float | None = None
    threshold: float | None = None
    baseline: float | None = None
    window_hours: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.subject}" if self.subject else self.rule


# -- pure math -------------------------------------------------------------------------

def rate(part: int, whole: int) -> float | None:
    """``part / whole``, or None for an empty whole."""
    return part / whole if whole > 0 else None


def p95(values: Sequence[float]) -> float | None:
    """The nearest-rank 95th percentile (a value that occurred); None for no values."""
    return percentile(values, 0.95)


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True)
class ThumbsDown:
    """The thumbs-down rule's verdict and the numbers behind it."""

    fires: bool
    observed: float | None  # the window's rate
    baseline: float  # the trailing rate (0 when it had too few ratings)
    threshold: float  # baseline + margin


def thumbs_down_check(down: int, rated: int, base_down: int, base_rated: int, *, margin: float,
                      min_rated: int) -> ThumbsDown:
    """Fire when the window has ``min_rated`` ratings and its down rate is above the
    baseline's by more than ``margin``. A baseline with fewer than ``min_rated`` ratings
    counts as 0 (no history: the margin alone is the bound)."""
    observed = rate(down, rated)
    base = rate(base_down, base_rated) if base_rated >= min_rated else None
    baseline = base if base is not None else 0.0
    threshold = min(1.0, baseline + margin)
    fires = rated >= min_rated and observed is not None and observed > threshold + 1e-9
    return ThumbsDown(fires, observed, baseline, threshold)


def above(value: float | None, bound: float) -> bool:
    return value is not None and value > bound + 1e-12


def is_failure(error: str | None) -> bool:
    """An interaction error that is a generator or internal failure (not refused input)."""
    return bool(error) and not str(error).startswith(_NOT_FAILURES)


def is_fallback(fallback_reason: str | None) -> bool:
    """An answer the fallback generator gave because the model failed (not a policy composition)."""
    return bool(fallback_reason) and not str(fallback_reason).startswith("policy:")


# -- collectors --------------------------------------------------------------------------

def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def _hours(value: float) -> str:
    return f"{value:g} h"


def thumbs_down(db: Database, cfg: AlertSettings, now: datetime) -> list[Signal]:
    start = now - timedelta(hours=cfg.window_hours)
    base_start = start - timedelta(days=cfg.thumbs_down_baseline_days)

    def counts(lo: datetime, hi: datetime) -> tuple[int, int]:
        with db.session() as s:
            rows = s.execute(select(FeedbackRow.value, func.count()).where(
                FeedbackRow.created_at >= lo, FeedbackRow.created_at < hi).group_by(FeedbackRow.value)).all()
        by = {v: int(n) for v, n in rows}
        return by.get("down", 0), by.get("down", 0) + by.get("up", 0)

    down, rated = counts(start, now)
    base_down, base_rated = counts(base_start, start)
    v = thumbs_down_check(down, rated, base_down, base_rated, margin=cfg.thumbs_down_margin,
                          min_rated=cfg.thumbs_down_min_rated)
    if not v.fires:
        return []
    return [Signal("thumbs_down", None,
                   f"Thumbs-down rate {_pct(v.observed)} ({down} of {rated} rated answers in the last "
                   f"{_hours(cfg.window_hours)}) is above the {cfg.thumbs_down_baseline_days:g}-day baseline "
                   f"{_pct(v.baseline)} by more than {_pct(cfg.thumbs_down_margin)}.",
                   v.observed, v.threshold, v.baseline, cfg.window_hours,
                   {"down": down, "rated": rated, "baseline_down": base_down, "baseline_rated": base_rated})]


@dataclass(frozen=True)
class _Window:
    timings: list[dict[str, Any]]
    failures: int
    fallbacks: int
    total: int


def _interactions(db: Database, cfg: AlertSettings, now: datetime) -> _Window:
    start = now - timedelta(hours=cfg.window_hours)
    stmt = (select(InteractionRow.timings, InteractionRow.error, InteractionRow.fallback_reason)
            .where(InteractionRow.created_at >= start, InteractionRow.created_at <= now,
                   InteractionRow.channel != EVAL_CHANNEL))
    with db.session() as s:
        rows = s.execute(stmt).all()
    return _Window([dict(t or {}) for t, _, _ in rows], sum(is_failure(e) for _, e, _ in rows),
                   sum(is_fallback(f) for _, _, f in rows), len(rows))


def latency(db: Database, cfg: AlertSettings, now: datetime, window: _Window | None = None) -> list[Signal]:
    window = window or _interactions(db, cfg, now)
    if window.total < cfg.min_questions:
        return []
    out = []
    for stage, bound in {"total": cfg.latency_max_s, **cfg.stage_max_s}.items():
        values = [float(t[stage]) for t in window.timings if isinstance(t.get(stage), (int, float))]
        value = p95(values)
        if bound > 0 and len(values) >= cfg.min_questions and above(value, bound):
            out.append(Signal("latency_p95", stage,
                              f"p95 {stage} time {value:.2f} s over {len(values)} questions in the last "
                              f"{_hours(cfg.window_hours)} is above {bound:g} s.",
                              value, bound, None, cfg.window_hours, {"questions": len(values)}))
    return out


def _rate_rule(rule: str, what: str, part: int, window: _Window, bound: float, cfg: AlertSettings) -> list[Signal]:
    value = rate(part, window.total)
    if window.total < cfg.min_questions or not above(value, bound):
        return []
    return [Signal(rule, None, f"{what} {_pct(value)} ({part} of {window.total} questions in the last "
                               f"{_hours(cfg.window_hours)}) is above {_pct(bound)}.",
                   value, bound, None, cfg.window_hours, {"count": part, "questions": window.total})]


def error_rate(db: Database, cfg: AlertSettings, now: datetime, window: _Window | None = None) -> list[Signal]:
    window = window or _interactions(db, cfg, now)
    return _rate_rule("error_rate", "Generator/internal error rate", window.failures, window, cfg.error_rate_max, cfg)


def fallback_rate(db: Database, cfg: AlertSettings, now: datetime, window: _Window | None = None) -> list[Signal]:
    window = window or _interactions(db, cfg, now)
    return _rate_rule("fallback_rate", "Fallback rate", window.fallbacks, window, cfg.fallback_rate_max, cfg)


def _last_runs(db: Database) -> dict[int, IndexRunRow]:
    """Each source's latest finished (not running) index run."""
    latest = (select(IndexRunRow.source_id, func.max(IndexRunRow.id).label("id"))
              .where(IndexRunRow.status != "running").group_by(IndexRunRow.source_id).subquery())
    with db.session() as s:
        rows = s.scalars(select(IndexRunRow).join(latest, latest.c.id == IndexRunRow.id))
        return {r.source_id: r for r in rows if r.source_id is not None}


def _active_sources(db: Database) -> list[SourceRow]:
    with db.session() as s:
        return list(s.scalars(select(SourceRow).where(SourceRow.status == "active").order_by(SourceRow.name)))


def index_failing(db: Database, cfg: AlertSettings, now: datetime) -> list[Signal]:
    runs = _last_runs(db)
    out = []
    for src in _active_sources(db):
        run = runs.get(src.id)
        if run is None or run.status != "failed":
            continue
        when = run.finished_at or run.started_at
        # the run's error text can hold a clone URL with credentials or a path: not posted
        out.append(Signal("index_failing", src.name,
                          f"Source {src.name}: its last index run (#{run.id}, {when:%Y-%m-%d %H:%M} UTC) failed; "
                          f"`sourcewise source status` shows the error.",
                          None, None, None, None, {"run_id": run.id}))
    return out


def index_stale(db: Database, cfg: AlertSettings, now: datetime) -> list[Signal]:
    out = []
    for src in _active_sources(db):
        limit = cfg.index_max_age_by_source.get(src.name, cfg.index_max_age_hours)
        if not limit or limit <= 0:
            continue
        since = src.last_indexed_at or src.created_at
        age_h = (now - since).total_seconds() / 3600
        if age_h <= limit:
            continue
        last = (f"last indexed successfully {age_h:.1f} h ago" if src.last_indexed_at
                else f"never indexed successfully (added {age_h:.1f} h ago)")
        out.append(Signal("index_stale", src.name, f"Source {src.name}: {last}, over its limit of {limit:g} h.",
                          round(age_h, 3), float(limit), None, None,
                          {"last_indexed_at": src.last_indexed_at.isoformat() if src.last_indexed_at else None}))
    return out


def canary_gate(db: Database, cfg: AlertSettings, now: datetime) -> list[Signal]:
    """The latest finished canary run of each set: failed its gate -> a signal naming the metrics."""
    latest: dict[str, tuple[int, int | None, dict[str, Any]]] = {}  # set -> (run id, baseline id, gate)
    stmt = (select(EvalRunRow.id, EvalRunRow.set_name, EvalRunRow.settings, EvalRunRow.baseline_id, EvalRunRow.gate)
            .where(EvalRunRow.status == "done").order_by(EvalRunRow.id))
    with db.session() as s:
        for run_id, set_name, run_settings, baseline_id, gate in s.execute(stmt):
            if (run_settings or {}).get("canary"):
                latest[set_name] = (run_id, baseline_id, dict(gate or {}))
    out = []
    for set_name, (run_id, baseline_id, gate) in sorted(latest.items()):
        if not gate or gate.get("passed", True):
            continue
        failing = [r["metric"] for r in gate.get("rows", []) if r.get("status") == "fail"]
        out.append(Signal("canary_gate", set_name,
                          f"Canary eval of set {set_name} (run {run_id}) failed its gate against run "
                          f"{baseline_id}: {', '.join(failing) or 'metrics'} dropped.",
                          None, None, None, None,
                          {"run_id": run_id, "baseline_id": baseline_id, "failing_metrics": failing,
                           "failures": list(gate.get("failures", []))[:20]}))
    return out


Rule = Callable[[Database, AlertSettings, datetime], list[Signal]]
_BY_NAME: dict[str, Rule] = {
    "thumbs_down": thumbs_down, "latency_p95": latency, "error_rate": error_rate, "fallback_rate": fallback_rate,
    "index_failing": index_failing, "index_stale": index_stale, "canary_gate": canary_gate,
}


@dataclass
class Evaluation:
    """What one evaluation found: signals, the rules that ran, and those that broke."""

    signals: list[Signal] = field(default_factory=list)
    evaluated: set[str] = field(default_factory=set)
    broken: dict[str, str] = field(default_factory=dict)  # rule -> exception type (its alerts stay as they are)


def evaluate(db: Database, cfg: AlertSettings, now: datetime, rules: Iterable[str] | None = None) -> Evaluation:
    """Run ``rules`` (default all); a disabled rule counts as evaluated with nothing firing,
    so its open alerts resolve; a rule that raises is reported and its alerts kept."""
    import logging

    out = Evaluation()
    window: _Window | None = None
    for name in rules or RULES:
        out.evaluated.add(name)
        if name in cfg.disabled_rules:
            continue
        try:
            if name in ("latency_p95", "error_rate", "fallback_rate"):
                window = window or _interactions(db, cfg, now)
                out.signals += _BY_NAME[name](db, cfg, now, window)  # type: ignore[call-arg]
            else:
                out.signals += _BY_NAME[name](db, cfg, now)
        except Exception as exc:  # noqa: BLE001 - one broken rule must not stop the others
            logging.getLogger(__name__).exception("alert rule %s failed", name)
            out.broken[name] = type(exc).__name__
    return out
