"""The scheduler's canary thread: started when due, never two at once, and a tick never
raises (a broken canary or check is logged). The canary is a stand-in callable here; the
real one runs in tests/integration/test_canary_alert.py."""

from __future__ import annotations

import threading
from pathlib import Path

from assistant.catalog.db import Database
from assistant.ops.alerts import AlertScheduler, AlertService
from assistant.settings import Settings


def test_canary_runs_in_its_own_thread_never_two_at_once(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/c.db")
    release, started = threading.Event(), []

    def canary() -> None:
        started.append(1)
        release.wait(10)

    sched = AlertScheduler(AlertService(db, Settings(home=tmp_path)), interval_s=60, canary=canary,
                           canary_due=lambda now: True)
    sched.tick()
    first = sched._canary_thread
    assert first is not None and sched.canary_running
    sched.tick()
    sched.tick()
    assert sched._canary_thread is first  # still the one: no second run while it runs
    release.set()
    first.join(5)
    assert not sched.canary_running and started == [1]
    sched.tick()  # done: the next due tick starts another
    sched._canary_thread.join(5)
    assert started == [1, 1]
    db.close()


def test_a_broken_canary_or_check_never_escapes_tick(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/c.db")

    def canary() -> None:
        raise RuntimeError("model missing")

    sched = AlertScheduler(AlertService(db, Settings(home=tmp_path)), interval_s=60, canary=canary,
                           canary_due=lambda now: True)
    assert sched.tick() is not None
    sched._canary_thread.join(5)
    assert not sched.canary_running
    with db.engine.begin() as conn:  # a catalog the check cannot write to
        conn.exec_driver_sql("DROP TABLE alerts")
    assert sched.tick() is None  # logged, not raised
    db.close()


def test_two_processes_delivering_at_once_post_each_alert_once(tmp_path: Path) -> None:
    """Two app replicas each run the scheduler: an owed post is claimed by one of them."""
    from datetime import UTC, datetime

    from assistant.ops.alert_rules import Signal

    db = Database(f"sqlite:///{tmp_path / 'catalog.db'}")
    settings = Settings(home=tmp_path, alerts={"webhook_url": "https://hooks.example.com/x"})
    posts: list[str] = []

    def other_replica_post(url: str, body: dict) -> None:
        posts.append(body["text"])

    replica_b = AlertService(db, settings, poster=other_replica_post)

    def replica_a_post(url: str, body: dict) -> None:
        posts.append(body["text"])
        # while A's post is in flight, B delivers: the alert is still unsent, but A holds it
        assert replica_b.deliver() == (0, 0)

    replica_a = AlertService(db, settings, poster=replica_a_post)
    now = datetime.now(UTC)
    assert replica_a._open(Signal("index_failing", "app", "Source app: its last run failed"), now) is not None
    assert replica_a.deliver(now) == (1, 0)
    assert len(posts) == 1 and "ALERT" in posts[0]
    assert replica_b.deliver(now) == (0, 0)  # sent: nothing owed any more
