"""The regression gate on hand-made metric dicts: directions, tolerances, globs, missing values."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import ConfigError
from eval.gate import (
    DEFAULT_TOLERANCES,
    Tolerances,
    compare,
    failing_metrics,
    load_tolerances,
    parse_tolerances,
)

TOL = Tolerances(
    {"pass_rate": 0.02, "file_acc@*": 0.05, "file_acc@1": 0.0, "unsupported_rate": 0.02,
     "latency_answer_p95": 1.0, "latency_*": None},
    ("unsupported_rate", "latency_*"),
)
BASE = {"cases": 40, "skipped": 0, "pass_rate": 0.80, "file_acc@1": 0.70, "file_acc@5": 0.90,
        "unsupported_rate": 0.05, "latency_answer_p95": 0.40, "latency_rank_p50": 0.01, "file_mrr": 0.8}


def test_identical_metrics_pass() -> None:
    result = compare(BASE, BASE, TOL)
    assert result.passed and result.failures == []
    assert {r.metric: r.status for r in result.rows}["pass_rate"] == "ok"
    assert "cases" not in {r.metric for r in result.rows}  # counts are never gated


def test_a_drop_beyond_tolerance_fails_and_is_named() -> None:
    now = BASE | {"pass_rate": 0.75}
    result = compare(now, BASE, TOL)
    assert not result.passed
    assert failing_metrics(result) == ["pass_rate"]
    assert "pass_rate fell 0.800 -> 0.750" in result.failures[0] and "tolerance 0.02" in result.failures[0]


def test_a_drop_within_tolerance_passes() -> None:
    result = compare(BASE | {"pass_rate": 0.785, "file_acc@5": 0.86}, BASE, TOL)
    assert result.passed
    statuses = {r.metric: r.status for r in result.rows}
    assert statuses["pass_rate"] == "ok" and statuses["file_acc@5"] == "ok"


def test_exact_key_beats_glob() -> None:
    # file_acc@1 has tolerance 0 (exact key), file_acc@5 0.05 (glob)
    result = compare(BASE | {"file_acc@1": 0.69, "file_acc@5": 0.86}, BASE, TOL)
    assert failing_metrics(result) == ["file_acc@1"]


def test_lower_is_better_fails_when_it_rises() -> None:
    result = compare(BASE | {"unsupported_rate": 0.10}, BASE, TOL)
    assert failing_metrics(result) == ["unsupported_rate"]
    assert "unsupported_rate rose 0.050 -> 0.100" in result.failures[0]
    better = compare(BASE | {"unsupported_rate": 0.0}, BASE, TOL)
    assert better.passed and {r.metric: r.status for r in better.rows}["unsupported_rate"] == "better"


def test_latency_is_gated_only_where_a_tolerance_is_set() -> None:
    result = compare(BASE | {"latency_answer_p95": 1.6, "latency_rank_p50": 5.0}, BASE, TOL)
    assert failing_metrics(result) == ["latency_answer_p95"]
    assert {r.metric: r.status for r in result.rows}["latency_rank_p50"] == "ungated"
    assert compare(BASE | {"latency_answer_p95": 1.3}, BASE, TOL).passed


def test_improvements_never_fail() -> None:
    result = compare(BASE | {"pass_rate": 1.0, "file_acc@1": 1.0, "latency_answer_p95": 0.0}, BASE, TOL)
    assert result.passed


def test_missing_or_none_metrics_are_not_applicable() -> None:
    now = {k: v for k, v in BASE.items() if k != "file_mrr"} | {"pass_rate": None, "must_include_rate": 0.5}
    result = compare(now, BASE, Tolerances({"*": 0.0}))
    statuses = {r.metric: r.status for r in result.rows}
    assert statuses["file_mrr"] == "n/a" and statuses["pass_rate"] == "n/a" and statuses["must_include_rate"] == "n/a"
    assert result.passed


def test_metric_without_tolerance_is_ungated() -> None:
    result = compare(BASE | {"file_mrr": 0.1}, BASE, TOL)
    assert result.passed and {r.metric: r.status for r in result.rows}["file_mrr"] == "ungated"


def test_shipped_tolerances_load_and_gate_the_headline_metrics() -> None:
    tol = load_tolerances()
    assert tol.tolerance("pass_rate") == 0.02
    assert tol.tolerance("file_acc@10") == 0.02 and tol.tolerance("chunk_acc@5") == 0.03
    assert tol.lower_better("stale_citation_rate") and tol.lower_better("latency_answer_p95")
    assert not tol.lower_better("file_mrr")
    assert tol.tolerance("latency_answer_p95") == 2.0 and tol.tolerance("latency_rank_p50") is None
    assert compare(BASE | {"file_acc@5": 0.85}, BASE).failures  # None -> the shipped file
    assert DEFAULT_TOLERANCES.is_file()


def test_tolerances_file_override_and_raw_mapping(tmp_path: Path) -> None:
    path = tmp_path / "tol.yaml"
    path.write_text("version: 1\ntolerances:\n  pass_rate: 0.5\n")
    tol = load_tolerances(path)
    assert compare(BASE | {"pass_rate": 0.4}, BASE, tol).passed
    assert not compare(BASE | {"pass_rate": 0.2}, BASE, {"tolerances": {"pass_rate": 0.5}}).passed


@pytest.mark.parametrize(("raw", "message"), [
    ([1, 2], "expected a mapping"),
    ({"tolerances": {"pass_rate": -1}}, "must be a number >= 0"),
    ({"tolerances": {"pass_rate": "lots"}}, "must be a number >= 0"),
    ({"tolerances": [1]}, "must map metric names"),
    ({"tolerance": {}}, "unknown key"),
    ({"version": 2, "tolerances": {}}, "version 2"),
    ({"tolerances": {}, "lower_is_better": "latency"}, "must be a list"),
])
def test_bad_tolerances_are_config_errors(raw: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_tolerances(raw, "tol.yaml")


def test_missing_or_broken_tolerances_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such tolerances file"):
        load_tolerances(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tolerances: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_tolerances(bad)


def test_gate_result_as_dict_round_trips_to_json() -> None:
    import json

    d = compare(BASE | {"pass_rate": 0.5}, BASE, TOL).as_dict()
    assert json.loads(json.dumps(d))["passed"] is False
    assert any(r["metric"] == "pass_rate" and r["status"] == "fail" for r in d["rows"])
