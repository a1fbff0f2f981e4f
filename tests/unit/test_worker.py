"""The indexing worker (``indexers.worker``) on a real SQLite catalog with a fake re-index:
order, outcomes, progress heartbeats, cancel, lost leases, lost connections, stopping."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from assistant.container import Container
from assistant.errors import SourceError
from assistant.settings import WorkerSettings, load_settings
from indexers.worker import JobContext, Worker, runs_in_serve
from tests.unit.ui.pages.conftest import FakeReport

FAST = WorkerSettings(poll_s=0.02, heartbeat_s=0.05, lease_s=30)


@pytest.fixture
def container(tmp_path: Path) -> Any:
    c = Container(load_settings(home=tmp_path / "home"))
    yield c
    c.close()


def _worker(container: Any, reindex: Any, **kw: Any) -> Worker:
    return Worker(container, settings=kw.pop("settings", FAST), name=kw.pop("name", "w1"), reindex=reindex, **kw)


def test_jobs_run_one_at_a_time_in_order(container: Any) -> None:
    ran: list[tuple[str, bool]] = []

    def reindex(c: Any, name: str, *, full: bool = False, progress: Any = None) -> FakeReport:
        ran.append((name, full))
        return FakeReport(name)

    q = container.jobs
    a, b, c = (q.enqueue("index", n, requested_by="root", params={"full": n == "b"}) for n in "abc")
    assert _worker(container, reindex).run(once=True) == 3
    assert ran == [("a", False), ("b", True), ("c", False)]
    assert [q.get(j.id).state for j in (a, b, c)] == ["done"] * 3
    assert q.get(a.id).report["new"] == 1 and q.get(a.id).worker == "w1"


def test_a_failing_job_does_not_stop_the_worker(container: Any) -> None:
    def reindex(c: Any, name: str, *, full: bool = False, progress: Any = None) -> FakeReport:
        if name == "boom":
            raise RuntimeError("disk on fire")
        if name == "bad":
            raise SourceError("cannot clone https://git.example.com/bad.git")
        return FakeReport(name, status="failed", error="ref nope not found") if name == "ref" else FakeReport(name)

    q = container.jobs
    boom, bad, ref, ok = (q.enqueue("index", n, requested_by="root") for n in ("boom", "bad", "ref", "ok"))
    assert _worker(container, reindex).run(once=True) == 4
    boom, bad, ref, ok = (q.get(j.id) for j in (boom, bad, ref, ok))
    assert boom.state == "failed" and "RuntimeError" in boom.error and "disk on fire" not in boom.error
    assert bad.error == "cannot clone https://git.example.com/bad.git"
    assert ref.error == "ref nope not found" and ref.report["status"] == "failed"
    assert ok.state == "done" and ok.report["new"] == 1


def test_heartbeats_write_progress_and_a_cancel_stops_the_job(container: Any) -> None:
    gate, stepped = threading.Event(), threading.Event()
    seen: list[Any] = []

    def reindex(c: Any, name: str, *, full: bool = False, progress: Any = None) -> FakeReport:
        progress.start("embed", 4)
        progress.advance("embed", 1)
        stepped.set()
        assert gate.wait(30)
        progress.advance("embed", 1)  # the cancel lands here
        seen.append("not reached")
        return FakeReport(name)

    q = container.jobs
    job = q.enqueue("index", "app", requested_by="root")
    worker = _worker(container, reindex)
    t = threading.Thread(target=worker.run, kwargs={"once": True})
    t.start()
    assert stepped.wait(30)
    for _ in range(600):  # the heartbeat (every 50 ms) carries the progress
        view = q.get(job.id)
        if view.percent == 25:
            break
        threading.Event().wait(0.05)
    assert view.state == "running" and view.current == "embed" and view.percent == 25
    assert q.cancel(job.id).cancel_requested
    threading.Event().wait(0.3)  # a heartbeat (every 50 ms) sees the request
    gate.set()
    t.join(30)
    done = q.get(job.id)
    assert done.state == "cancelled" and seen == []


def test_a_job_whose_lease_is_lost_stops_without_an_outcome(container: Any) -> None:
    gate, stepped = threading.Event(), threading.Event()

    def reindex(c: Any, name: str, *, full: bool = False, progress: Any = None) -> FakeReport:
        progress.start("embed", 2)
        stepped.set()
        assert gate.wait(30)
        progress.advance("embed", 1)
        return FakeReport(name)

    q = container.jobs
    job = q.enqueue("index", "app", requested_by="root")
    worker = _worker(container, reindex)
    t = threading.Thread(target=worker.run, kwargs={"once": True})
    t.start()
    assert stepped.wait(30)
    # Another worker takes the job over (as after an expired lease): a new lease id.
    from sqlalchemy import update

    from assistant.catalog.job_schema import IndexJobRow
    with container.db.session() as s:
        s.execute(update(IndexJobRow).where(IndexJobRow.id == job.id).values(lease_id="other", worker="w2"))
    threading.Event().wait(0.3)
    gate.set()
    t.join(30)
    after = q.get(job.id)
    assert after.state == "running" and after.worker == "w2" and after.report is None  # untouched


def test_a_lost_database_mid_job_gives_the_job_back(container: Any) -> None:
    def reindex(c: Any, name: str, *, full: bool = False, progress: Any = None) -> FakeReport:
        raise OperationalError("UPDATE documents", {}, Exception("server closed the connection"))

    q = container.jobs
    job = q.enqueue("index", "app", requested_by="root")
    assert _worker(container, reindex).run(max_jobs=1) == 1
    again = q.get(job.id)
    assert again.state == "queued" and again.attempts == 1 and "connection was lost" in again.error


def test_an_interrupting_stop_gives_the_job_back_uncounted(container: Any) -> None:
    stepped = threading.Event()
    worker: Worker

    def reindex(c: Any, name: str, *, full: bool = False, progress: Any = None) -> FakeReport:
        progress.start("scan", 0)
        stepped.set()
        worker.stop(interrupt=True)  # as a second SIGTERM would, mid-run
        progress.advance("scan", 1)
        return FakeReport(name)

    q = container.jobs
    job = q.enqueue("index", "app", requested_by="root")
    worker = _worker(container, reindex)
    worker.run()
    again = q.get(job.id)
    assert stepped.is_set() and again.state == "queued" and again.attempts == 0 and again.worker is None


def test_handlers_check_the_requester_again_at_run_time(container: Any) -> None:
    container.users.create("alice", password="alice-password", groups=["payments"])
    q = container.jobs
    calls: list[str] = []
    handlers = {"probe": lambda ctx: calls.append(ctx.account().name)}
    ok = q.enqueue("probe", "app", requested_by="alice")
    gone = q.enqueue("probe", "app", requested_by="mallory", dedupe=False)
    _worker(container, lambda *a, **k: None, handlers=handlers).run(once=True)
    assert calls == ["alice"] and q.get(ok.id).state == "done"
    assert q.get(gone.id).state == "failed" and "can no longer act" in q.get(gone.id).error


def test_a_worker_claims_only_kinds_it_handles(container: Any) -> None:
    q = container.jobs
    other = q.enqueue("something-else", "x", requested_by="root")
    assert _worker(container, lambda *a, **k: None, handlers={"index": lambda ctx: None}).run(once=True) == 0
    assert q.get(other.id).state == "queued"


def test_context_index_now_raises_on_a_failed_run(container: Any) -> None:
    job = container.jobs.enqueue("index", "app", requested_by="root")
    ctx = JobContext(container, job, None, lambda c, n, full, progress: FakeReport(n, status="failed", error="x"))
    with pytest.raises(SourceError, match="x"):
        ctx.index_now("app")


@pytest.mark.parametrize(("mode", "catalog", "backend", "expected"), [
    ("auto", None, "edge", True), ("auto", "postgresql+psycopg://u@h/db", "edge", True),
    ("auto", None, "server", True), ("auto", "postgresql+psycopg://u@h/db", "server", False),
    ("never", None, "edge", False), ("always", "postgresql+psycopg://u@h/db", "server", True),
])
def test_runs_in_serve(tmp_path: Path, mode: str, catalog: str | None, backend: str, expected: bool) -> None:
    settings = load_settings(home=tmp_path, workers={"in_serve": mode}, catalog={"url": catalog},
                             store={"backend": backend})
    assert runs_in_serve(settings) is expected


def test_an_idle_worker_prunes_old_finished_jobs_at_most_hourly(container: Any) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from assistant.catalog.job_schema import IndexJobRow
    from assistant.catalog.schema import utcnow

    q = container.jobs
    old = q.cancel(q.enqueue("index", "a", requested_by="root").id)

    def age(job_id: int) -> None:
        with container.db.session() as s:
            s.execute(update(IndexJobRow).where(IndexJobRow.id == job_id)
                      .values(finished_at=utcnow() - timedelta(days=40)))

    age(old.id)
    worker = _worker(container, None, settings=FAST.model_copy(update={"keep_finished_days": 30}))
    worker._prune_history()
    assert q.get(old.id) is None
    later = q.cancel(q.enqueue("index", "b", requested_by="root").id)
    age(later.id)
    worker._prune_history()  # within the hour: not again
    assert q.get(later.id) is not None
    keep = _worker(container, None, settings=FAST.model_copy(update={"keep_finished_days": 0}))
    keep._prune_history()  # 0: keep forever
    assert q.get(later.id) is not None


def test_lease_must_outlive_heartbeats() -> None:
    with pytest.raises(ValueError, match="twice heartbeat_s"):
        WorkerSettings(heartbeat_s=10, lease_s=15)
