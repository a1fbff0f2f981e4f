"""The alert rules' math: rates, the nearest-rank p95, the thumbs-down baseline and margin,
minimum counts, and which interaction errors and fallbacks count."""

from __future__ import annotations

import pytest

from assistant.ops.alert_rules import (
    Signal,
    above,
    is_failure,
    is_fallback,
    p95,
    percentile,
    rate,
    thumbs_down_check,
)
from assistant.settings import AlertSettings, load_settings
from assistant.errors import ConfigError


def test_rate_and_empty_whole() -> None:
    assert rate(1, 4) == 0.25 and rate(0, 0) is None


def test_p95_is_nearest_rank_of_values_that_occurred() -> None:
    assert p95([]) is None
    assert p95([3.0]) == 3.0
    values = [float(i) for i in range(1, 101)]  # 1..100
    assert p95(values) == 95.0
    assert p95(list(reversed(values))) == 95.0  # order does not matter
    assert p95([1.0] * 19 + [50.0]) == 1.0  # one slow answer in 20 is the 5% p95 ignores
    assert p95([1.0] * 18 + [50.0, 50.0]) == 50.0  # two in 20 is not
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0


def test_thumbs_down_needs_its_minimum_so_one_of_two_does_not_fire() -> None:
    v = thumbs_down_check(1, 2, 0, 0, margin=0.2, min_rated=10)
    assert v.observed == 0.5 and not v.fires


def test_thumbs_down_against_the_trailing_baseline_plus_margin() -> None:
    # baseline 10% (5 of 50), margin 20 points: 30% is the bound
    at = thumbs_down_check(6, 20, 5, 50, margin=0.2, min_rated=10)
    assert at.baseline == pytest.approx(0.1) and at.threshold == pytest.approx(0.3)
    assert not at.fires  # exactly at the bound does not fire
    over = thumbs_down_check(7, 20, 5, 50, margin=0.2, min_rated=10)
    assert over.fires and over.observed == pytest.approx(0.35)
    # a high baseline raises the bar: 50% down is normal for a team that rates only bad answers
    assert not thumbs_down_check(10, 20, 25, 50, margin=0.2, min_rated=10).fires


def test_thumbs_down_baseline_with_too_few_ratings_counts_as_zero() -> None:
    v = thumbs_down_check(5, 10, 3, 3, margin=0.2, min_rated=10)  # baseline 3 of 3 ignored
    assert v.baseline == 0.0 and v.threshold == pytest.approx(0.2) and v.fires


def test_threshold_never_exceeds_one() -> None:
    assert thumbs_down_check(10, 10, 45, 50, margin=0.5, min_rated=10).threshold == 1.0


def test_above_is_strict_and_ignores_missing_values() -> None:
    assert above(0.11, 0.1) and not above(0.1, 0.1) and not above(None, 0.0)


def test_what_counts_as_a_failure_and_a_fallback() -> None:
    assert is_failure("openai: error: the model failed: ConnectError")
    assert is_failure("internal: RuntimeError: boom")
    assert is_failure("GenerationError: the model did not finish within 30 s")
    assert not is_failure(None) and not is_failure("")
    assert not is_failure("ConfigError: the question is empty")  # the user's input
    assert not is_failure("PermissionDeniedError: no access")
    assert not is_failure("abandoned: the client stopped reading after 10 characters")
    assert is_fallback("timeout: the model did not finish within 30 s")
    assert not is_fallback("policy: 2 source(s) withheld from openai") and not is_fallback(None)


def test_signal_key_is_rule_and_subject() -> None:
    assert Signal("index_failing", "payments", "m").key == "index_failing:payments"
    assert Signal("error_rate", None, "m").key == "error_rate"


def test_unknown_rule_names_are_a_config_error() -> None:
    assert AlertSettings(disabled_rules=["thumbs_down"]).disabled_rules == ["thumbs_down"]
    with pytest.raises(ConfigError, match="unknown alert rule"):
        load_settings(alerts={"disabled_rules": ["thumbs"]})
