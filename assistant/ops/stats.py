"""Window statistics over interaction and feedback rows: pure functions, no I/O.

The dashboard (``/admin/health``) and the alert rules read the same numbers, so they are
computed here from plain rows (anything with the ``InteractionRow`` attributes) and are
unit-tested on rows a test builds. Loading the rows is ``assistant.ops.health``'s job.

What each rate counts:

- thumbs-down rate: of the window's answers someone rated, the share with a thumbs-down;
- unsupported rate: of the answers, those whose citations did not check out (``supported`` false);
- stale-citation rate: of the answers, those that carried the "check before relying on it"
  note the Answerer appends when a cited document is stale, deprecated or too old;
- cache hit rate: of all questions, those answered from the answer cache (``cached``).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from assistant.metrics import cost
from assistant.settings import ModelPrice

# The Answerer (assistant.answer._finish) appends this line before its stale-source notes.
STALE_MARKER = "Check before relying on it:"
# (dashboard name, key in the interaction row's ``timings``)
STAGES: tuple[tuple[str, str], ...] = (
    ("embed", "retrieve.embed"), ("retrieve", "retrieve"), ("generate", "generate"),
    ("validate", "validate"), ("total", "total"),
)


@dataclass(frozen=True)
class Latency:
    stage: str
    count: int
    p50: float | None
    p95: float | None


@dataclass(frozen=True)
class DayRates:
    day: date
    questions: int
    thumbs_down: float | None
    unsupported: float | None
    stale: float | None
    cache_hits: float | None


@dataclass(frozen=True)
class ModelUsage:
    day: date
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost: float | None  # None: no price for this model


@dataclass(frozen=True)
class WorstQuestion:
    interaction_id: int
    created_at: datetime
    question: str
    downs: int
    ups: int
    reasons: tuple[str, ...]
    supported: bool | None


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def window_days(end: datetime, days: int) -> list[date]:
    """The ``days`` calendar days (UTC) ending with ``end``'s, oldest first."""
    last = _aware(end).astimezone(UTC).date()
    return [last - timedelta(days=i) for i in range(days - 1, -1, -1)]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation; ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def answered(row: Any) -> bool:
    """An answer was produced (not refused, failed or abandoned)."""
    return row.answer is not None


def is_stale(row: Any) -> bool:
    return answered(row) and STALE_MARKER in (row.answer or "")


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def votes(feedback: Iterable[Any]) -> dict[int, Counter[str]]:
    """Interaction id -> Counter of ``up``/``down`` votes."""
    out: dict[int, Counter[str]] = defaultdict(Counter)
    for f in feedback:
        out[f.interaction_id][f.value] += 1
    return out


def rates(rows: Sequence[Any], feedback: Iterable[Any]) -> dict[str, float | None]:
    """The four window rates (see the module docstring); ``None`` where nothing was counted."""
    by = votes(feedback)
    ids = {r.id for r in rows}
    rated = [c for i, c in by.items() if i in ids and (c["up"] or c["down"])]
    answers = [r for r in rows if answered(r)]
    return {
        "thumbs_down": _share(sum(1 for c in rated if c["down"]), len(rated)),
        "unsupported": _share(sum(1 for r in answers if r.supported is False), len(answers)),
        "stale": _share(sum(1 for r in answers if is_stale(r)), len(answers)),
        "cache_hits": _share(sum(1 for r in rows if r.cached), len(rows)),
    }


def by_day(rows: Iterable[Any]) -> dict[date, list[Any]]:
    out: dict[date, list[Any]] = defaultdict(list)
    for r in rows:
        out[_aware(r.created_at).astimezone(UTC).date()].append(r)
    return out


def daily_rates(rows: Sequence[Any], feedback: Sequence[Any], days: Sequence[date]) -> list[DayRates]:
    """Questions and the four rates per day, one entry per day of the window (zeros included)."""
    grouped = by_day(rows)
    out = []
    for d in days:
        day_rows = grouped.get(d, [])
        r = rates(day_rows, feedback)
        out.append(DayRates(d, len(day_rows), r["thumbs_down"], r["unsupported"], r["stale"], r["cache_hits"]))
    return out


def latencies(rows: Iterable[Any], stages: Sequence[tuple[str, str]] = STAGES) -> list[Latency]:
    """p50/p95 seconds per stage over the rows that timed it (cached answers skip most stages)."""
    samples: dict[str, list[float]] = {name: [] for name, _ in stages}
    for r in rows:
        timings = r.timings or {}
        for name, key in stages:
            value = timings.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                samples[name].append(float(value))
    return [Latency(name, len(v), percentile(v, 50), percentile(v, 95)) for name, v in samples.items()]


def usage(rows: Iterable[Any], prices: Mapping[str, ModelPrice] | None = None) -> list[ModelUsage]:
    """Prompt/completion tokens (and cost where priced) per day and model; rows without
    tokens (extractive, cached) are left out. Cost is ``assistant.metrics.cost``, the same
    arithmetic /metrics uses; ``None`` for an unpriced model (shown as tokens only, never as free)."""
    sums: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        tokens = r.tokens or {}
        prompt, completion = tokens.get("prompt"), tokens.get("completion")
        if not isinstance(prompt, int) and not isinstance(completion, int):
            continue
        key = (_aware(r.created_at).astimezone(UTC).date(), r.model or r.generator or "?")
        sums[key][0] += prompt if isinstance(prompt, int) else 0
        sums[key][1] += completion if isinstance(completion, int) else 0
    return [ModelUsage(d, m, p, c, cost(prices or {}, m, p, c)) for (d, m), (p, c) in sorted(sums.items())]


def worst_questions(rows: Sequence[Any], feedback: Sequence[Any], limit: int = 10) -> list[WorstQuestion]:
    """The window's thumbs-down questions, most downs (net of ups) first, then newest."""
    by = votes(feedback)
    reasons: dict[int, list[str]] = defaultdict(list)
    for f in feedback:
        if f.value == "down" and f.reason:
            reasons[f.interaction_id].append(f.reason)
    out = [WorstQuestion(r.id, r.created_at, r.question, by[r.id]["down"], by[r.id]["up"],
                         tuple(sorted(set(reasons[r.id]))), r.supported)
           for r in rows if by.get(r.id, Counter())["down"]]
    out.sort(key=lambda w: (-(w.downs - w.ups), -w.downs, -_aware(w.created_at).timestamp()))
    return out[:limit]


@dataclass(frozen=True)
class OverdueSource:
    name: str
    last_indexed_at: datetime | None
    limit_hours: float
    last_error: str | None


def overdue_sources(sources: Iterable[Any], now: datetime, max_age_hours: float,
                    overrides: Mapping[str, float] | None = None) -> list[OverdueSource]:
    """Active sources not indexed within their schedule (``overrides[name]`` hours, else
    ``max_age_hours``), never-indexed ones included; paused sources are expected to lag.
    A limit of 0 means no schedule (the ``index_stale`` alert's convention)."""
    out = []
    for s in sources:
        if getattr(s, "status", "active") == "paused":
            continue
        limit = float((overrides or {}).get(s.name, max_age_hours))
        if limit <= 0:
            continue
        last = s.last_indexed_at
        if last is None or _aware(now) - _aware(last) > timedelta(hours=limit):
            out.append(OverdueSource(s.name, last, limit, getattr(s, "last_error", None)))
    return sorted(out, key=lambda o: (o.last_indexed_at is not None, o.last_indexed_at or now, o.name))
