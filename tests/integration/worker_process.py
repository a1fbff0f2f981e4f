"""A worker process for the multi-process queue tests: ``indexers.worker.Worker`` exactly as
``sourcewise worker`` runs it, plus one test-only job kind, ``test.record``.

``test.record`` appends a ``start`` and an ``end`` line (job, worker, attempt, time) to the
file its params name, stepping its progress in between, and reads the catalog at each
step. It exists because the real jobs cannot run in several processes here: the embedded
store admits one process, and there is no Qdrant server to share. The queue, leases,
heartbeats, signals and reconnects under test are the production code.

Usage: python -m tests.integration.worker_process NAME [--once]  (settings from the environment)
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

from sqlalchemy import text

from assistant.container import build
from assistant.settings import load_settings
from indexers.worker import HANDLERS, JobContext, Worker, install_signal_handlers


def _note(path: str, **fields: Any) -> None:
    line = json.dumps(fields) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())  # one write with O_APPEND: lines never interleave
    finally:
        os.close(fd)


def record(ctx: JobContext) -> None:
    params = ctx.job.params
    base = {"job": ctx.job.id, "worker": os.environ["SW_WORKER_NAME"], "attempt": ctx.job.attempts,
            "source": ctx.job.source}
    _note(params["log"], event="start", t=time.time(), **base)
    steps = int(params.get("steps", 3))
    ctx.progress.start("work", steps)
    for _ in range(steps):
        time.sleep(float(params.get("step_s", 0.05)))
        with ctx.container.db.session() as s:  # the catalog, as real jobs use it
            s.execute(text("SELECT 1"))
        ctx.progress.advance("work", 1)
    ctx.progress.finish("work")
    _note(params["log"], event="end", t=time.time(), **base)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {sys.argv[1]} %(levelname)s %(message)s")
    os.environ["SW_WORKER_NAME"] = sys.argv[1]
    container = build(load_settings())
    worker = Worker(container, name=sys.argv[1], handlers={**HANDLERS, "test.record": record})
    install_signal_handlers(worker)
    print("ready", flush=True)
    try:
        worker.run(once="--once" in sys.argv)
    finally:
        container.close()


if __name__ == "__main__":
    main()
