"""The alert scheduler inside the server app: ``create_server_app`` builds it from the
settings, its lifespan starts and stops the thread, an explicit ``tick`` (no sleeping)
raises an alert from the real catalog and posts it to a real loopback webhook, and the
canary is due by the catalog's last canary run (so a restart does not re-run it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from assistant.catalog.eval_schema import EvalRunRow
from assistant.container import Container
from assistant.ops.alerts import open_alerts
from assistant.settings import load_settings
from tests.integration.test_alerts import Hook
from tests.security.identity_support import FAST_HASH, server_app


def test_serve_starts_ticks_and_stops_the_alert_scheduler(tmp_path: Path) -> None:
    hook = Hook()
    try:
        container = Container(load_settings(home=tmp_path, ui={"public_url": "https://sw.example"},
                                             auth=FAST_HASH, alerts={"webhook_url": hook.url, "interval_s": 3600}))
        src = container.catalog.add_source("payments", "git", "/nowhere")
        container.catalog.finish_run(container.catalog.start_run(src.id), status="failed")
        with server_app(container, chat=False) as app:
            sched = app.state.alert_scheduler
            assert sched is not None and sched._canary is None  # canary_interval_hours 0: no canary
            with TestClient(app):
                assert sched._thread is not None and sched._thread.is_alive()
                report = sched.tick()
                assert report is not None and report.raised == ["index_failing:payments"]
                [alert] = open_alerts(container.db)
                assert hook.texts == [f"[Sourcewise ALERT] index_failing:payments: {alert.message}\n"
                                      f"https://sw.example/admin/health#alert-{alert.id}"]
                assert sched.tick().standing == ["index_failing:payments"] and len(hook.bodies) == 1
            assert sched._stop.is_set()  # shutdown stopped it
            sched._thread.join(timeout=5)
            assert not sched._thread.is_alive()
        container.close()
    finally:
        hook.close()


def test_alerts_disabled_builds_no_scheduler(tmp_path: Path) -> None:
    container = Container(load_settings(home=tmp_path, auth=FAST_HASH, alerts={"enabled": False}))
    with server_app(container, chat=False) as app:
        assert app.state.alert_scheduler is None
    container.close()


def test_the_canary_is_due_by_the_catalogs_last_canary_run(tmp_path: Path) -> None:
    from ui.alert_scheduler import alert_scheduler

    now = [datetime(2026, 12, 7, 12, 0, tzinfo=UTC)]
    container = Container(load_settings(home=tmp_path, alerts={"canary_interval_hours": 6, "canary_set": "fixture"}))
    sched = alert_scheduler(container, clock=lambda: now[0])
    assert sched is not None and sched._canary is not None
    assert sched._canary_due(now[0])  # never ran: due

    def canary_run(at: datetime, *, canary: bool = True, set_name: str = "fixture") -> None:
        with container.db.session() as s:
            s.add(EvalRunRow(set_name=set_name, set_hash="h", status="done", generator="extractive",
                             settings={"canary": True} if canary else {}, metrics={}, breakdown={},
                             created_at=at, finished_at=at))

    canary_run(now[0] - timedelta(hours=7), canary=False)  # a plain eval run is not a canary run
    canary_run(now[0] - timedelta(hours=1), set_name="other")  # nor is another set's
    assert sched._canary_due(now[0])
    canary_run(now[0] - timedelta(hours=2))
    assert not sched._canary_due(now[0])
    assert sched._canary_due(now[0] + timedelta(hours=4, minutes=1))
    container.close()
