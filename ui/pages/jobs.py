"""Indexing jobs as the pages see them: rows in the catalog's queue (``assistant.catalog.jobs``).

The pages enqueue and read; a worker runs the jobs: one thread inside ``sourcewise serve``
when ``workers.in_serve`` says so (SQLite catalog or the embedded store, which admit one
process), else ``sourcewise worker`` processes elsewhere. Progress, state and errors come
from the job's row, so every app replica shows the same thing and a restart loses nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from assistant.catalog.jobs import JobQueue

log = logging.getLogger("sourcewise.ui.jobs")


def jobs_for(app: Any) -> JobQueue:
    """The app's job queue (the container's)."""
    return app.state.services.container.jobs  # type: ignore[no-any-return]


def start_worker(app: Any, container: Any, **worker_args: Any) -> Any:
    """Run one indexing worker thread for this app (stopped by ``ui.pages.shutdown``)."""
    from indexers.worker import Worker, WorkerThread

    thread = WorkerThread(Worker(container, **worker_args)).start()
    app.state.index_worker = thread
    return thread
