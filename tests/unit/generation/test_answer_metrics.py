"""The Answerer counts every question once, whatever the door and the outcome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant.answer import Answerer
from assistant.catalog.repo import Catalog
from assistant.errors import ConfigError
from assistant.generation.base import GenerationError
from assistant.metrics import Metrics
from assistant.settings import GenerationSettings, MetricsSettings, ModelPrice, Settings
from tests.unit.generation.fakes import FakeRetriever, ScriptedGenerator
from tests.unit.generation.passages import retry_passages
from tests.unit.generation.test_answerer import ALICE, BOB, Q, catalog  # noqa: F401 (fixture)
from tests.unit.test_metrics import value


def make(catalog: Catalog, gen: Any) -> tuple[Answerer, Metrics]:  # noqa: F811
    settings = Settings(home=Path("/tmp/unused"), generation=GenerationSettings(generator="openai",
                                                                                model="fake-model"))
    metrics = Metrics(MetricsSettings(prices={"fake-model": ModelPrice(prompt=1.0, completion=10.0)}),
                      models=["fake-model"])
    answerer = Answerer(FakeRetriever(retry_passages()), gen, catalog, settings, index_version=lambda: "v1",
                        metrics=metrics)
    return answerer, metrics


def test_answers_cache_hits_refusals_and_fallbacks_are_counted(catalog: Catalog) -> None:  # noqa: F811
    answerer, m = make(catalog, ScriptedGenerator())
    answerer.answer(Q, [], ALICE, channel="api")
    answerer.answer("Where do we retry failed payments", [], ALICE, channel="openai")  # same key: a hit
    answerer.answer(Q, [], BOB, channel="ui")  # other groups: a miss
    with pytest.raises(ConfigError):
        answerer.answer("   ", [], ALICE, channel="api")
    q = dict(entry="api", generator="openai", model="fake-model")
    assert value(m, "sourcewise_questions_total", **q, outcome="answered") == 1
    assert value(m, "sourcewise_questions_total", entry="openai", generator="openai", model="fake-model",
                 outcome="answered") == 1
    assert value(m, "sourcewise_questions_total", entry="chat", generator="openai", model="fake-model",
                 outcome="answered") == 1
    assert value(m, "sourcewise_questions_total", **q, outcome="refused") == 1
    assert value(m, "sourcewise_answer_cache_total", result="hit") == 1
    assert value(m, "sourcewise_answer_cache_total", result="miss") == 2
    assert value(m, "sourcewise_answer_stage_seconds_count", entry="api", stage="total") == 2
    assert value(m, "sourcewise_answer_stage_seconds_count", entry="api", stage="generate") == 1
    # tokens of the two answers the model wrote (a cache hit costs nothing)
    assert value(m, "sourcewise_tokens_total", model="fake-model", kind="prompt") == 240
    assert value(m, "sourcewise_cost_total", model="fake-model") == pytest.approx((240 + 240) / 1e6)
    assert value(m, "sourcewise_stale_citations_total", kind="stale") == 0


def test_streaming_records_time_to_first_token_and_fallbacks(catalog: Catalog) -> None:  # noqa: F811
    gen = ScriptedGenerator(text="Retried in the retrier [1] with a loop that", stream_fail_after=3,
                            error=GenerationError("timeout", "the model endpoint did not answer"))
    answerer, m = make(catalog, gen)
    events = list(answerer.stream("why is it slow?", [], ALICE, channel="ui"))
    answer = events[-1]["answer"]
    assert 0 < answer.timings["first_token"] <= answer.timings["total"]
    assert value(m, "sourcewise_questions_total", entry="chat", generator="extractive", model="none",
                 outcome="fallback") == 1
    assert value(m, "sourcewise_time_to_first_token_seconds_count", entry="chat", generator="extractive") == 1
