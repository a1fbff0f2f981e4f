"""Per-source health for the admin page: counts, last run, failures, freshness histogram.

Read-only views over the catalog. The freshness histogram buckets documents by the age
of their own last change (``updated_at`` from git history), which is what tells an
admin whether a source is mostly current or mostly years old.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from assistant.catalog.repo import Catalog
from assistant.catalog.schema import (
    DocumentRow,
    FailureRow,
    FlagRow,
    IndexRunRow,
    SourceRow,
)

BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("< 30 d", timedelta(days=30)),
    ("< 90 d", timedelta(days=90)),
    ("< 1 y", timedelta(days=365)),
    ("< 3 y", timedelta(days=3 * 365)),
    ("older", None),
)


@dataclass(frozen=True)
class Bucket:
    label: str
    count: int
    percent: float  # of the source's documents, for the CSS bar width


@dataclass
class SourceHealth:
    """Everything the sources table and the source page show about one source."""

    name: str
    kind: str
    location: str
    ref: str | None
    status: str
    access_groups: list[str]
    options: dict[str, Any]
    documents: int = 0
    chunks: int = 0
    deprecated: int = 0
    open_flags: int = 0
    last_version: str | None = None
    last_indexed_at: datetime | None = None
    last_error: str | None = None
    last_run_status: str | None = None
    last_run_seconds: float | None = None
    failures: int = 0
    freshness: list[Bucket] = field(default_factory=list)
    classification: str = "internal"

    @property
    def paused(self) -> bool:
        return self.status == "paused"


def bucket_index(updated_at: datetime, now: datetime) -> int:
    """Which freshness bucket a document falls in."""
    if updated_at.tzinfo is None:
        updated_at = updated_at.replace(tzinfo=UTC)
    age = now - updated_at
    for i, (_, limit) in enumerate(BUCKETS):
        if limit is not None and age < limit:
            return i
    return len(BUCKETS) - 1


def histogram(dates: list[datetime], now: datetime | None = None) -> list[Bucket]:
    now = now or datetime.now(UTC)
    counts = Counter(bucket_index(d, now) for d in dates)
    total = len(dates) or 1
    return [Bucket(label, counts.get(i, 0), round(100.0 * counts.get(i, 0) / total, 1))
            for i, (label, _) in enumerate(BUCKETS)]


def _pairs(rows: Any) -> dict[Any, Any]:
    return {key: value for key, value in rows}


def source_health(catalog: Catalog, now: datetime | None = None) -> list[SourceHealth]:
    """Health of every source, in name order (a handful of queries in all)."""
    now = now or datetime.now(UTC)
    with catalog.db.session() as s:
        sources = list(s.scalars(select(SourceRow).order_by(SourceRow.name)))
        dates: dict[int, list[datetime]] = {}
        for source_id, updated_at in s.execute(select(DocumentRow.source_id, DocumentRow.updated_at)):
            dates.setdefault(source_id, []).append(updated_at)
        chunks = _pairs(s.execute(select(DocumentRow.source_id, func.coalesce(func.sum(DocumentRow.chunk_count), 0))
                                  .group_by(DocumentRow.source_id)))
        deprecated = _pairs(s.execute(select(DocumentRow.source_id, func.count())
                                      .where(DocumentRow.status == "deprecated")
                                      .group_by(DocumentRow.source_id)))
        flags = _pairs(s.execute(select(FlagRow.source_name, func.count()).where(FlagRow.status == "open")
                                 .group_by(FlagRow.source_name)))
        last_runs = {}
        for src in sources:
            run = s.scalar(select(IndexRunRow).where(IndexRunRow.source_id == src.id)
                           .order_by(IndexRunRow.id.desc()).limit(1))
            if run is not None:
                fails = s.scalar(select(func.count()).select_from(FailureRow).where(FailureRow.run_id == run.id))
                last_runs[src.id] = (run.status, run.seconds, int(fails or 0))
    out = []
    for src in sources:
        run_status, run_seconds, fails = last_runs.get(src.id, (None, None, 0))
        out.append(SourceHealth(
            name=src.name, kind=src.kind, location=src.location, ref=src.ref, status=src.status,
            access_groups=list(src.access_groups or []), options=dict(src.options or {}),
            classification=src.classification,
            documents=len(dates.get(src.id, [])), chunks=int(chunks.get(src.id, 0) or 0),
            deprecated=int(deprecated.get(src.id, 0) or 0), open_flags=int(flags.get(src.name, 0) or 0),
            last_version=src.last_version, last_indexed_at=src.last_indexed_at, last_error=src.last_error,
            last_run_status=run_status, last_run_seconds=run_seconds, failures=fails,
            freshness=histogram(dates.get(src.id, []), now),
        ))
    return out


def last_failures(catalog: Catalog, name: str, limit: int = 200) -> list[FailureRow]:
    """The last run's per-file failures (path, reason, message) for one source."""
    row = catalog.get_source(name)
    run = catalog.last_run(row.id)
    return catalog.failures(run.id)[:limit] if run else []
