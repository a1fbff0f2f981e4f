"""Index one source with the container's backends: the CLI, the admin pages and the
owners' "mark fixed" all go through here."""

from __future__ import annotations

import logging
import time
from typing import Any

from assistant.catalog.schema import SourceRow
from assistant.errors import ConfigError
from indexers.pipeline import Pipeline, ProgressSink, RunReport
from indexers.redaction import Redactor
from indexers.sources.factory import make_source

log = logging.getLogger(__name__)


def index_source(container: Any, name: str | SourceRow, *, full: bool = False,
                 progress: ProgressSink | None = None) -> RunReport:
    """Run the pipeline for one source; one run at a time per container (process).

    Paused sources are refused: pausing means "leave this index as it is".
    """
    row = container.catalog.get_source(name) if isinstance(name, str) else name
    if row.status == "paused":
        raise ConfigError(f"source {row.name!r} is paused; `sourcewise source resume {row.name}` first")
    settings = container.settings
    with container.index_lock:
        # Read again under the lock: an access-group change may have committed meanwhile.
        row = container.catalog.get_source(row.name)
        pipeline = Pipeline(
            container.catalog, container.store, container.embedder, container.sparse,
            batch_docs=settings.indexing.docs_batch, chunk_max_chars=settings.indexing.chunk_max_chars,
            progress=progress, redactor=Redactor.from_settings(settings.secrets),
            code_sources=settings.staleness.code_sources,
        )
        report = pipeline.index(row, make_source(row, settings, container.catalog), full=full)
        if report.status == "ok":
            detect_staleness(container, row, report, full=full)
        _count_run(container, report)
        return report


def _count_run(container: Any, report: RunReport) -> None:
    """The run in the process's metrics (``assistant.metrics``), when the container has them."""
    metrics = getattr(container, "metrics", None)
    if metrics is None:
        return
    try:
        metrics.observe_index_run(report)
    except Exception:  # noqa: BLE001 - counting never fails a run
        log.exception("could not count the index run in the metrics")


def detect_staleness(container: Any, row: SourceRow, report: RunReport, *, full: bool = False) -> None:
    """Staleness findings after a successful run (for this source's docs and the docs
    sources linked to it), scoped to what the run changed where the previous detection
    allows it; a problem here is counted in the report, never fails the run."""
    from indexers.staleness.detect import Detector
    from indexers.staleness.scope import RunScope

    started = time.perf_counter()
    try:
        result = Detector(container.db, container.store, container.settings, container.notifier).run(
            row.name, RunScope(frozenset(report.touched), full=full))
    except Exception as exc:  # noqa: BLE001 - the index run itself succeeded
        log.exception("staleness detection for %s failed", row.name)
        report.staleness_error = f"{type(exc).__name__}: {exc}"[:500]
    else:
        report.findings_opened, report.findings_closed = result.opened, result.closed
        report.findings_open, report.staleness_capped = result.open, result.capped
        report.staleness_deferred = result.deferred
        report.staleness_checked_docs, report.staleness_scoped = result.checked, result.scoped
        report.staleness_state = result.state
    report.detection_seconds = time.perf_counter() - started
    report.staleness_seconds += report.detection_seconds
    last = container.catalog.last_run(row.id)
    if last is not None:
        container.catalog.finish_run(last.id, counts=report.counts())
