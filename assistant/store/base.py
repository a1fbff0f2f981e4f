"""The ``VectorStore`` protocol every store adapter implements.

The catalog decides what exists; a store is a derived index that can be rebuilt. Every
adapter passes the shared contract suite in ``tests/contracts``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from assistant.models import Filter, Hit, Point, SparseVector

DENSE = "dense"
SPARSE = "sparse"

# Payload fields with a keyword index: the ones a filter, a delete or a score formula reads
# (``scoring.build_filter``/``build_formula``, deletes by document or source). Every index
# costs a pass over every payload each time a segment is built, so fields that are only
# returned (``path``, ``symbol``, ``owner``, ``model_id``) have none since 2026-12-07; a
# filter on them still works on the server store and old embedded stores, by reading
# payloads (a new embedded store packs them and refuses such a filter: ``edge_payload``).
# Stores created before keep theirs.
KEYWORD_FIELDS = (
    "source",
    "doc_id",
    "kind",
    "language",
    "access_groups",
    "status",
    "symbols",
    "path_keys",
    "dirs",
    "ext",
    "role",
    "excluded",
)
# Documents whose payload has ``excluded`` in these values never reach an answer.
EXCLUDED_FIELD = "excluded"
EXCLUDED_VALUES = ("deprecated",)
Condition = tuple[str, Sequence[str]]


def matches_nothing(flt: Filter | None) -> bool:
    """An empty value list must match nothing (an empty access-group list is no access)."""
    return flt is not None and any(len(values) == 0 for values in flt.any_of.values())


def filter_conditions(flt: Filter | None, extra: Condition | None = None) -> tuple[list[Condition], list[Condition]]:
    """``Filter.any_of`` (plus ``extra``) as ``must`` conditions and ``Filter.none_of`` as
    ``must_not`` ones, each ``(field, values)``; both adapters build their engine's filter
    from these, so the two stores cannot disagree on what a filter means."""
    must = list(flt.any_of.items()) if flt is not None else []
    must += [extra] if extra is not None else []
    must_not = [(k, v) for k, v in (flt.none_of.items() if flt is not None else ()) if v]
    return must, must_not


# Payload fields with an integer index.
INTEGER_FIELDS = ("chunk_index", "updated_ts")
# Payload fields with a float index (``boost`` is written by the feedback loop,
# ``staleness`` by the staleness detector).
FLOAT_FIELDS = ("boost", "staleness")


@dataclass(frozen=True)
class KeywordLeg:
    """An extra prefetch: the dense query ranked among points whose ``field`` holds any of
    ``values`` (exact identifiers, paths), so an exact match is a candidate even when
    neither the dense nor the sparse list reaches it."""

    field: str
    values: tuple[str, ...]
    weight: float = 1.0


@dataclass(frozen=True)
class DenseView:
    """An extra dense prefetch: another reading of the question (a bug report's title, its
    prose without the pasted logs) ranked against every point and fused with its weight."""

    vector: Sequence[float]
    weight: float = 1.0


@dataclass(frozen=True)
class KeywordBoost:
    """Multiply the score by ``1 + weight`` when ``field`` holds any of ``values``."""

    field: str
    values: tuple[str, ...]
    weight: float


@dataclass(frozen=True)
class ScoreFormula:
    """What the engine multiplies the fused RRF score by (a Qdrant score formula).

    ``factor`` is the same math in Python; adapters must rank exactly as
    ``rrf_score * factor(payload)``, which the contract suite checks on each engine.

    * freshness: ``1 + freshness_weight * (0.5 ** (|updated_ts - now| / half_life) - 1)``
      for kinds listed in ``half_life_s`` (others do not decay); a missing
      ``updated_ts`` counts as fresh;
    * status: ``* (1 - penalty)`` for each status in ``status_penalties``;
    * feedback: ``* exp(boost_weight * boost)``, ``boost`` defaulting to 0 (neutral);
    * staleness: ``* (1 - staleness_weight * staleness)``, ``staleness`` (0..1, from the
      document's open findings and flags) defaulting to 0 (fresh);
    * exact matches: ``* (1 + weight)`` per matching ``KeywordBoost``.
    """

    now_ts: float
    half_life_s: Mapping[str, float] = field(default_factory=dict)
    freshness_weight: float = 0.0
    status_penalties: Mapping[str, float] = field(default_factory=dict)
    boost_weight: float = 0.0
    matches: tuple[KeywordBoost, ...] = ()
    staleness_weight: float = 0.0

    def factor(self, payload: Mapping[str, Any]) -> float:
        """The multiplier for one point's payload (reference for the engine formulas)."""
        out = 1.0
        half_life = self.half_life_s.get(str(payload.get("kind")))
        if half_life and self.freshness_weight:
            ts = payload.get("updated_ts")
            age = abs(float(ts) - self.now_ts) if isinstance(ts, (int, float)) else 0.0
            out *= 1 + self.freshness_weight * (0.5 ** (age / half_life) - 1)
        penalty = self.status_penalties.get(str(payload.get("status")))
        if penalty:
            out *= 1 - penalty
        boost = payload.get("boost")
        if self.boost_weight and isinstance(boost, (int, float)):
            out *= math.exp(self.boost_weight * float(boost))
        staleness = payload.get("staleness")
        if self.staleness_weight and isinstance(staleness, (int, float)):
            out *= 1 - self.staleness_weight * float(staleness)
        for match in self.matches:
            have = payload.get(match.field)
            have = have if isinstance(have, (list, tuple)) else [have]
            if any(v in match.values for v in have):
                out *= 1 + match.weight
        return out


@dataclass(frozen=True)
class SearchRequest:
    """One hybrid query, run entirely in the engine.

    Dense and sparse prefetches (``depth`` each, every one under ``flt``) plus one per
    ``DenseView`` and per ``KeywordLeg`` are fused with weighted RRF (``rrf_k``);
    ``formula``, when given, rescales the fused scores. ``limit`` candidates come back,
    best first.
    """

    dense: Sequence[float]
    sparse: SparseVector
    limit: int
    flt: Filter | None = None
    depth: int = 100
    rrf_k: int = 2
    dense_weight: float = 1.0
    sparse_weight: float = 1.0
    legs: tuple[KeywordLeg, ...] = ()
    formula: ScoreFormula | None = None
    views: tuple[DenseView, ...] = ()
    # ``lexical``: the sparse prefetch alone, its BM25 scores (IDF from the engine) rescaled
    # by ``formula`` with no fusion: how strongly each chunk matches the words, which the
    # file ranking adds up per file. Dense, views and legs are ignored.
    lexical: bool = False
    payload_fields: tuple[str, ...] | None = None  # None: the whole payload

    def active_legs(self) -> tuple[KeywordLeg, ...]:
        """Keyword legs that can match something (an empty value list is skipped)."""
        return tuple(leg for leg in self.legs if leg.values and leg.weight > 0)

    def active_views(self) -> tuple[DenseView, ...]:
        """Extra dense views with a weight (a zero weight turns one off)."""
        return tuple(view for view in self.views if view.weight > 0)

    def weights(self) -> list[float]:
        """RRF weight per prefetch in adapter order: dense, the active dense views, sparse
        (when it has terms), then the active keyword legs."""
        out = [self.dense_weight] + [view.weight for view in self.active_views()]
        if self.sparse.indices:
            out.append(self.sparse_weight)
        return out + [leg.weight for leg in self.active_legs()]


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

    def set_source_payload(self, source: str, payload: dict) -> None:
        """Overwrite these payload keys on every point of a source (new access groups
        apply to the next query, not after a re-index)."""

    def query(
        self,
        dense: Sequence[float],
        sparse: SparseVector,
        flt: Filter | None,
        limit: int,
    ) -> list[Hit]:
        """Hybrid query: dense and sparse prefetches fused with RRF in the engine."""

    def search(self, request: SearchRequest) -> list[Hit]:
        """Hybrid query with keyword legs, weighted RRF and a score formula (see
        ``SearchRequest``); payloads included."""

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
