"""Window statistics on rows built here (``assistant.ops.stats``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from assistant.ops import stats
from assistant.settings import ModelPrice

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@dataclass
class Row:
    id: int
    created_at: datetime = NOW
    question: str = "q"
    answer: str | None = "an answer [1]"
    supported: bool | None = True
    cached: bool = False
    timings: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    generator: str | None = "extractive"


@dataclass
class Vote:
    interaction_id: int
    value: str
    reason: str | None = None


def test_percentile_interpolates_and_handles_empty() -> None:
    assert stats.percentile([], 50) is None
    assert stats.percentile([3.0], 95) == 3.0
    assert stats.percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert stats.percentile(list(map(float, range(1, 101))), 95) == pytest.approx(95.05)


def test_rates_count_what_the_module_says() -> None:
    rows = [Row(1), Row(2, supported=False), Row(3, answer="x\n\nCheck before relying on it:\n- old [1]."),
            Row(4, cached=True), Row(5, answer=None, supported=None)]
    votes = [Vote(1, "down", "missing_source"), Vote(2, "up"), Vote(3, "down"), Vote(3, "up"), Vote(99, "down")]
    r = stats.rates(rows, votes)
    assert r["thumbs_down"] == pytest.approx(2 / 3)  # 1 and 3 of the rated 1, 2, 3; 99 is outside the window
    assert r["unsupported"] == pytest.approx(1 / 4)  # of the 4 answers
    assert r["stale"] == pytest.approx(1 / 4)
    assert r["cache_hits"] == pytest.approx(1 / 5)  # of all 5 questions
    assert stats.rates([], []) == {"thumbs_down": None, "unsupported": None, "stale": None, "cache_hits": None}


def test_daily_rates_have_every_day_of_the_window() -> None:
    days = stats.window_days(NOW, 7)
    assert days[0] == date(2026, 12, 1) and days[-1] == date(2026, 12, 7) and len(days) == 7
    rows = [Row(1), Row(2), Row(3, created_at=NOW - timedelta(days=2), supported=False)]
    daily = stats.daily_rates(rows, [Vote(1, "down")], days)
    assert [d.questions for d in daily] == [0, 0, 0, 0, 1, 0, 2]
    assert daily[-1].thumbs_down == 1.0 and daily[4].unsupported == 1.0 and daily[0].unsupported is None


def test_latency_per_stage_reads_the_answerer_timing_keys() -> None:
    rows = [Row(i, timings={"retrieve.embed": 0.01 * i, "retrieve": 0.1 * i, "generate": 1.0 * i,
                            "validate": 0.001, "total": 1.2 * i}) for i in range(1, 21)]
    rows.append(Row(99, cached=True, timings={"cache": 0.001, "total": 0.002}))
    lat = {x.stage: x for x in stats.latencies(rows)}
    assert list(lat) == ["embed", "retrieve", "generate", "validate", "total"]
    assert lat["embed"].count == 20 and lat["total"].count == 21
    assert lat["generate"].p50 == pytest.approx(10.5) and lat["generate"].p95 == pytest.approx(19.05)


def test_usage_sums_tokens_per_day_and_model() -> None:
    rows = [Row(1, model="gpt-x", tokens={"prompt": 100, "completion": 10}),
            Row(2, model="gpt-x", tokens={"prompt": 50, "completion": 5}),
            Row(3, model="llama", tokens={"completion": 7}),
            Row(4, created_at=NOW - timedelta(days=1), model="gpt-x", tokens={"prompt": 1, "completion": 1}),
            Row(5, tokens={})]
    out = stats.usage(rows, {"gpt-x": ModelPrice(prompt=1_000_000, completion=0)})
    assert [(u.day.day, u.model, u.prompt_tokens, u.completion_tokens) for u in out] == [
        (6, "gpt-x", 1, 1), (7, "gpt-x", 150, 15), (7, "llama", 0, 7)]
    assert out[1].cost == pytest.approx(150.0) and out[2].cost is None
    assert stats.usage(rows, {})[1].cost is None  # no price table: tokens only, never free


def test_worst_questions_most_downs_first_with_reasons() -> None:
    rows = [Row(1, question="a"), Row(2, question="b"), Row(3, question="c"), Row(4, question="d")]
    votes = [Vote(1, "down", "wrong_answer"), Vote(2, "down", "missing_source"), Vote(2, "down", "other"),
             Vote(3, "up"), Vote(4, "down"), Vote(4, "up")]
    worst = stats.worst_questions(rows, votes)
    assert [w.interaction_id for w in worst] == [2, 1, 4]
    assert worst[0].reasons == ("missing_source", "other") and worst[0].downs == 2


@dataclass
class Src:
    name: str
    last_indexed_at: datetime | None
    status: str = "active"
    last_error: str | None = None


def test_overdue_sources_use_the_schedule_and_skip_paused() -> None:
    sources = [Src("fresh", NOW - timedelta(hours=2)), Src("old", NOW - timedelta(hours=30)),
               Src("never", None), Src("paused", None, status="paused"),
               Src("weekly", NOW - timedelta(hours=100))]
    out = stats.overdue_sources(sources, NOW, 24, {"weekly": 168})
    assert [o.name for o in out] == ["never", "old"]
    assert stats.overdue_sources(sources, NOW, 24, {"weekly": 48})[-1].name == "old"
