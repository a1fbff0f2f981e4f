"""Each alert rule against a real catalog and a real HTTP webhook receiver on loopback:
a degradation written into the catalog fires once (a second check posts nothing), and
resolves with one "resolved" post once it is removed or ages out of the window. Also:
failed posts are retried, posts carry no question, user, error text or path, and each
raise and resolve has an audit row. Time is a fake clock; nothing sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from assistant.audit import AuditLog
from assistant.catalog.alert_schema import AlertRow
from assistant.catalog.db import Database
from assistant.catalog.repo import Catalog
from assistant.catalog.schema import AuditRow, FeedbackRow, IndexRunRow, InteractionRow
from assistant.ops.alerts import AlertScheduler, AlertService, list_alerts, open_alerts
from assistant.settings import Settings
from tests.fixtures.postgres import catalog_url, pg_server  # noqa: F401 - fixtures
from tests.fixtures.webhook import Hook

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PUBLIC = "https://sourcewise.example"


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


class World:
    def __init__(self, tmp: Path, hook: Hook, url: str | None = None, **alerts: Any) -> None:
        self.url = url or f"sqlite:///{tmp}/catalog.db"
        self.db = Database(self.url)
        self.catalog = Catalog(self.db)
        self.clock = [NOW]
        self.settings = Settings(home=tmp, ui={"public_url": PUBLIC}, alerts={"webhook_url": hook.url, **alerts})
        self.service = AlertService(self.db, self.settings, clock=lambda: self.clock[0])

    def later(self, **delta: float) -> None:
        self.clock[0] = self.clock[0] + timedelta(**delta)

    def interactions(self, n: int, *, at: datetime | None = None, **fields: Any) -> list[int]:
        ids = []
        with self.db.session() as s:
            for i in range(n):
                values = {"channel": "api", "timings": {"retrieve": 0.1, "generate": 0.5, "total": 0.7}} | fields
                row = InteractionRow(created_at=at or NOW - timedelta(hours=1), user_name="alice-secret",
                                     question=f"SECRET-QUESTION {i}", **values)
                s.add(row)
                s.flush()
                ids.append(row.id)
        return ids

    def rate(self, ids: list[int], value: str, at: datetime) -> None:
        with self.db.session() as s:
            for i in ids:
                s.add(FeedbackRow(interaction_id=i, user_name="alice-secret", value=value, created_at=at,
                                  comment="SECRET-COMMENT"))

    def alerts(self) -> list[AlertRow]:
        with self.db.session() as s:
            return list(s.scalars(select(AlertRow).order_by(AlertRow.id)))


@pytest.fixture
def world(tmp_path: Path, hook: Hook, request: pytest.FixtureRequest, catalog_url: str) -> World:
    """A catalog (each test on SQLite and on PostgreSQL) and alert service; a test's ``ALERTS``
    attribute (``with_alerts``) sets ``alerts.*``."""
    w = World(tmp_path, hook, catalog_url, **getattr(request.function, "ALERTS", {}))
    yield w
    w.db.close()


def with_alerts(**settings: Any):
    def mark(fn: Any) -> Any:
        fn.ALERTS = settings
        return fn
    return mark


def raise_once_then_resolve(world: World, hook: Hook, keys: set[str], clear: Any) -> None:
    """The shared life cycle: fire -> one post each; again -> nothing; clear -> one resolved post each."""
    first = world.service.check()
    assert set(first.raised) == keys, first
    assert len(hook.bodies) == len(keys) and first.posted == len(keys)
    rows = {a.key: a for a in open_alerts(world.db)}
    assert set(rows) == keys
    for key, alert in rows.items():
        text = next(t for t in hook.texts if key in t)
        assert text.startswith("[Sourcewise ALERT]") and f"{PUBLIC}/admin/health#alert-{alert.id}" in text
        assert alert.posted and alert.observed is not None or alert.rule in ("index_failing", "canary_gate")

    world.later(minutes=5)
    second = world.service.check()
    assert second.raised == [] and sorted(second.standing) == sorted(keys) and second.posted == 0
    assert len(hook.bodies) == len(keys)  # deduplicated while it stands
    assert len(world.alerts()) == len(keys)

    clear()
    third = world.service.check()
    assert sorted(third.resolved) == sorted(keys) and open_alerts(world.db) == []
    resolved = [t for t in hook.texts if t.startswith("[Sourcewise RESOLVED]")]
    assert len(resolved) == len(keys) and all(any(k in t for t in resolved) for k in keys)
    assert all(r.state == "resolved" and r.resolved_at == world.clock[0] and r.resolved_sent_at for r in world.alerts())
    assert world.service.check().posted == 0 and len(hook.bodies) == 2 * len(keys)

    with world.db.session() as s:
        actions = [(a.action, a.target) for a in s.scalars(select(AuditRow).where(AuditRow.action.like("alert.%")))]
    assert sorted(actions) == sorted([("alert.raised", k) for k in keys] + [("alert.resolved", k) for k in keys])
    assert AuditLog(world.db).verify().ok
    for text in hook.texts:  # nothing from the access-controlled side leaves for the webhook
        assert "SECRET" not in text and "alice" not in text and "token@" not in text


def test_thumbs_down_above_its_trailing_baseline(world: World, hook: Hook) -> None:
    # baseline: 20 ratings over the previous week, 2 down (10%); window: 20 ratings, 10 down (50% > 30%)
    week = world.interactions(20, at=NOW - timedelta(days=3))
    world.rate(week[:2], "down", NOW - timedelta(days=3))
    world.rate(week[2:], "up", NOW - timedelta(days=3))
    today = world.interactions(20)
    world.rate(today[:10], "down", NOW - timedelta(hours=1))
    world.rate(today[10:], "up", NOW - timedelta(hours=1))
    raise_once_then_resolve(world, hook, {"thumbs_down"}, lambda: world.later(hours=25))  # ages out
    first = next(a for a in list_alerts(world.db, include_resolved=True))
    assert first.observed == pytest.approx(0.5) and first.baseline == pytest.approx(0.1)
    assert first.threshold == pytest.approx(0.3) and first.details["rated"] == 20


@with_alerts(thumbs_down_min_rated=10)
def test_one_thumbs_down_of_two_does_not_fire(world: World, hook: Hook) -> None:
    ids = world.interactions(2)
    world.rate(ids[:1], "down", NOW - timedelta(hours=1))
    world.rate(ids[1:], "up", NOW - timedelta(hours=1))
    assert world.service.check().raised == [] and hook.bodies == []


@with_alerts(stage_max_s={"retrieve": 1.0})
def test_p95_latency_total_and_per_stage(world: World, hook: Hook) -> None:
    world.interactions(20, timings={"retrieve": 0.2, "generate": 1.0, "total": 1.5})
    world.interactions(5, timings={"retrieve": 3.0, "generate": 40.0, "total": 45.0})
    world.interactions(30, channel="eval", timings={"total": 999.0})  # eval traffic never counts
    raise_once_then_resolve(world, hook, {"latency_p95:total", "latency_p95:retrieve"},
                            lambda: world.later(hours=24, minutes=10))
    total = next(a for a in list_alerts(world.db, include_resolved=True) if a.key == "latency_p95:total")
    assert total.observed == 45.0 and total.threshold == 30.0


@with_alerts(min_questions=20)
def test_too_few_questions_are_not_judged(world: World, hook: Hook) -> None:
    world.interactions(5, timings={"total": 100.0}, error="internal: RuntimeError: x")
    assert world.service.check().raised == []


def test_generator_error_and_fallback_rates(world: World, hook: Hook) -> None:
    world.interactions(15)
    world.interactions(3, error="openai: error: the model failed: SECRET-ERR", fallback_reason="error: down",
                       generator="extractive")
    world.interactions(3, error="internal: RuntimeError: SECRET-ERR")
    world.interactions(6, fallback_reason="timeout: the model did not finish", error="openai: timeout: slow")
    world.interactions(5, error="ConfigError: the question is empty")  # refusals are not failures
    world.interactions(5, fallback_reason="policy: 2 source(s) withheld from openai")  # not a fallback
    raise_once_then_resolve(world, hook, {"error_rate", "fallback_rate"}, lambda: world.later(hours=25))
    rows = {a.key: a for a in list_alerts(world.db, include_resolved=True)}
    assert rows["error_rate"].details == {"count": 12, "questions": 37}  # 32% > 10%
    assert rows["fallback_rate"].details == {"count": 9, "questions": 37}  # 24% > 20%


def test_a_source_whose_last_index_run_failed(world: World, hook: Hook) -> None:
    src = world.catalog.add_source("payments", "git", "/repos/payments")
    ok = world.catalog.start_run(src.id)
    world.catalog.finish_run(ok, status="ok")
    failed = world.catalog.start_run(src.id)
    world.catalog.finish_run(failed, status="failed", error="git clone https://bot:token@git.example/x failed")
    world.catalog.add_source("ledger", "git", "/repos/ledger")  # never indexed: not failing
    running = world.catalog.start_run(src.id)  # a run in progress does not hide the failure

    def fixed() -> None:
        world.catalog.finish_run(running, status="ok")

    raise_once_then_resolve(world, hook, {"index_failing:payments"}, fixed)
    with world.db.session() as s:
        assert s.scalar(select(IndexRunRow.status).where(IndexRunRow.id == running)) == "ok"


@with_alerts(index_max_age_hours=48, index_max_age_by_source={"payments": 6, "wiki": 0})
def test_a_source_not_indexed_within_its_limit(world: World, hook: Hook) -> None:
    pay = world.catalog.add_source("payments", "git", "/repos/payments")
    world.catalog.update_source(pay.id, last_indexed_at=NOW - timedelta(hours=10))  # over its 6 h
    docs = world.catalog.add_source("docs", "docs", "/docs")
    world.catalog.update_source(docs.id, last_indexed_at=NOW - timedelta(hours=10))  # within the default 48 h
    wiki = world.catalog.add_source("wiki", "wiki", "/wiki")
    world.catalog.update_source(wiki.id, last_indexed_at=NOW - timedelta(days=30))  # 0: off for this one

    def reindexed() -> None:
        world.catalog.update_source(pay.id, last_indexed_at=world.clock[0])

    raise_once_then_resolve(world, hook, {"index_stale:payments"}, reindexed)
    alert = list_alerts(world.db, include_resolved=True)[0]
    assert alert.observed == pytest.approx(10.0, abs=0.2)  # refreshed by the check 5 min later
    assert alert.threshold == 6.0


@with_alerts(index_max_age_hours=1)
def test_a_disabled_rule_fires_nothing_and_its_open_alerts_resolve(world: World, hook: Hook, tmp_path: Path) -> None:
    src = world.catalog.add_source("payments", "git", "/repos/payments")
    world.catalog.update_source(src.id, last_indexed_at=NOW - timedelta(hours=3))
    assert world.service.check().raised == ["index_stale:payments"]
    off = Settings(home=tmp_path, ui={"public_url": PUBLIC},
                   alerts={"webhook_url": hook.url, "index_max_age_hours": 1, "disabled_rules": ["index_stale"]})
    report = AlertService(world.db, off, clock=lambda: world.clock[0]).check()
    assert report.resolved == ["index_stale:payments"] and open_alerts(world.db) == []


def test_a_failed_post_is_recorded_and_retried_next_check(world: World, hook: Hook) -> None:
    world.catalog.add_source("payments", "git", "/p")
    src = world.catalog.get_source("payments")
    run = world.catalog.start_run(src.id)
    world.catalog.finish_run(run, status="failed")
    hook.status = 500
    first = world.service.check()
    assert first.raised == ["index_failing:payments"] and first.posted == 0 and first.post_failures == 1
    [alert] = open_alerts(world.db)
    assert not alert.posted and "500" in (alert.post_error or "")
    hook.status = 200
    second = world.service.check()
    assert second.posted == 1 and second.raised == []
    [alert] = open_alerts(world.db)
    assert alert.posted and alert.post_error is None
    assert len([t for t in hook.texts if t.startswith("[Sourcewise ALERT]")]) == 2  # the 500 one, then the retry
    assert [n["ok"] for n in world.alerts()[0].notifications] == [False, True]


def test_a_dead_webhook_never_breaks_the_scheduler_tick(world: World, hook: Hook, tmp_path: Path) -> None:
    hook.close()  # nothing listens there any more: connection refused
    src = world.catalog.add_source("payments", "git", "/p")
    world.catalog.finish_run(world.catalog.start_run(src.id), status="failed")
    sched = AlertScheduler(world.service, interval_s=60, clock=lambda: world.clock[0])
    report = sched.tick()
    assert report is not None and report.raised == ["index_failing:payments"] and report.post_failures == 1
    assert open_alerts(world.db)[0].post_error


@with_alerts(reminder_hours=2)
def test_reminder_posts_a_standing_alert_again_after_its_interval(world: World, hook: Hook) -> None:
    src = world.catalog.add_source("payments", "git", "/p")
    world.catalog.finish_run(world.catalog.start_run(src.id), status="failed")
    world.service.check()
    world.later(hours=1)
    world.service.check()
    world.later(hours=1, minutes=1)
    world.service.check()
    world.later(minutes=30)
    world.service.check()
    assert [t.split("]")[0] for t in hook.texts] == ["[Sourcewise ALERT", "[Sourcewise STILL OPEN"]


def test_source_names_cannot_ping_the_channel(world: World, hook: Hook) -> None:
    src = world.catalog.add_source("<!channel>", "git", "/p")
    world.catalog.finish_run(world.catalog.start_run(src.id), status="failed")
    world.service.check()
    assert "<!channel>" not in hook.texts[0] and "&lt;!channel&gt;" in hook.texts[0]


def test_one_open_row_per_key_even_when_two_checks_race(world: World, hook: Hook, tmp_path: Path) -> None:
    src = world.catalog.add_source("payments", "git", "/p")
    world.catalog.finish_run(world.catalog.start_run(src.id), status="failed")
    other = AlertService(Database(world.url), world.settings, clock=lambda: world.clock[0])
    from assistant.ops.alert_rules import evaluate

    found = evaluate(world.db, world.settings.alerts, NOW)
    assert world.service._open(found.signals[0], NOW) is not None
    assert other._open(found.signals[0], NOW) is None  # the table refuses a second open row
    other.db.close()
    assert len(world.alerts()) == 1


def test_canary_gate_rule_reads_the_newest_canary_run_of_each_set(world: World, hook: Hook) -> None:
    from assistant.catalog.eval_schema import EvalRunRow

    failed_gate = {"passed": False, "failures": ["file_mrr fell 0.9 -> 0.7"],
                   "rows": [{"metric": "file_mrr", "status": "fail"}, {"metric": "pass_rate", "status": "ok"}]}

    def run(set_name: str, gate: dict | None, *, canary: bool = True) -> None:
        with world.db.session() as s:
            s.add(EvalRunRow(set_name=set_name, set_hash="h", status="done", generator="extractive",
                             settings={"canary": True} if canary else {}, metrics={}, breakdown={}, gate=gate,
                             baseline_id=1))

    run("fixture", None)
    run("fixture", failed_gate)
    run("feedback", failed_gate, canary=False)  # a plain `eval run` that regressed is no canary alert
    raise_once_then_resolve(world, hook, {"canary_gate:fixture"}, lambda: run("fixture", {"passed": True, "rows": []}))
    alert = list_alerts(world.db, include_resolved=True)[0]
    assert alert.details["failing_metrics"] == ["file_mrr"] and "file_mrr dropped" in alert.message
