"""assistant.metrics: bounded labels, prices, per-app registries, the catalog collector."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from assistant.catalog.db import Database
from assistant.catalog.repo import Catalog
from assistant.catalog.schema import FlagRow, IndexRunRow
from assistant.metrics import (
    OTHER,
    CatalogCollector,
    Metrics,
    NullMetrics,
    answer_outcome,
    bounded,
    build_metrics,
    cost,
    entry_label,
    stale_counts,
)
from assistant.settings import MetricsSettings, ModelPrice, Settings


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return samples(metrics).get((name, tuple(sorted(labels.items()))), 0.0)


def make(**cfg) -> Metrics:
    return Metrics(MetricsSettings(**cfg), models=["gpt-small"])


def test_labels_are_bounded() -> None:
    assert bounded("openai", {"openai"}) == "openai" and bounded("how do I deploy?", {"openai"}) == OTHER
    assert bounded(None, {"openai"}) == OTHER
    assert [entry_label(c) for c in ("ui", "chat", "api", "openai", "cli", "mcp", "eval", None, "x" * 40)] == \
        ["chat", "chat", "api", "openai", "cli", "mcp", OTHER, OTHER, OTHER]
    m = Metrics(MetricsSettings(prices={"priced": ModelPrice()}), models=["gpt-small", "/models/tiny.gguf"])
    assert m.model_label("gpt-small") == "gpt-small" and m.model_label("priced") == "priced"
    assert m.model_label("what is alice's password") == OTHER  # a model name from anywhere else
    assert m.model_label(None) == "none"
    assert m.model_label("/models/tiny.gguf") == "tiny.gguf"  # never a path


def test_question_counter_never_carries_free_text() -> None:
    m = make()
    secret = "where is alice's secret? /home/alice/key"
    m.observe_answer(channel=secret, generator=secret, model=secret, outcome=secret,
                     timings={secret: 1.0, "total": 0.2}, tokens={"prompt": 5})
    body = m.render().decode()
    assert "alice" not in body and "/home" not in body
    assert value(m, "sourcewise_questions_total", entry=OTHER, generator=OTHER, model=OTHER, outcome=OTHER) == 1
    assert value(m, "sourcewise_answer_stage_seconds_count", entry=OTHER, stage="total") == 1


def test_stages_tokens_first_token_and_cache() -> None:
    m = make()
    m.observe_answer(channel="api", generator="openai", model="gpt-small", outcome="answered",
                     timings={"cache": 0.001, "retrieve": 0.05, "retrieve.embed": 0.02, "generate": 0.5,
                              "validate": 0.01, "total": 0.6, "first_token": 0.3, "retrieve.search": 0.01},
                     tokens={"prompt": 1000, "completion": 200, "total": 1200})
    m.observe_cache(True)
    m.observe_cache(False)
    for stage in ("cache", "retrieve", "embed", "generate", "validate", "total"):
        assert value(m, "sourcewise_answer_stage_seconds_count", entry="api", stage=stage) == 1, stage
    assert value(m, "sourcewise_answer_stage_seconds_count", entry="api", stage="retrieve.search") == 0
    assert value(m, "sourcewise_time_to_first_token_seconds_count", entry="api", generator="openai") == 1
    assert value(m, "sourcewise_tokens_total", model="gpt-small", kind="prompt") == 1000
    assert value(m, "sourcewise_tokens_total", model="gpt-small", kind="completion") == 200
    assert value(m, "sourcewise_answer_cache_total", result="hit") == 1
    assert value(m, "sourcewise_answer_cache_total", result="miss") == 1


def test_cost_from_the_price_table_and_unpriced_models() -> None:
    prices = {"gpt-small": ModelPrice(prompt=0.5, completion=2.0)}
    assert cost(prices, "gpt-small", 1_000_000, 500_000) == pytest.approx(1.5)
    assert cost(prices, "unknown", 10, 10) is None and cost(prices, None, 10, 10) is None
    m = Metrics(MetricsSettings(prices=prices), models=["gpt-small", "local"])
    m.observe_answer(channel="chat", generator="openai", model="gpt-small", outcome="answered",
                     tokens={"prompt": 2000, "completion": 1000})
    m.observe_answer(channel="chat", generator="openai", model="local", outcome="answered",
                     tokens={"prompt": 2000, "completion": 1000})
    m.observe_answer(channel="chat", generator="extractive", model=None, outcome="answered", tokens={})
    assert value(m, "sourcewise_cost_total", model="gpt-small") == pytest.approx(0.003)
    assert value(m, "sourcewise_cost_total", model="local") == 0
    assert value(m, "sourcewise_unpriced_answers_total", model="local") == 1
    assert value(m, "sourcewise_unpriced_answers_total", model="none") == 0  # no tokens, nothing to price


def test_outcomes_and_stale_citations() -> None:
    ans = SimpleNamespace(fallback_reason=None, citations=[
        SimpleNamespace(passage=SimpleNamespace(status="deprecated", staleness=0.0)),
        SimpleNamespace(passage=SimpleNamespace(status="active", staleness=0.6)),
        SimpleNamespace(passage=SimpleNamespace(status="stale", staleness=0.0)),
        SimpleNamespace(passage=SimpleNamespace(status="active", staleness=0.1)),
    ])
    assert answer_outcome(ans, None) == "answered"
    assert answer_outcome(SimpleNamespace(fallback_reason="timeout: x"), "m: timeout") == "fallback"
    assert answer_outcome(None, "ConfigError: the question is empty") == "refused"
    assert answer_outcome(None, "internal: RuntimeError: boom") == "error"
    assert answer_outcome(None, "abandoned: the client stopped reading") == "abandoned"
    assert stale_counts(ans, 0.3) == (2, 1) and stale_counts(None, 0.3) == (0, 0)
    m = make()
    m.observe_answer(channel="cli", generator="extractive", model=None, outcome="answered", stale=2, deprecated=1)
    assert value(m, "sourcewise_stale_citations_total", kind="stale") == 2
    assert value(m, "sourcewise_stale_citations_total", kind="deprecated") == 1


def test_feedback_promotions_owner_actions_and_index_runs() -> None:
    m = make()
    for kind in ("up", "down", "down", "flag", "sideways"):
        m.observe_feedback(kind)
    m.observe_promotion("feedback")
    m.observe_owner_action("dismissed")
    m.observe_owner_action("rm -rf")
    m.observe_index_run(SimpleNamespace(source="payments", status="ok", seconds=3.5, seen=10, chunks=40,
                                        failures=[object(), object()]))
    m.observe_index_run(SimpleNamespace(source="payments", status="failed", seconds=0.2, seen=0, chunks=0,
                                        failures=[]))
    assert [value(m, "sourcewise_feedback_total", kind=k) for k in ("up", "down", "flag", OTHER)] == [1, 2, 1, 1]
    assert value(m, "sourcewise_eval_promotions_total", kind="feedback") == 1
    assert value(m, "sourcewise_owner_actions_total", action="dismissed") == 1
    assert value(m, "sourcewise_owner_actions_total", action=OTHER) == 1
    assert value(m, "sourcewise_index_runs_total", source="payments", status="ok") == 1
    assert value(m, "sourcewise_index_runs_total", source="payments", status="failed") == 1
    assert value(m, "sourcewise_index_run_seconds_count", source="payments") == 2
    assert value(m, "sourcewise_index_files_total", source="payments") == 10
    assert value(m, "sourcewise_index_chunks_total", source="payments") == 40
    assert value(m, "sourcewise_index_failures_total", source="payments") == 2


def test_each_app_has_its_own_registry() -> None:
    a, b = make(), make()
    a.observe_feedback("up")
    assert value(a, "sourcewise_feedback_total", kind="up") == 1
    assert value(b, "sourcewise_feedback_total", kind="up") == 0
    from prometheus_client import REGISTRY

    assert REGISTRY.get_sample_value("sourcewise_feedback_total", {"kind": "up"}) is None  # never the global one


def test_disabled_metrics_do_nothing(tmp_path: Path) -> None:
    off = build_metrics(Settings(home=tmp_path, metrics=MetricsSettings(enabled=False)))
    assert isinstance(off, NullMetrics) and not off.enabled and off.render() == b""
    off.observe_answer(channel="api", generator="openai", model="m", outcome="answered")
    assert build_metrics(Settings(home=tmp_path)).enabled


def test_catalog_collector_reads_ages_and_open_items_at_scrape_time(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog = Catalog(db)
    pay = catalog.add_source("payments", "git", "/x")
    catalog.add_source("wiki", "wiki", "/y")  # never indexed
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    with db.session() as s:
        s.add(IndexRunRow(source_id=pay.id, status="ok", started_at=now - timedelta(hours=3),
                          finished_at=now - timedelta(hours=2)))
        s.add(IndexRunRow(source_id=pay.id, status="failed", started_at=now - timedelta(minutes=30),
                          finished_at=now - timedelta(minutes=20)))  # a failure does not reset the age
        for status in ("open", "open", "dismissed"):
            s.add(FlagRow(doc_id="payments:a.md", source_name="payments", path="a.md", kind="outdated",
                          user_name="alice", status=status))
        s.add(FlagRow(doc_id="gone:a.md", source_name="gone", path="a.md", kind="outdated", user_name="x"))
    m = Metrics(MetricsSettings())
    m.registry.register(CatalogCollector(db, clock=lambda: now))
    assert value(m, "sourcewise_source_last_success_age_seconds", source="payments") == 7200
    assert value(m, "sourcewise_source_last_success_age_seconds", source="wiki") == -1
    assert value(m, "sourcewise_owner_open_items", source="payments", kind="flags") == 2
    assert value(m, "sourcewise_owner_open_items", source="wiki", kind="flags") == 0
    assert "gone" not in m.render().decode()  # a removed source's rows never mint a label
    with db.session() as s:  # computed at scrape time: a new run shows at once
        s.add(IndexRunRow(source_id=pay.id, status="ok", started_at=now, finished_at=now - timedelta(seconds=5)))
    assert value(m, "sourcewise_source_last_success_age_seconds", source="payments") == 5
    db.close()


def test_a_catalog_error_does_not_fail_the_scrape() -> None:
    class Broken:
        def session(self):
            raise RuntimeError("database is locked")

    m = Metrics(MetricsSettings(), db=Broken())
    m.observe_feedback("up")
    assert value(m, "sourcewise_feedback_total", kind="up") == 1
