"""Index one source with the container's backends: the CLI, the admin pages and the
owners' "mark fixed" all go through here."""

from __future__ import annotations

from typing import Any

from assistant.catalog.schema import SourceRow
from assistant.errors import ConfigError
from indexers.pipeline import Pipeline, ProgressSink, RunReport
from indexers.sources.factory import make_source


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
        pipeline = Pipeline(
            container.catalog, container.store, container.embedder, container.sparse,
            batch_docs=settings.indexing.docs_batch, chunk_max_chars=settings.indexing.chunk_max_chars,
            progress=progress, code_sources=settings.staleness.code_sources,
        )
        return pipeline.index(row, make_source(row, settings, container.catalog), full=full)
