"""The regression gate: a run's metrics against a baseline run's, within tolerances.

A change that costs retrieval or answer quality should fail CI the way a failing unit
test does, so ``sourcewise eval run --baseline`` exits 1 and names every metric that got
worse by more than its tolerance. Tolerances are absolute (metric units), per metric or
glob, read from ``eval/tolerances.yaml`` (shipped, documented there) or a file given
with ``--tolerances``. Metrics with no tolerance, or missing on either side (a set with
no must-include checks has no must-include rate), are shown but never fail the gate.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError

DEFAULT_TOLERANCES = Path(__file__).resolve().parent / "tolerances.yaml"
# Informational counts: never gated, whatever a tolerances file says.
COUNTS = frozenset({"cases", "skipped", "scored"})


@dataclass(frozen=True)
class Tolerances:
    """Per-metric allowed movement in the bad direction, and which metrics are lower-is-better."""

    limits: Mapping[str, float | None] = field(default_factory=dict)  # name or glob -> tolerance
    lower_is_better: tuple[str, ...] = ()  # names or globs

    def tolerance(self, metric: str) -> float | None:
        """The tolerance for ``metric``: exact key first, then the first matching glob."""
        if metric in self.limits:
            return self.limits[metric]
        for pattern, value in self.limits.items():
            if _is_glob(pattern) and fnmatch.fnmatchcase(metric, pattern):
                return value
        return None

    def lower_better(self, metric: str) -> bool:
        return any(metric == p or (_is_glob(p) and fnmatch.fnmatchcase(metric, p)) for p in self.lower_is_better)


@dataclass(frozen=True)
class GateRow:
    """One metric's comparison; ``status`` is ok | fail | better | n/a | ungated."""

    metric: str
    baseline: float | None
    current: float | None
    delta: float | None
    tolerance: float | None
    lower_is_better: bool
    status: str


@dataclass(frozen=True)
class GateResult:
    passed: bool
    failures: list[str]
    rows: list[GateRow]

    def as_dict(self) -> dict[str, Any]:
        """The ``gate`` entry of a stored run (and of ``--json`` output)."""
        return {"passed": self.passed, "failures": list(self.failures), "rows": [asdict(r) for r in self.rows]}


def _is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(value) else float(value)


def parse_tolerances(raw: Any, origin: str = "tolerances") -> Tolerances:
    """``{version, lower_is_better: [...], tolerances: {metric|glob: number|null}}`` -> ``Tolerances``."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: expected a mapping with 'tolerances' (and optionally 'lower_is_better')")
    unknown = set(raw) - {"version", "tolerances", "lower_is_better"}
    if unknown:
        raise ConfigError(f"{origin}: unknown key(s) {sorted(unknown)}; known: lower_is_better, tolerances, version")
    if raw.get("version", 1) != 1:
        raise ConfigError(f"{origin}: version {raw.get('version')!r} is not supported (expected 1)")
    limits = raw.get("tolerances") or {}
    if not isinstance(limits, dict):
        raise ConfigError(f"{origin}: 'tolerances' must map metric names (or globs) to numbers")
    out: dict[str, float | None] = {}
    for name, value in limits.items():
        if value is None:
            out[str(name)] = None
            continue
        number = _number(value)
        if number is None or number < 0:
            raise ConfigError(f"{origin}: tolerance of {name!r} must be a number >= 0 or null, not {value!r}")
        out[str(name)] = number
    lower = raw.get("lower_is_better") or []
    if not isinstance(lower, list) or not all(isinstance(p, str) for p in lower):
        raise ConfigError(f"{origin}: 'lower_is_better' must be a list of metric names or globs")
    return Tolerances(out, tuple(lower))


def load_tolerances(path: Path | str | None = None) -> Tolerances:
    """Tolerances from ``path``, or the shipped ``eval/tolerances.yaml``."""
    import yaml

    path = Path(path) if path is not None else DEFAULT_TOLERANCES
    if not path.is_file():
        raise ConfigError(f"{path}: no such tolerances file (see eval/tolerances.yaml for the format)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    return parse_tolerances(raw, str(path))


def compare(metrics: Mapping[str, Any], baseline_metrics: Mapping[str, Any],
            tolerances: Tolerances | Mapping[str, Any] | None = None) -> GateResult:
    """Fail when a higher-is-better metric drops, or a lower-is-better one rises, by more
    than its tolerance. ``tolerances`` is a ``Tolerances``, the raw mapping of a
    tolerances file, or ``None`` for the shipped defaults."""
    if tolerances is None:
        tol = load_tolerances()
    elif isinstance(tolerances, Tolerances):
        tol = tolerances
    else:
        tol = parse_tolerances(dict(tolerances))
    rows: list[GateRow] = []
    failures: list[str] = []
    names = list(dict.fromkeys([*baseline_metrics, *metrics]))
    for name in names:
        if name in COUNTS:
            continue
        base, cur = _number(baseline_metrics.get(name)), _number(metrics.get(name))
        lower = tol.lower_better(name)
        limit = tol.tolerance(name)
        if base is None or cur is None:
            rows.append(GateRow(name, base, cur, None, limit, lower, "n/a"))
            continue
        delta = cur - base
        worse = delta if lower else -delta  # how far it moved in the bad direction
        if limit is None:
            status = "ungated"
        elif worse > limit + 1e-9:
            status = "fail"
            verb = "rose" if lower else "fell"
            failures.append(f"{name} {verb} {base:.3f} -> {cur:.3f} ({delta:+.3f}; tolerance {limit:g})")
        elif worse < -1e-9:
            status = "better"
        else:
            status = "ok"
        rows.append(GateRow(name, base, cur, delta, limit, lower, status))
    return GateResult(not failures, failures, rows)


def failing_metrics(result: GateResult) -> Sequence[str]:
    """The names of the metrics that failed (for messages and tests)."""
    return [r.metric for r in result.rows if r.status == "fail"]
