"""The ``VectorStore`` protocol every store adapter implements.

The catalog decides what exists; a store is a derived index that can be rebuilt. Every
adapter passes the shared contract suite in ``tests/contracts``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from assistant.models import Filter, Hit, Point, SparseVector

DENSE = "dense"
SPARSE = "sparse"

# Payload fields with a keyword index (filters, deletes by document or source).
KEYWORD_FIELDS = (
    "source",
    "doc_id",
    "path",
    "kind",
    "language",
    "symbol",
    "access_groups",
    "owner",
    "model_id",
)
# Payload fields with an integer index.
INTEGER_FIELDS = ("chunk_index", "updated_ts")


@runtime_checkable
class VectorStore(Protocol):
    """Hybrid (dense + sparse) point store with payload filters."""

    def ensure_collection(self, dense_dim: int) -> None:
        """Create the collection (dense cosine + sparse with IDF) if missing."""

    def upsert(self, points: Sequence[Point]) -> None:
        """Insert or overwrite points by id."""

    def delete_docs(self, doc_ids: Iterable[str]) -> None:
        """Delete every point of these documents."""

    def delete_doc_tail(self, doc_id: str, keep: int) -> None:
        """Delete this document's points with ``chunk_index >= keep`` (it shrank)."""

    def delete_source(self, source: str) -> None:
        """Delete every point of a source."""

    def set_doc_payload(self, doc_id: str, payload: dict) -> None:
        """Overwrite these payload keys on every point of a document (no re-embed)."""

    def query(
        self,
        dense: Sequence[float],
        sparse: SparseVector,
        flt: Filter | None,
        limit: int,
    ) -> list[Hit]:
        """Hybrid query: dense and sparse prefetches fused with RRF in the engine."""

    def count(self, flt: Filter | None = None) -> int:
        """Number of points matching the filter (all when ``None``)."""

    def doc_ids(self, flt: Filter | None = None) -> set[str]:
        """Distinct ``doc_id`` payload values (for sweeps and consistency checks)."""

    def points(self, flt: Filter | None = None) -> list[Hit]:
        """Every matching point with its payload (score 0); for checks and rebuilds."""

    def flush(self) -> None:
        """Make every acknowledged write durable."""

    def optimize(self) -> bool:
        """Build indexes / merge segments after bulk writes (a no-op where the engine does it)."""

    def close(self) -> None:
        """Flush and release files."""


class ScrollReads:
    """``doc_ids`` and ``points`` for adapters that can scroll records with payloads."""

    def _scroll(self, flt: Filter | None, with_payload: bool | list[str]) -> Iterable[Any]:
        raise NotImplementedError

    def doc_ids(self, flt: Filter | None = None) -> set[str]:
        return {
            str(r.payload["doc_id"])
            for r in self._scroll(flt, ["doc_id"])
            if r.payload and r.payload.get("doc_id") is not None
        }

    def points(self, flt: Filter | None = None) -> list[Hit]:
        return [Hit(id=str(r.id), score=0.0, payload=r.payload or {}) for r in self._scroll(flt, True)]
