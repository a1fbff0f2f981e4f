"""The indexing worker: claims jobs from the catalog's queue and runs them.

One loop, run by ``sourcewise worker`` processes (any number, on any machines sharing a
PostgreSQL catalog and a Qdrant server) or as one thread inside ``sourcewise serve``
(SQLite catalog or the embedded store: one process holds them). For each job it claims
(``assistant.catalog.jobs.JobQueue``), a heartbeat thread writes the job's progress every
``workers.heartbeat_s``; the pipeline's progress callbacks fill that progress in memory.

A worker never runs a job it no longer holds: when a heartbeat says the lease is lost
(another worker took the job over), or no heartbeat has got through for most of the
lease (the database is unreachable), the next progress callback raises ``JobInterrupted``
and the run stops without writing an outcome. A heartbeat that fails because the
connection died is simply tried again: the engine opens a new connection, and the job
carries on. A job whose handler fails because the database went away is released back
to the queue (counted as an attempt), not marked failed.

Stopping: the first SIGTERM/SIGINT lets the current job finish and claims no more; a
second one interrupts it and gives it back to the queue for another worker.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError

from assistant.catalog.jobs import JobQueue, JobView
from assistant.errors import NotFoundError, PermissionDeniedError, RunStopped, SourceError, SourcewiseError
from assistant.settings import WorkerSettings

log = logging.getLogger("sourcewise.worker")

# (container, source name, full=..., progress=...) -> RunReport; tests give a fake
Reindex = Callable[..., Any]
Handler = Callable[["JobContext"], "dict[str, Any] | None"]
PRUNE_EVERY_S = 3600.0  # an idle worker prunes the job history at most this often
PROGRESS_MIN_S = 1.0  # progress moves reach the catalog at most this often (and every heartbeat)


class JobInterrupted(RunStopped):
    """Raised inside a running job when it must stop: ``reason`` is lost, cancel or stop."""


class JobProgress:
    """The pipeline's progress sink (``start/advance/finish``): kept in memory for the
    heartbeat to write, and the place a job learns that it must stop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tasks: dict[str, dict[str, int]] = {}
        self.current: str | None = None
        self.stop_reason: str | None = None
        self.changed = threading.Event()  # wakes the heartbeat for a (throttled) progress write

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"current": self.current, "tasks": {k: dict(v) for k, v in self.tasks.items()}}

    def check(self) -> None:
        if self.stop_reason is not None:
            raise JobInterrupted(self.stop_reason)

    def start(self, task: str, total: int) -> None:
        self.check()
        with self._lock:
            self.tasks[task] = {"done": 0, "total": int(total or 0)}
            self.current = task
        self.changed.set()

    def advance(self, task: str, amount: int = 1) -> None:
        self.check()
        with self._lock:
            entry = self.tasks.setdefault(task, {"done": 0, "total": 0})
            entry["done"] += int(amount)
        self.changed.set()

    def finish(self, task: str) -> None:
        with self._lock:
            entry = self.tasks.get(task)
            if entry is not None:
                entry["total"] = max(entry["total"], entry["done"])
                entry["done"] = entry["total"]


def report_json(report: Any) -> dict[str, Any]:
    """A RunReport as the pages show it (duck-typed: fakes work too)."""
    if report is None:
        return {}
    if isinstance(report, dict):
        return dict(report)
    data: dict[str, Any] = dict(report.counts()) if hasattr(report, "counts") else {}
    for key in ("status", "version", "error"):
        data[key] = getattr(report, key, None)
    data["seconds"] = round(float(getattr(report, "seconds", 0.0) or 0.0), 3)
    data["failures"] = len(getattr(report, "failures", ()) or ())
    return data


@dataclass
class JobContext:
    """What a handler gets: the container, its job, the progress sink, and ``index_now``."""

    container: Any
    job: JobView
    progress: JobProgress
    reindex: Reindex
    report: dict[str, Any] | None = None

    def index_now(self, name: str) -> Any:
        """Index ``name`` with this job's progress; a failed run raises ``SourceError``."""
        report = self.reindex(self.container, name, full=self.job.full, progress=self.progress)
        self.report = report_json(report)
        if self.report.get("status") not in (None, "ok"):
            raise SourceError(self.report.get("error") or f"indexing {name} failed")
        return report

    def account(self) -> Any:
        """The person who asked, with their rights now (they are checked again at run time)."""
        account = self.container.users.get(self.job.requested_by)
        if account is None or account.disabled:
            raise PermissionDeniedError(f"{self.job.requested_by} can no longer act (unknown or disabled)")
        return account


def _need_source(ctx: JobContext) -> str:
    if not ctx.job.source:
        raise NotFoundError("the job names no source")
    return ctx.job.source


def _index(ctx: JobContext) -> None:
    ctx.index_now(_need_source(ctx))


def _access(ctx: JobContext) -> None:
    from indexers.admin import update_source

    params = ctx.job.params
    update_source(ctx.container, _need_source(ctx), actor=ctx.job.requested_by, groups=params["groups"],
                  classification=params.get("classification") or None)


def _remove(ctx: JobContext) -> None:
    from indexers.admin import remove_source

    remove_source(ctx.container, _need_source(ctx), actor=ctx.job.requested_by)


def _mark_fixed(ctx: JobContext) -> None:
    params = ctx.job.params
    ctx.container.owners.mark_fixed(params["doc_id"], ctx.account(), ctx.index_now, note=params.get("note"))


def _finding_fixed(ctx: JobContext) -> None:
    ctx.container.findings.mark_fixed(int(ctx.job.params["finding_id"]), ctx.account(), ctx.index_now)


HANDLERS: dict[str, Handler] = {"index": _index, "access": _access, "remove": _remove,
                                "mark_fixed": _mark_fixed, "finding_fixed": _finding_fixed}


def default_reindex(container: Any, name: str, *, full: bool = False, progress: Any = None) -> Any:
    from indexers.runner import index_source

    return index_source(container, name, full=full, progress=progress)


def default_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Worker:
    """Claims and runs jobs until told to stop (see the module doc)."""

    container: Any
    settings: WorkerSettings | None = None
    name: str = field(default_factory=default_name)
    handlers: dict[str, Handler] = field(default_factory=lambda: dict(HANDLERS))
    reindex: Reindex = default_reindex
    stopping: threading.Event = field(default_factory=threading.Event)
    interrupting: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.settings = self.settings or self.container.settings.workers
        self.current: JobView | None = None
        self._progress: JobProgress | None = None
        self._pruned_at: float | None = None  # monotonic time of the last history prune

    @property
    def queue(self) -> JobQueue:
        return self.container.jobs  # type: ignore[no-any-return]

    def stop(self, interrupt: bool = False) -> None:
        """Claim no more jobs; with ``interrupt``, also give the current one back."""
        self.stopping.set()
        if interrupt:
            self.interrupting.set()
            progress = self._progress
            if progress is not None:
                progress.stop_reason = progress.stop_reason or "stop"

    def run(self, *, once: bool = False, max_jobs: int | None = None) -> int:
        """Run jobs until stopped (``once``: until the queue is empty); returns jobs run."""
        ran = 0
        while not self.stopping.is_set() and (max_jobs is None or ran < max_jobs):
            try:
                did = self.run_one()
            except (OperationalError, DBAPIError) as exc:  # the catalog is down: wait and try again
                log.warning("worker %s cannot reach the catalog (%s); retrying", self.name, type(exc).__name__)
                did = False
                if once:
                    raise
            if did:
                ran += 1
                continue
            if once:
                break
            self._prune_history()
            self.stopping.wait(self.settings.poll_s)  # type: ignore[union-attr]
        return ran

    def _prune_history(self) -> None:
        """While idle, about once an hour: drop finished jobs older than ``keep_finished_days``."""
        days = self.settings.keep_finished_days  # type: ignore[union-attr]
        now = time.monotonic()
        if not days or (self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY_S):
            return
        self._pruned_at = now
        try:
            gone = self.queue.prune(timedelta(days=days))
        except (OperationalError, DBAPIError) as exc:  # the next idle hour tries again
            log.warning("worker %s could not prune old jobs (%s)", self.name, type(exc).__name__)
            return
        if gone:
            log.info("worker %s deleted %d finished jobs older than %d days", self.name, gone, days)

    def run_one(self) -> bool:
        """Claim one job and run it; False when there was nothing to claim."""
        cfg = self.settings
        assert cfg is not None
        job = self.queue.claim(self.name, cfg.lease_s, kinds=self.handlers)
        if job is None:
            return False
        self.current = job
        log.info("worker %s runs job %s (%s %s, attempt %s)", self.name, job.id, job.kind, job.source, job.attempts)
        progress = self._progress = JobProgress()
        if self.interrupting.is_set():
            progress.stop_reason = "stop"
        beat = _Heartbeat(self.queue, job, progress, cfg)
        beat.start()
        try:
            outcome = self._execute(job, progress)
        finally:
            beat.stop()
            self.current = self._progress = None
        self._record(job, progress, beat, *outcome)
        return True

    def _execute(self, job: JobView, progress: JobProgress) -> tuple[str, str | None, dict[str, Any] | None]:
        ctx = JobContext(self.container, job, progress, self.reindex)
        handler = self.handlers[job.kind]
        try:
            handler(ctx)
        except JobInterrupted as exc:
            return exc.reason, None, ctx.report
        except (OperationalError, DBAPIError) as exc:
            log.warning("job %s lost the catalog mid-run (%s); giving it back to the queue", job.id, exc)
            return "retry", f"the catalog connection was lost ({type(exc).__name__}); retried", ctx.report
        except SourcewiseError as exc:
            return "failed", str(exc), ctx.report
        except Exception as exc:  # one job crashing must not kill the worker
            if progress.stop_reason is not None:  # the pipeline re-raised our interruption wrapped
                return progress.stop_reason, None, ctx.report
            log.exception("job %s (%s %s) failed", job.id, job.kind, job.source)
            return "failed", f"unexpected error ({type(exc).__name__}); see the worker's log", ctx.report
        return "done", None, ctx.report

    def _record(self, job: JobView, progress: JobProgress, beat: _Heartbeat, outcome: str, error: str | None,
                report: dict[str, Any] | None) -> None:
        """Write the outcome, retrying through a lost connection while the lease lasts."""
        cfg = self.settings
        assert cfg is not None
        deadline = beat.last_ok + cfg.lease_s
        snap = progress.snapshot()
        while True:
            try:
                if outcome == "lost":
                    log.warning("job %s was taken over by another worker; %s dropped it", job.id, self.name)
                    return
                if outcome in ("stop", "retry"):
                    ok = self.queue.release(job, count_attempt=outcome == "retry", error=error)
                elif outcome == "cancel":
                    ok = self.queue.finish(job, "cancelled", error="cancelled while running", report=report,
                                           progress=snap)
                else:
                    ok = self.queue.finish(job, outcome, error=error, report=report, progress=snap)
                if not ok:
                    log.warning("job %s: %s no longer holds it; its outcome (%s) is dropped", job.id, self.name,
                                outcome)
                return
            except (OperationalError, DBAPIError):
                if time.monotonic() > deadline:
                    log.error("job %s: could not record its outcome before the lease ran out; another worker "
                              "will run it again", job.id)
                    return
                time.sleep(min(1.0, cfg.heartbeat_s))


class _Heartbeat:
    """Writes the job's progress every ``heartbeat_s``; tells the job to stop when it must."""

    def __init__(self, queue: JobQueue, job: JobView, progress: JobProgress, cfg: WorkerSettings) -> None:
        self.queue, self.job, self.progress, self.cfg = queue, job, progress, cfg
        self.last_ok = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sourcewise-heartbeat-{job.id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self.progress.changed.set()
        self._thread.join(timeout=self.cfg.heartbeat_s + 5)

    def _run(self) -> None:
        # A lease is safe while a heartbeat got through within its first 80 %: past that,
        # another worker may take the job, so this one stops before it could.
        safe_s = self.cfg.lease_s * 0.8
        throttle = min(PROGRESS_MIN_S, self.cfg.heartbeat_s)
        last_write = 0.0
        while True:
            # Every heartbeat_s, or sooner when the progress moved, but at most every `throttle`.
            self.progress.changed.wait(self.cfg.heartbeat_s)
            gap = throttle - (time.monotonic() - last_write)
            if self._done.is_set() or (gap > 0 and self._done.wait(gap)):
                return
            self.progress.changed.clear()
            last_write = time.monotonic()
            try:
                state = self.queue.heartbeat(self.job, self.progress.snapshot())
            except (OperationalError, DBAPIError) as exc:
                log.warning("job %s: heartbeat failed (%s); reconnecting", self.job.id, type(exc).__name__)
                if time.monotonic() - self.last_ok > safe_s:
                    self.progress.stop_reason = "lost"
                continue
            if state == "ok":
                self.last_ok = time.monotonic()
            elif state == "cancel":
                self.last_ok = time.monotonic()
                self.progress.stop_reason = self.progress.stop_reason or "cancel"
            else:
                self.progress.stop_reason = "lost"
                return


def install_signal_handlers(worker: Worker) -> None:
    """SIGTERM/SIGINT: finish the current job and stop; a second one gives the job back."""

    def handle(signum: int, _frame: Any) -> None:
        if worker.stopping.is_set():
            log.warning("worker %s: second signal, giving the current job back", worker.name)
            worker.stop(interrupt=True)
        else:
            log.warning("worker %s: stopping after the current job (signal again to give it back)", worker.name)
            worker.stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


class WorkerThread:
    """One worker inside ``sourcewise serve`` (or a test's app), on a daemon thread."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self._thread = threading.Thread(target=self._run, name="sourcewise-worker", daemon=True)

    def _run(self) -> None:
        while not self.worker.stopping.is_set():
            try:
                self.worker.run()
            except Exception:  # never let the server's worker die for good
                log.exception("the server's indexing worker failed; restarting it")
                self.worker.stopping.wait(self.worker.settings.poll_s)  # type: ignore[union-attr]

    def start(self) -> WorkerThread:
        self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Claim no more; wait briefly for the current job (the server is shutting down)."""
        self.worker.stop()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.worker.stop(interrupt=True)
            self._thread.join(timeout)


def runs_in_serve(settings: Any) -> bool:
    """Whether ``sourcewise serve`` runs a worker thread (``workers.in_serve``)."""
    mode = settings.workers.in_serve
    if mode != "auto":
        return mode == "always"
    return settings.catalog_url.startswith("sqlite") or settings.store.backend == "edge"
