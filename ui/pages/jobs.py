"""Background re-index jobs inside the serving process, one at a time.

The embedded store admits one process, and the app already holds it, so indexing
requested from the admin or owner pages runs here, on one worker thread, using the
app's container. Jobs queue and run in order; each reports progress through the same
``start/advance/finish`` calls the pipeline makes for the CLI's progress bars, and its
state is kept in memory for the page to poll (the catalog keeps the durable run record).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from assistant.errors import ConfigError, SourceError, SourcewiseError

if TYPE_CHECKING:
    from assistant.container import Container

log = logging.getLogger("sourcewise.ui.jobs")

# (container, source name, full, progress) -> RunReport
Reindex = Callable[..., Any]
# Given the "index this source now" callable, does the job's work (e.g. mark a flag fixed).
Work = Callable[[Callable[[str], Any]], Any]

KEEP_FINISHED = 50
ACTIVE = ("queued", "running")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Job:
    """One requested re-index (possibly wrapped in an owner's 'mark fixed')."""

    id: int
    source: str
    requested_by: str
    full: bool = False
    label: str = "re-index"
    state: str = "queued"  # queued | running | done | failed
    tasks: dict[str, dict[str, int]] = field(default_factory=dict)
    current: str | None = None
    report: dict[str, Any] | None = None
    error: str | None = None
    created_at: datetime = field(default_factory=_now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    work: Work | None = field(default=None, repr=False)
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def percent(self) -> int:
        """Share of the current (or last) task done; 0 while scanning an unknown total."""
        task = self.tasks.get(self.current or "") or (list(self.tasks.values())[-1] if self.tasks else None)
        if self.state == "done":
            return 100
        if not task or not task["total"]:
            return 0
        return min(100, int(100 * task["done"] / task["total"]))

    def as_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id, "source": self.source, "label": self.label, "full": self.full,
            "requested_by": self.requested_by, "state": self.state, "current": self.current,
            "percent": self.percent, "tasks": {k: dict(v) for k, v in self.tasks.items()},
            "report": self.report, "error": self.error, "created_at": iso(self.created_at),
            "started_at": iso(self.started_at), "finished_at": iso(self.finished_at),
        }


class JobProgress:
    """The pipeline's progress sink, writing into a job for the page to poll."""

    def __init__(self, job: Job, lock: threading.Lock) -> None:
        self._job = job
        self._lock = lock

    def start(self, task: str, total: int) -> None:
        with self._lock:
            self._job.tasks[task] = {"done": 0, "total": int(total or 0)}
            self._job.current = task

    def advance(self, task: str, amount: int = 1) -> None:
        with self._lock:
            entry = self._job.tasks.setdefault(task, {"done": 0, "total": 0})
            entry["done"] += int(amount)

    def finish(self, task: str) -> None:
        with self._lock:
            entry = self._job.tasks.get(task)
            if entry is not None:
                entry["total"] = max(entry["total"], entry["done"])
                entry["done"] = entry["total"]


def report_json(report: Any) -> dict[str, Any]:
    """A RunReport as the page shows it (duck-typed: fakes work too)."""
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


def default_reindex(container: Container, name: str, *, full: bool = False, progress: Any = None) -> Any:
    from indexers.runner import index_source

    return index_source(container, name, full=full, progress=progress)


class IndexJobs:
    """A queue of re-index jobs and the one worker thread that runs them."""

    def __init__(self, container: Container, reindex: Reindex | None = None) -> None:
        self.container = container
        self.reindex = reindex or default_reindex
        self._lock = threading.Lock()
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, source: str, *, requested_by: str, full: bool = False, label: str = "re-index",
               work: Work | None = None) -> Job:
        """Queue a job; at most one queued or running job per source (that one is returned)."""
        with self._lock:
            if self._closed:
                raise ConfigError("the server is shutting down; try again after it restarts")
            for job in self._jobs.values():
                if job.source == source and job.active and work is None and job.work is None:
                    return job
            job = Job(next(self._ids), source, requested_by, full=full, label=label, work=work)
            self._jobs[job.id] = job
            self._trim()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sourcewise-index-jobs", daemon=True)
                self._thread.start()
        self._queue.put(job)
        return job

    def get(self, job_id: int) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def snapshot(self, job_id: int) -> dict[str, Any] | None:
        """A consistent copy of a job's state (the worker updates it concurrently)."""
        with self._lock:
            job = self._jobs.get(job_id)
            return job.as_json() if job else None

    def list(self, limit: int = 20) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.id, reverse=True)[:limit]

    def active_for(self, source: str) -> Job | None:
        with self._lock:
            return next((j for j in self._jobs.values() if j.source == source and j.active), None)

    def wait(self, job_id: int, timeout: float | None = None) -> Job:
        """Block until the job finishes (tests, and callers that must have the result)."""
        job = self.get(job_id)
        if job is None:
            raise KeyError(job_id)
        job.done.wait(timeout)
        return job

    def close(self, timeout: float = 5.0) -> None:
        """Stop taking jobs and let the worker finish the current one (app shutdown)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._queue.put(None)
        if thread is not None:
            thread.join(timeout)

    # -- worker ---------------------------------------------------------------
    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            self._execute(job)

    def _execute(self, job: Job) -> None:
        with self._lock:
            job.state, job.started_at = "running", _now()
        progress = JobProgress(job, self._lock)

        def index_now(name: str) -> Any:
            report = self.reindex(self.container, name, full=job.full, progress=progress)
            data = report_json(report)
            with self._lock:
                job.report = data
            if data.get("status") not in (None, "ok"):
                raise SourceError(data.get("error") or f"indexing {name} failed")
            return report

        try:
            if job.work is not None:
                job.work(index_now)
            else:
                index_now(job.source)
        except SourcewiseError as exc:
            self._finish(job, "failed", str(exc))
        except Exception as exc:  # one job crashing must not kill the worker
            log.exception("index job %s for %s failed", job.id, job.source)
            self._finish(job, "failed", f"unexpected error ({type(exc).__name__}); see the server log")
        else:
            self._finish(job, "done", None)

    def _finish(self, job: Job, state: str, error: str | None) -> None:
        with self._lock:
            job.state, job.error, job.finished_at = state, error, _now()
            job.current = None
        job.done.set()

    def _trim(self) -> None:
        finished = sorted((j for j in self._jobs.values() if not j.active), key=lambda j: j.id)
        for job in finished[:-KEEP_FINISHED] if len(finished) > KEEP_FINISHED else []:
            del self._jobs[job.id]


def jobs_for(app: Any) -> IndexJobs:
    """The app's job queue, created on first use (tests may set ``app.state.index_jobs``)."""
    state = app.state
    jobs = getattr(state, "index_jobs", None)
    if jobs is None:
        with _create_lock:
            jobs = getattr(state, "index_jobs", None)
            if jobs is None:
                jobs = IndexJobs(state.services.container)
                state.index_jobs = jobs
    return jobs  # type: ignore[no-any-return]


_create_lock = threading.Lock()
