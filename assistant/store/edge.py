"""``EdgeStore``: the embedded default store, on qdrant-edge-py (``qdrant_edge.EdgeShard``).

The real Qdrant engine runs in-process: HNSW, sparse vectors with IDF, prefetch + RRF
fusion, score formulas (``search``: freshness decay, penalties, boosts) and payload
indexes, with a write-ahead log. Every update is appended to the WAL
before it is acknowledged, so acknowledged writes survive a killed process (the WAL is
replayed on load); ``flush()`` additionally persists the segments, shortening that replay.

Quirks worth knowing:

* Only one ``EdgeShard`` may hold a directory at a time (the WAL is locked); a second
  open, in this process or another, fails and we raise ``LockedError``.
* Edge runs no background optimizers. After bulk upserts call ``optimize()`` (not part of
  the protocol) to build HNSW indexes and merge segments; until then queries are exact
  scans of the appendable segment, correct but slower as the shard grows. Everything
  upserted since the last ``optimize()`` sits in that appendable segment in RAM, so
  ``upsert`` calls ``optimize()`` itself every ``EdgeTuning.optimize_every`` points
  (100k by default) on a shard created with bounded segments (``max_segment_kb``, the
  default since 2026-12-07): a million-chunk load keeps at most that many unindexed
  points in RAM, and each bounded segment's graph is built once.
* A shard created since 2026-12-07 stores payloads compactly (``edge_payload``): the
  link-less keyword fields as ``_tags`` of one index, everything the engine never reads
  as one JSON string. Reads give back the payload as written; a filter on a packed field
  (``path``, ``owner`` ...) is refused rather than silently matching nothing.
* The binding holds Python's GIL through every call, ``optimize()`` included: while a
  segment is built (about 80 s per 100k chunks on 2 CPUs) no other thread of the process
  runs, the server's request handlers included (docs/scaling.md).
"""

from __future__ import annotations

import ctypes
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import qdrant_edge as qe

from assistant.errors import DimensionMismatchError, LockedError, StoreError
from assistant.models import Filter, Hit, Point, SparseVector
from assistant.store.base import (
    DENSE,
    SPARSE,
    Condition,
    ScoreFormula,
    ScrollReads,
    SearchRequest,
    filter_conditions,
    matches_nothing,
)
from assistant.store.edge_config import EdgeTuning
from assistant.store.edge_payload import RESERVED, TAGS, PayloadLayout, from_stored, tag_values

# Qdrant's own default RRF constant, so edge and server rank (and score) alike.
RRF_K = 2
UPSERT_BATCH = 1000
SCROLL_PAGE = 1000
DELETE_BATCH = 1000
_CONFIG_FILE = "edge_config.json"

T = TypeVar("T")
try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None)  # the C library this process runs on
except (OSError, TypeError):  # pragma: no cover - platforms without a C library to load this way
    _LIBC = None


def release_free_heap() -> None:
    """Hand the heap a segment build freed back to the OS (glibc keeps it otherwise: 350 MB
    per 100k chunks); a no-op where the C library is not glibc."""
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)


def _to_filter(layout: PayloadLayout, flt: Filter | None, extra: Condition | None = None) -> qe.Filter | None:
    must, must_not = filter_conditions(flt, extra)
    if not must and not must_not:
        return None
    return qe.Filter(must=[layout.condition(k, v) for k, v in must] or None,
                     must_not=[layout.condition(k, v) for k, v in must_not] or None)


def _formula(layout: PayloadLayout, f: ScoreFormula) -> qe.Formula:
    """``ScoreFormula`` as an edge ``Formula`` over ``$score`` (the fused RRF score)."""
    E = qe.Expression
    factors = [E.Variable("$score")]
    if f.freshness_weight:
        for kind, half_life in sorted(f.half_life_s.items()):
            decay = E.Decay(
                qe.DecayKind.Exp, E.Variable("updated_ts"), E.Constant(float(f.now_ts)),
                midpoint=0.5, scale=float(half_life),
            )
            is_kind = E.Condition(layout.condition("kind", [kind]))
            loss = E.Sum([decay, E.Constant(-1.0)])  # 0 when fresh, -> -1 when old
            factors.append(E.Sum([E.Constant(1.0), E.Mult([
                E.Constant(float(f.freshness_weight)), is_kind, loss])]))
    for status, penalty in sorted(f.status_penalties.items()):
        if penalty:
            flagged = E.Condition(layout.condition("status", [status]))
            factors.append(E.Sum([E.Constant(1.0), E.Mult([E.Constant(-float(penalty)), flagged])]))
    if f.boost_weight:
        factors.append(E.Exp(E.Mult([E.Constant(float(f.boost_weight)), E.Variable("boost")])))
    if f.staleness_weight:
        factors.append(E.Sum([E.Constant(1.0), E.Mult([
            E.Constant(-float(f.staleness_weight)), E.Variable("staleness")])]))
    for m in f.matches:
        if m.values and m.weight:
            hit = E.Condition(layout.condition(m.field, m.values))
            factors.append(E.Sum([E.Constant(1.0), E.Mult([E.Constant(float(m.weight)), hit])]))
    defaults = {"boost": 0.0, "staleness": 0.0, "updated_ts": float(f.now_ts)}
    return qe.Formula(E.Mult(factors), defaults=defaults)


def _doc_filter(layout: PayloadLayout, doc_ids: Sequence[str]) -> qe.Filter:
    return qe.Filter(must=[layout.condition("doc_id", doc_ids)])


def _source_filter(layout: PayloadLayout, source: str) -> qe.Filter:
    return qe.Filter(must=[layout.condition("source", [source])])


def _floats(vector: Sequence[float]) -> list[float]:
    tolist = getattr(vector, "tolist", None)  # numpy arrays convert in C
    return tolist() if tolist is not None else list(vector)


class EdgeStore(ScrollReads):
    """``VectorStore`` on an embedded qdrant-edge shard in one directory."""

    def __init__(self, path: Path, tuning: EdgeTuning | None = None) -> None:
        self._path = Path(path)
        self._tuning = tuning or EdgeTuning()
        self._path.mkdir(parents=True, exist_ok=True)
        self._shard: qe.EdgeShard | None = None
        self._dim: int | None = None
        self._closed = False
        self._since_optimize = 0  # points upserted since the last optimize()
        self._optimize_every: int | None = None  # set once the shard's segment bound is known
        self._layout = PayloadLayout()  # the shard's own, once one exists
        # Writes of this store's threads (the server's worker and its request handlers):
        # a payload rewrite reads points and writes them back, and must not interleave
        # with an upsert of the same points (it would write the old text back).
        self._writes = threading.RLock()
        if self._has_shard():
            self._layout = PayloadLayout.load(self._path)
            self._shard = self._open(lambda: qe.EdgeShard.load(str(self._path)))
            self._dim = self._persisted_dim()
            self._optimize_every = self._tuning.optimize_every if self._persisted_bounded() else None

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._path

    def ensure_collection(self, dense_dim: int) -> None:
        """Create the shard (dense cosine + sparse IDF) and its payload indexes if missing.

        A new shard gets ``EdgeTuning``'s layout; an existing one keeps its own."""
        self._check_open()
        if self._shard is None:
            config = self._tuning.edge_config(dense_dim)
            self._layout = self._tuning.payload_layout()
            self._layout.save(self._path)  # before the shard: a shard never exists without it
            self._shard = self._open(lambda: qe.EdgeShard.create(str(self._path), config))
            self._dim = dense_dim
            self._optimize_every = self._tuning.optimize_every if self._persisted_bounded() else None
        elif self._dim is not None and self._dim != dense_dim:
            raise DimensionMismatchError(f"the vector store at {self._path}", self._dim, dense_dim)
        shard = self._shard
        existing = set(self._call(lambda: shard.info().payload_schema, "read shard info"))
        for field, schema in self._tuning.payload_indexes(self._layout):
            if field not in existing:
                op = qe.UpdateOperation.create_field_index(field, schema)
                self._call(lambda: shard.update(op), f"create payload index {field!r}")

    def flush(self) -> None:
        """Write segments to disk (``EdgeShard.flush``); the WAL already survives a kill."""
        if self._shard is not None:
            shard = self._shard
            self._call(shard.flush, "flush")

    def optimize(self) -> bool:
        """Build HNSW indexes and merge/vacuum segments (edge never does this by itself).

        Call after bulk indexing; returns whether anything was optimized. Blocking.
        """
        shard = self._reader()
        if shard is None:
            return False
        done = bool(self._call(shard.optimize, "optimize"))
        if done:
            # The new segment's writes stay in RAM until a flush: about 3 KB per chunk, which
            # piled up segment after segment of a bulk load (a 1M build peaked at 4.9 GB of
            # anonymous memory without this flush, 2.1 GB with it).
            self._call(shard.flush, "flush")
            release_free_heap()
        self._since_optimize = 0
        return done

    def close(self) -> None:
        """Flush and release the directory (and its lock). Safe to call twice."""
        if self._shard is not None:
            shard = self._shard
            try:
                self._call(shard.flush, "flush")
            finally:
                self._shard = None
                self._call(shard.close, "close")
        self._closed = True

    def __enter__(self) -> EdgeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes ------------------------------------------------------------------------

    def upsert(self, points: Sequence[Point]) -> None:
        """Insert or overwrite points by id, in batches (one WAL record per batch).

        Every ``EdgeTuning.optimize_every`` points since the last ``optimize()`` it runs
        one (blocking), so bulk loads keep a bounded appendable segment in RAM."""
        shard = self._require_shard()
        for p in points:  # validate all before writing any batch
            self._check_dim(len(p.dense))
        every = self._optimize_every
        for start in range(0, len(points), UPSERT_BATCH):
            batch = [self._to_point(p) for p in points[start : start + UPSERT_BATCH]]
            op = qe.UpdateOperation.upsert_points(batch)
            with self._writes:
                self._call(lambda: shard.update(op), "upsert")
            self._since_optimize += len(batch)
            if every and self._since_optimize >= every:
                self.optimize()

    def delete_docs(self, doc_ids: Iterable[str]) -> None:
        ids = list(dict.fromkeys(doc_ids))
        for start in range(0, len(ids), DELETE_BATCH):
            flt = _doc_filter(self._layout, ids[start : start + DELETE_BATCH])
            self._update(qe.UpdateOperation.delete_points_by_filter(flt), "delete documents")

    def delete_doc_tail(self, doc_id: str, keep: int) -> None:
        flt = qe.Filter(
            must=[
                self._layout.condition("doc_id", [doc_id]),
                qe.FieldCondition(key="chunk_index", range=qe.RangeFloat(gte=float(keep))),
            ]
        )
        self._update(qe.UpdateOperation.delete_points_by_filter(flt), "delete document tail")

    def delete_source(self, source: str) -> None:
        flt = _source_filter(self._layout, source)
        self._update(qe.UpdateOperation.delete_points_by_filter(flt), "delete source")

    def set_doc_payload(self, doc_id: str, payload: dict) -> None:
        self._set_payload(_doc_filter(self._layout, [doc_id]), payload, "set document payload")

    def set_source_payload(self, source: str, payload: dict) -> None:
        self._set_payload(_source_filter(self._layout, source), payload, "set source payload")

    def _set_payload(self, flt: qe.Filter, payload: dict, what: str) -> None:
        """Overwrite keys on every matching point. Keys the engine stores as themselves are
        one update by filter; a folded or packed key rewrites each point's ``_tags``/``_p``."""
        direct = self._layout.direct(payload)
        with self._writes:
            if direct:
                self._update(qe.UpdateOperation.set_payload_by_filter(flt, direct), what)
            if self._layout.rewrites(payload):
                self._rewrite(flt, {k: v for k, v in payload.items() if k not in direct}, what)

    def _rewrite(self, flt: qe.Filter, update: dict, what: str) -> None:
        """Apply ``update`` to the packed/folded part of every matching point (the caller
        holds ``_writes``: read and write back with no upsert in between).

        Points whose new stored part is identical share one update (with tags alone, the
        chunks of a document differ only in their ``symbols``)."""
        groups: dict[str, tuple[dict, list[Any]]] = {}
        for record in self._records(flt, True):
            payload = from_stored(record.payload)
            payload.update(update)
            stored = self._layout.to_stored(payload)
            part = {k: stored[k] for k in RESERVED if k in stored}  # ``_tags`` and ``_p``
            key = json.dumps(part, sort_keys=True)
            groups.setdefault(key, (part, []))[1].append(record.id)
        for part, ids in groups.values():
            for start in range(0, len(ids), UPSERT_BATCH):
                self._update(qe.UpdateOperation.set_payload(ids[start : start + UPSERT_BATCH], part), what)

    # -- reads -------------------------------------------------------------------------

    def query(
        self,
        dense: Sequence[float],
        sparse: SparseVector,
        flt: Filter | None,
        limit: int,
    ) -> list[Hit]:
        """Dense + sparse prefetches fused with RRF; dense alone when the sparse is empty."""
        depth = max(limit * 5, 50)
        return self.search(SearchRequest(dense, sparse, limit, flt, depth=depth, rrf_k=RRF_K))

    def search(self, request: SearchRequest) -> list[Hit]:
        """Prefetches (dense, dense views, sparse, keyword legs) -> weighted RRF -> score formula."""
        shard = self._reader()
        if shard is None or matches_nothing(request.flt) or request.limit <= 0:
            return []
        qflt = _to_filter(self._layout, request.flt)
        depth = max(request.depth, request.limit)
        payload: bool | list[str] = (True if request.payload_fields is None
                                     else self._layout.stored_fields(request.payload_fields))
        if request.lexical:
            return self._hits(self._lexical(shard, request, qflt, depth, payload), request)
        for vector in [request.dense, *(v.vector for v in request.active_views())]:
            self._check_dim(len(vector))
        dense = _floats(request.dense)
        params = self._tuning.search_params()
        prefetches = [
            qe.Prefetch(limit=depth, query=qe.Query.Nearest(vector, using=DENSE), filter=qflt,
                        params=params)
            for vector in [dense, *(_floats(v.vector) for v in request.active_views())]
        ]
        if request.sparse.indices:
            vec = qe.SparseVector(list(request.sparse.indices), list(request.sparse.values))
            prefetches.append(
                qe.Prefetch(limit=depth, query=qe.Query.Nearest(vec, using=SPARSE), filter=qflt)
            )
        leg_params = self._tuning.search_params(leg=True)
        for leg in request.active_legs():
            prefetches.append(qe.Prefetch(
                limit=depth, query=qe.Query.Nearest(dense, using=DENSE),
                filter=_to_filter(self._layout, request.flt, (leg.field, leg.values)), params=leg_params,
            ))
        weights = request.weights()
        fusion = qe.Fusion.Rrf(
            k=request.rrf_k, weights=None if all(w == 1.0 for w in weights) else weights
        )
        if request.formula is None:
            query = qe.QueryRequest(
                limit=request.limit, prefetches=prefetches, query=fusion, with_payload=payload
            )
        else:
            fused = qe.Prefetch(limit=depth, prefetches=prefetches, query=fusion)
            query = qe.QueryRequest(
                limit=request.limit, prefetches=[fused], query=_formula(self._layout, request.formula),
                with_payload=payload,
            )
        return self._hits(self._found(shard, query), request)

    def _lexical(self, shard: Any, request: SearchRequest, qflt: qe.Filter | None, depth: int,
                 payload: bool | list[str]) -> list[Any]:
        """The sparse list alone with raw scores, rescaled by the formula (``SearchRequest.lexical``)."""
        if not request.sparse.indices:
            return []
        vec = qe.SparseVector(list(request.sparse.indices), list(request.sparse.values))
        nearest = qe.Query.Nearest(vec, using=SPARSE)
        if request.formula is None:
            query = qe.QueryRequest(limit=request.limit, query=nearest, filter=qflt, with_payload=payload)
        else:
            query = qe.QueryRequest(
                limit=request.limit, prefetches=[qe.Prefetch(limit=depth, query=nearest, filter=qflt)],
                query=_formula(self._layout, request.formula), with_payload=payload,
            )
        return self._found(shard, query)

    def _found(self, shard: Any, query: qe.QueryRequest) -> list[Any]:
        return list(self._call(lambda: shard.query(query), "query"))

    @staticmethod
    def _hits(found: list[Any], request: SearchRequest) -> list[Hit]:
        fields = request.payload_fields
        return [Hit(id=str(p.id), score=float(p.score), payload=from_stored(p.payload, fields)) for p in found]

    def count(self, flt: Filter | None = None) -> int:
        shard = self._reader()
        if shard is None or matches_nothing(flt):
            return 0
        request = qe.CountRequest(exact=True, filter=_to_filter(self._layout, flt))
        return int(self._call(lambda: shard.count(request), "count"))

    # -- internals ---------------------------------------------------------------------

    def points(self, flt: Filter | None = None) -> list[Hit]:
        return [Hit(id=str(r.id), score=0.0, payload=from_stored(r.payload)) for r in self._scroll(flt, True)]

    def doc_ids(self, flt: Filter | None = None) -> set[str]:
        """Read from the ``_tags`` where ``doc_id`` is folded: a source's sweep then reads a
        few short strings per point, not its packed text."""
        if "doc_id" in self._layout.tag_fields:
            return {v for r in self._scroll(flt, [TAGS]) for v in tag_values((r.payload or {}).get(TAGS), "doc_id")}
        return super().doc_ids(flt)  # ``doc_id`` is stored as itself

    def _scroll(self, flt: Filter | None, with_payload: bool | list[str]) -> list[Any]:
        """Every matching record, page by page (works for any number of points)."""
        if matches_nothing(flt):
            return []
        return self._records(_to_filter(self._layout, flt), with_payload)

    def _records(self, qflt: qe.Filter | None, with_payload: bool | list[str]) -> list[Any]:
        shard = self._reader()
        if shard is None:
            return []
        records: list[Any] = []
        offset: Any = None
        while True:
            request = qe.ScrollRequest(
                offset=offset, limit=SCROLL_PAGE, filter=qflt, with_payload=with_payload
            )
            page, offset = self._call(lambda: shard.scroll(request), "scroll")
            records.extend(page)
            if offset is None or not page:
                return records

    def _to_point(self, point: Point) -> qe.Point:
        vector: dict[str, Any] = {DENSE: _floats(point.dense)}
        if point.sparse.indices:
            vector[SPARSE] = qe.SparseVector(list(point.sparse.indices), list(point.sparse.values))
        return qe.Point(point.id, vector, self._layout.to_stored(point.payload))

    def _check_dim(self, got: int) -> None:
        if self._dim is not None and got != self._dim:
            raise DimensionMismatchError(f"the vector store at {self._path}", self._dim, got)

    def _update(self, op: qe.UpdateOperation, what: str) -> None:
        """Deletes and payload updates before any collection exists have nothing to change."""
        shard = self._reader()
        if shard is not None:
            with self._writes:
                self._call(lambda: shard.update(op), what)

    def _require_shard(self) -> qe.EdgeShard:
        self._check_open()
        if self._shard is None:
            raise StoreError(
                f"no collection in {self._path} yet; call ensure_collection(dim) before writing"
            )
        return self._shard

    def _reader(self) -> qe.EdgeShard | None:
        """The shard for a read; ``None`` before any collection exists (reads are empty)."""
        self._check_open()
        return self._shard

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the vector store at {self._path} is closed")

    def _has_shard(self) -> bool:
        segments = self._path / "segments"
        return (self._path / _CONFIG_FILE).exists() or (
            segments.is_dir() and any(segments.iterdir())
        )

    def _persisted_dim(self) -> int | None:
        """The dense size from ``edge_config.json`` (None if unknown)."""
        try:
            config = json.loads((self._path / _CONFIG_FILE).read_text())
            return int(config["vectors"][DENSE]["size"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _persisted_bounded(self) -> bool:
        """Whether the shard was created with a segment size bound (``EdgeTuning.max_segment_kb``).

        Only such a shard optimizes by itself during upserts: on an older one, with the
        engine's default merging, each ``optimize()`` could rebuild one giant segment."""
        try:
            config = json.loads((self._path / _CONFIG_FILE).read_text())
            return bool((config.get("optimizers") or {}).get("max_segment_size"))
        except (OSError, ValueError, AttributeError):
            return False

    def _open(self, opener: Callable[[], qe.EdgeShard]) -> qe.EdgeShard:
        try:
            return opener()
        except Exception as exc:  # qdrant_edge raises bare Exception
            if "WouldBlock" in str(exc) or "lock" in str(exc).lower():
                raise LockedError(
                    f"the vector store at {self._path} is open in another process (or another "
                    "EdgeStore in this one); stop it, or use a server store for shared access"
                ) from exc
            raise StoreError(f"cannot open the vector store at {self._path}: {exc}") from exc

    def _call(self, fn: Callable[[], T], what: str) -> T:
        try:
            return fn()
        except StoreError:
            raise
        except Exception as exc:  # qdrant_edge raises bare Exception
            message = str(exc)
            if "dimension error" in message.lower():
                raise StoreError(
                    f"{what} failed: {message}; the embedding model changed — "
                    "use a new collection"
                ) from exc
            raise StoreError(f"vector store {what} failed at {self._path}: {message}") from exc
