"""Several worker processes against one real PostgreSQL catalog (``tests/fixtures/postgres.py``).

The workers are ``tests/integration/worker_process.py``: the production ``Worker`` with one
test-only job kind, ``test.record``, that logs each execution's start and end to a file.
The real index jobs cannot be shared between processes here (the embedded store admits
one process and there is no Qdrant server); the queue, the SKIP LOCKED claims, leases,
heartbeats, signals and reconnects are the real ones. The end-to-end runs of real index
jobs are in ``tests/integration/test_workers_index.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.catalog.db import Database
from assistant.catalog.jobs import JobQueue
from tests.fixtures.postgres import PostgresServer, pg_server, pg_url  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


class Workers:
    def __init__(self, url: str, home: Path) -> None:
        self.url, self.home = url, home
        self.procs: dict[str, subprocess.Popen[str]] = {}

    def start(self, name: str, *, once: bool = False, lease_s: float = 3.0) -> subprocess.Popen[str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SOURCEWISE_HOME": str(self.home),
               "SOURCEWISE_CATALOG__URL": self.url, "SOURCEWISE_WORKERS__HEARTBEAT_S": "0.3",
               "SOURCEWISE_WORKERS__LEASE_S": str(lease_s), "SOURCEWISE_WORKERS__POLL_S": "0.1",
               "SOURCEWISE_WORKERS__MAX_ATTEMPTS": "3"}
        log = open(self.home / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, "-m", "tests.integration.worker_process", name]
                                + (["--once"] if once else []), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=log, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", self.log(name)
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.home / f"{name}.log"
        return path.read_text() if path.exists() else ""

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
                raise AssertionError(f"worker {name} ignored SIGTERM:\n{self.log(name)}") from None


@pytest.fixture
def env(pg_url: str, tmp_path: Path) -> Iterator[tuple[JobQueue, Workers, Path]]:
    db = Database(pg_url)  # migrates: the workers find the table
    workers = Workers(pg_url, tmp_path)
    try:
        yield JobQueue(db, max_attempts=3), workers, tmp_path / "executions.jsonl"
    finally:
        for proc in workers.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        db.close()


def _executions(path: Path) -> dict[int, list[dict[str, Any]]]:
    by_job: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for line in path.read_text().splitlines() if path.exists() else []:
        entry = json.loads(line)
        by_job[entry["job"]].append(entry)
    return by_job


def _intervals(events: list[dict[str, Any]]) -> list[tuple[float, float, str]]:
    """(start, end, worker) per execution; an execution killed midway ends at +inf."""
    out = []
    for start in (e for e in events if e["event"] == "start"):
        end = next((e["t"] for e in events if e["event"] == "end" and e["worker"] == start["worker"]
                    and e["attempt"] == start["attempt"]), float("inf"))
        out.append((start["t"], end, start["worker"]))
    return out


def _wait_done(queue: JobQueue, ids: list[int], timeout: float, workers: Workers) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(not queue.get(i).active for i in ids):
            return
        time.sleep(0.2)
    logs = "\n".join(f"--- {n}\n{workers.log(n)[-3000:]}" for n in workers.procs)
    raise AssertionError(f"jobs still active: {[queue.get(i) for i in ids if queue.get(i).active]}\n{logs}")


def test_many_jobs_on_three_workers_each_run_exactly_once(env: tuple[JobQueue, Workers, Path]) -> None:
    queue, workers, log = env
    ids = [queue.enqueue("test.record", f"s{i % 8}", requested_by="root", dedupe=False,
                         params={"log": str(log), "steps": 2, "step_s": 0.02}).id for i in range(40)]
    for name in ("w1", "w2", "w3"):
        workers.start(name)
    _wait_done(queue, ids, 240, workers)
    workers.stop_all()
    runs = _executions(log)
    assert sorted(runs) == sorted(ids)
    for job_id in ids:
        starts = [e for e in runs[job_id] if e["event"] == "start"]
        assert len(starts) == 1 and len(runs[job_id]) == 2, runs[job_id]  # once, start to end
        assert queue.get(job_id).state == "done" and queue.get(job_id).attempts == 1
    assert len({e["worker"] for events in runs.values() for e in events}) >= 2  # the work was shared
    # Jobs of one source never overlap (a re-index and a removal of one source must not).
    by_source: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for events in runs.values():
        by_source[events[0]["source"]] += _intervals(events)
    for source, spans in by_source.items():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), source


def test_a_killed_workers_job_finishes_on_another_after_the_lease(env: tuple[JobQueue, Workers, Path]) -> None:
    queue, workers, log = env
    job = queue.enqueue("test.record", "app", requested_by="root",
                        params={"log": str(log), "steps": 12, "step_s": 0.25})
    victim = workers.start("victim", lease_s=3.0)
    deadline = time.monotonic() + 60
    while not _executions(log).get(job.id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _executions(log).get(job.id), workers.log("victim")
    victim.send_signal(signal.SIGKILL)  # no goodbye: its lease just stops being renewed
    victim.wait(10)
    assert queue.get(job.id).state == "running" and queue.get(job.id).worker == "victim"
    workers.start("heir", lease_s=3.0)
    _wait_done(queue, [job.id], 120, workers)
    done = queue.get(job.id)
    assert done.state == "done" and done.worker == "heir" and done.attempts == 2
    spans = _intervals(_executions(log)[job.id])
    assert [w for *_, w in spans] == ["victim", "heir"]
    assert spans[0][1] == float("inf") and spans[1][1] < float("inf")  # the victim never finished it
    workers.stop_all()


def test_a_worker_whose_connections_are_killed_recovers(env: tuple[JobQueue, Workers, Path],
                                                        pg_server: PostgresServer, pg_url: str) -> None:
    queue, workers, log = env
    dbname = pg_url.split("/")[-1].split("?")[0]
    ids = [queue.enqueue("test.record", f"s{i}", requested_by="root", dedupe=False,
                         params={"log": str(log), "steps": 10, "step_s": 0.2}).id for i in range(3)]
    workers.start("w1", lease_s=6.0)
    deadline = time.monotonic() + 60
    while not _executions(log) and time.monotonic() < deadline:
        time.sleep(0.05)
    for _ in range(3):  # mid-job, several times: every backend of the database is killed
        time.sleep(0.7)
        pg_server.terminate_connections(dbname)
    _wait_done(queue, ids, 180, workers)
    runs = _executions(log)
    for job_id in ids:
        view = queue.get(job_id)
        assert view.state == "done", (view, workers.log("w1")[-3000:])
        spans = _intervals(runs[job_id])
        finished = [s for s in spans if s[1] < float("inf")]
        assert len(finished) == 1, spans  # completed once (carried on, or retaken after a lost query)
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))  # never concurrently
    assert workers.procs["w1"].poll() is None  # the worker itself survived
    workers.stop_all()
    assert workers.procs["w1"].returncode == 0


def test_sigterm_lets_the_current_job_finish(env: tuple[JobQueue, Workers, Path]) -> None:
    queue, workers, log = env
    job = queue.enqueue("test.record", "app", requested_by="root",
                        params={"log": str(log), "steps": 8, "step_s": 0.1})
    later = queue.enqueue("test.record", "other", requested_by="root", dedupe=False,
                          params={"log": str(log), "steps": 1, "step_s": 0.01})
    proc = workers.start("w1")
    deadline = time.monotonic() + 60
    while not _executions(log).get(job.id) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    assert queue.get(job.id).state == "done"
    assert queue.get(later.id).state == "queued"  # it claimed nothing after the signal
