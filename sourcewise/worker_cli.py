"""``sourcewise worker`` and ``sourcewise jobs ...``: run indexing jobs from the catalog's
queue, and list, show, cancel or prune them.

Workers need a catalog every worker and app replica shares (PostgreSQL) and a store they
can all open (a Qdrant server); with SQLite and the embedded store the worker runs inside
``sourcewise serve`` instead, and ``sourcewise worker`` takes the data directory's writer
lock as ``sourcewise index`` does. The local CLI acts as an admin, so these are admin
doors: anyone who can run them can read the data directory anyway.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from assistant.errors import ConfigError, NotFoundError
from sourcewise.context import cli_actor, open_container

jobs_app = typer.Typer(no_args_is_help=True, help="Indexing jobs in the catalog: list, show, cancel, prune.")
console = Console(highlight=False)
err = Console(stderr=True, highlight=False)
log = logging.getLogger("sourcewise.worker")


def worker(
    name: Annotated[Optional[str], typer.Option("--name", help="This worker's name in the jobs (default host:pid).")] = None,
    once: Annotated[bool, typer.Option("--once", help="Run what is queued, then exit.")] = False,
    max_jobs: Annotated[Optional[int], typer.Option("--max-jobs", min=1, help="Exit after this many jobs.")] = None,
) -> None:
    """Claim indexing jobs from the catalog and run them until stopped (SIGTERM/Ctrl-C:
    finish the current job; a second signal gives it back to the queue)."""
    from indexers.worker import Worker, default_name, install_signal_handlers

    logging.getLogger("sourcewise").setLevel(logging.INFO)
    # The embedded store admits one process: take the writer lock, as `index` does.
    from assistant.settings import load_settings

    write = load_settings().store.backend == "edge"
    with open_container(write=write) as c:
        c.db  # noqa: B018 - migrations before the first claim
        if write:
            # The embedded store admits one process: fail now (LockedError's advice, e.g. while
            # `serve` holds it and runs the jobs itself), not on each job claimed.
            c.store  # noqa: B018
        w = Worker(c, name=name or default_name())
        install_signal_handlers(w)
        err.print(f"worker {w.name}: claiming indexing jobs from {c.db.engine.url.render_as_string(hide_password=True)}"
                  + (" (until the queue is empty)" if once else ""), soft_wrap=True)
        ran = w.run(once=once, max_jobs=max_jobs)
    err.print(f"worker {w.name}: ran {ran} job(s), stopping")


def _when(value: object) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"  # type: ignore[attr-defined]


@jobs_app.command("list")
def jobs_list(
    source: Annotated[Optional[str], typer.Option("--source", help="Jobs of this source only.")] = None,
    state: Annotated[Optional[str], typer.Option("--state", help="queued, running, done, failed or cancelled.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest first, at most this many.")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recent indexing jobs with their state, progress, worker and error."""
    with open_container() as c:
        rows = c.jobs.list(limit, source=source, states=[state] if state else None)
    if as_json:
        print(json.dumps([j.as_json() for j in rows], indent=2))
        return
    if not rows:
        console.print("no jobs")
        return
    table = Table()
    for col in ("id", "job", "source", "state", "%", "attempts", "worker", "asked by", "created", "error"):
        table.add_column(col)
    for j in rows:
        table.add_row(str(j.id), j.label + (" (full)" if j.full else ""), j.source or "-", j.state,
                      str(j.percent), f"{j.attempts}/{j.max_attempts}", j.worker or "-", j.requested_by,
                      _when(j.created_at), (j.error or "")[:80])
    console.print(table)


@jobs_app.command("show")
def jobs_show(job_id: Annotated[int, typer.Argument(help="The job's number.")],
              as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One job: its progress per task, report and error."""
    with open_container() as c:
        job = c.jobs.get(job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id}; `sourcewise jobs list` shows the recent ones")
    data = job.as_json()
    if as_json:
        print(json.dumps(data, indent=2))
        return
    for key in ("id", "label", "source", "state", "percent", "current", "attempts", "worker", "requested_by",
                "created_at", "started_at", "heartbeat_at", "finished_at", "error"):
        console.print(f"{key}: {data[key] if data[key] is not None else '-'}", markup=False)
    for task, t in data["tasks"].items():
        console.print(f"  {task}: {t.get('done', 0)}/{t.get('total', 0)}", markup=False)
    if data["report"]:
        console.print("report: " + json.dumps(data["report"]), markup=False)


@jobs_app.command("cancel")
def jobs_cancel(job_id: Annotated[int, typer.Argument(help="The job's number.")]) -> None:
    """Cancel a queued job, or ask a running one to stop at its next step (audited)."""
    with open_container() as c:
        job = c.jobs.cancel(job_id)
        c.audit.record(cli_actor(), "job.cancel", job.source or "-", {"job": job.id, "kind": job.kind,
                                                                       "state": job.state})
    console.print(f"job {job.id}: " + ("cancelled" if job.state == "cancelled"
                                       else "asked to stop; its worker stops at the next step"))


@jobs_app.command("prune")
def jobs_prune(
    older_than_days: Annotated[Optional[int], typer.Option(
        "--older-than-days", min=0,
        help="Delete finished jobs older than this (default: SOURCEWISE_WORKERS__KEEP_FINISHED_DAYS).")] = None,
) -> None:
    """Delete finished jobs (done, failed, cancelled) from the history now (audited); idle
    workers do the same about once an hour."""
    from datetime import timedelta

    with open_container() as c:
        days = c.settings.workers.keep_finished_days if older_than_days is None else older_than_days
        if not days and older_than_days is None:
            raise ConfigError("SOURCEWISE_WORKERS__KEEP_FINISHED_DAYS is 0 (keep forever); pass --older-than-days N")
        gone = c.jobs.prune(timedelta(days=days))
        c.audit.record(cli_actor(), "job.prune", "-", {"older_than_days": days, "deleted": gone})
    console.print(f"deleted {gone} finished job(s) older than {days} day(s)")


def enqueue_index(names: list[str] | None, *, full: bool, as_json: bool) -> None:
    """``sourcewise index --queue``: enqueue a re-index per source instead of running it here."""
    with open_container() as c:
        rows = [c.catalog.get_source(n) for n in names] if names else c.catalog.list_sources()
        if not rows:
            raise ConfigError("no sources to index: `sourcewise source add NAME --git PATH` first")
        actor = cli_actor()
        jobs = []
        for row in rows:
            if row.status == "paused":
                if names:
                    raise ConfigError(f"{row.name} is paused; `sourcewise source resume {row.name}` first")
                err.print(f"{row.name}: paused, skipped (`sourcewise source resume {row.name}`)")
                continue
            job = c.jobs.enqueue("index", row.name, requested_by=actor, params={"full": bool(full)})
            c.audit.record(actor, "source.reindex", row.name, {"job": job.id, "full": bool(full), "via": "cli"})
            jobs.append(job)
    if as_json:
        print(json.dumps([j.as_json() for j in jobs], indent=2))
        return
    for job in jobs:
        console.print(f"queued job {job.id}: re-index {job.source}" + (" (full)" if job.full else "")
                      + "; `sourcewise jobs show " + str(job.id) + "` follows it", markup=False)


def register(parent: typer.Typer) -> None:
    """Add ``worker`` and the ``jobs`` group to the main ``sourcewise`` app."""
    parent.command("worker")(worker)
    parent.add_typer(jobs_app, name="jobs")
