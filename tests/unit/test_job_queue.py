"""The indexing job queue (``assistant.catalog.jobs``) on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from assistant.catalog.db import Database
from assistant.catalog.job_schema import IndexJobRow
from assistant.catalog.jobs import JobQueue
from assistant.catalog.schema import utcnow
from assistant.errors import ConfigError, NotFoundError
from tests.fixtures.postgres import pg_server, pg_url  # noqa: F401 - fixtures


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'catalog.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    database = Database(url)
    yield database
    database.close()


def _backdate(db: Database, job_id: int, column: str, ago: timedelta) -> None:
    with db.session() as s:
        s.execute(update(IndexJobRow).where(IndexJobRow.id == job_id).values({column: utcnow() - ago}))


def _age_heartbeat(db: Database, job_id: int, seconds: float) -> None:
    _backdate(db, job_id, "heartbeat_at", timedelta(seconds=seconds))


def test_enqueue_dedupes_an_identical_queued_job_only(db: Database) -> None:
    q = JobQueue(db)
    a = q.enqueue("index", "app", requested_by="root")
    assert q.enqueue("index", "app", requested_by="alice").id == a.id  # identical and queued
    full = q.enqueue("index", "app", requested_by="root", params={"full": True})
    assert full.id != a.id and full.full and full.label == "re-index"
    assert q.claim("w1", 60).id == a.id
    again = q.enqueue("index", "app", requested_by="root")  # a running one is not "queued"
    assert again.id not in (a.id, full.id)
    assert [j.id for j in q.list()] == [again.id, full.id, a.id]


def test_claim_order_one_job_per_source_and_outcomes(db: Database) -> None:
    q = JobQueue(db)
    a1 = q.enqueue("index", "a", requested_by="root")
    a2 = q.enqueue("remove", "a", requested_by="root")
    b1 = q.enqueue("index", "b", requested_by="root")
    first = q.claim("w1", 60)
    second = q.claim("w2", 60)
    assert (first.id, second.id) == (a1.id, b1.id)  # a2 waits for a1: same source
    assert q.claim("w3", 60) is None
    assert first.state == "running" and first.worker == "w1" and first.attempts == 1
    assert q.heartbeat(first, {"current": "embed", "tasks": {"embed": {"done": 1, "total": 4}}}) == "ok"
    assert q.get(a1.id).percent == 25 and q.get(a1.id).current == "embed"
    assert q.finish(first, "done", report={"status": "ok", "new": 2})
    assert q.get(a1.id).state == "done" and q.get(a1.id).percent == 100 and q.get(a1.id).report["new"] == 2
    assert q.claim("w3", 60).id == a2.id
    assert q.finish(second, "failed", error="cannot clone") and q.get(b1.id).error == "cannot clone"
    assert not q.finish(second, "done")  # finished: a second outcome is refused


def test_an_expired_lease_is_taken_over_and_the_old_holder_is_fenced_off(db: Database) -> None:
    q = JobQueue(db, max_attempts=3)
    job = q.enqueue("index", "app", requested_by="root")
    old = q.claim("w1", 60)
    assert q.claim("w2", 60) is None  # its lease is fresh
    _age_heartbeat(db, job.id, 120)
    new = q.claim("w2", 60)
    assert new.id == job.id and new.worker == "w2" and new.attempts == 2 and new.lease_id != old.lease_id
    assert q.heartbeat(old, {"current": "x", "tasks": {}}) == "lost"
    assert not q.finish(old, "done") and not q.release(old)
    assert q.heartbeat(new) == "ok" and q.finish(new, "done")


def test_a_job_is_failed_after_max_attempts(db: Database) -> None:
    q = JobQueue(db, max_attempts=2)
    job = q.enqueue("index", "app", requested_by="root")
    for worker in ("w1", "w2"):
        assert q.claim(worker, 60).id == job.id
        _age_heartbeat(db, job.id, 120)
    assert q.claim("w3", 60) is None
    failed = q.get(job.id)
    assert failed.state == "failed" and "gave up after 2 attempts" in failed.error


def test_release_requeues_without_counting_a_graceful_stop(db: Database) -> None:
    q = JobQueue(db, max_attempts=1)
    job = q.enqueue("index", "app", requested_by="root")
    held = q.claim("w1", 60)
    assert q.release(held)
    again = q.get(job.id)
    assert again.state == "queued" and again.attempts == 0 and again.worker is None
    held = q.claim("w2", 60)
    assert held.attempts == 1 and q.release(held, count_attempt=True, error="connection lost")
    assert q.claim("w3", 60) is None and q.get(job.id).state == "failed"


def test_cancel_queued_at_once_running_through_the_heartbeat(db: Database) -> None:
    q = JobQueue(db)
    running = q.claim("w1", 60) if q.enqueue("index", "a", requested_by="root") else None
    queued = q.enqueue("index", "b", requested_by="root", params={"full": True})
    assert q.cancel(queued.id).state == "cancelled"
    assert q.claim("w2", 60) is None  # the cancelled one is never claimed
    assert q.cancel(running.id).cancel_requested
    assert q.heartbeat(running) == "cancel"
    assert q.finish(running, "cancelled", error="cancelled while running")
    with pytest.raises(ConfigError, match="already cancelled"):
        q.cancel(running.id)
    with pytest.raises(NotFoundError):
        q.cancel(999)


def test_concurrent_claims_never_hand_out_one_job_twice(db: Database) -> None:
    q = JobQueue(db)
    ids = {q.enqueue("index", f"s{i}", requested_by="root").id for i in range(30)}
    got: list[int] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while True:
            job = q.claim(name, 60)
            if job is None:
                if not q.list(100, states=["queued"]):
                    return
                continue
            with lock:
                got.append(job.id)
            assert q.finish(job, "done")

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(got) == sorted(ids)  # each job exactly once


def test_wait_returns_the_last_state(db: Database) -> None:
    q = JobQueue(db)
    job = q.enqueue("index", "a", requested_by="root")
    assert q.wait(job.id, timeout=0.2, poll_s=0.05).state == "queued"
    held: Any = q.claim("w", 60)
    q.finish(held, "done")
    assert q.wait(job.id, timeout=5).state == "done"


def test_prune_deletes_only_finished_jobs_past_the_cutoff(db: Database) -> None:
    q = JobQueue(db)
    old_done = q.enqueue("index", "a", requested_by="root")
    q.finish(q.claim("w1", 60), "done")
    old_failed = q.enqueue("index", "b", requested_by="root")
    q.finish(q.claim("w1", 60), "failed", error="boom")
    old_cancelled = q.cancel(q.enqueue("index", "c", requested_by="root").id)
    recent = q.enqueue("index", "d", requested_by="root")
    q.finish(q.claim("w1", 60), "done")
    running = q.enqueue("index", "e", requested_by="root")
    assert q.claim("w1", 60).id == running.id
    queued = q.enqueue("index", "f", requested_by="root")
    for job in (old_done, old_failed, old_cancelled):
        _backdate(db, job.id, "finished_at", timedelta(days=31))
    _backdate(db, recent.id, "finished_at", timedelta(days=29))
    assert q.prune(timedelta(days=30)) == 3
    assert {j.id for j in q.list(50)} == {recent.id, running.id, queued.id}
    assert q.prune(timedelta(days=30)) == 0  # idempotent
