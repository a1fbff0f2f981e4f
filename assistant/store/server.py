"""``QdrantServerStore``: the scale-out store, on qdrant-client against a Qdrant server.

Same query model as the embedded ``EdgeStore`` (named dense + IDF sparse vectors, prefetch
+ RRF and ``FormulaQuery`` score formulas in the engine, keyword/integer/float payload
indexes), so both pass one contract suite. RRF with a custom k (``RrfQuery``) needs a Qdrant
server 1.16+, and RRF weights (the default ``sparse_weight`` is 2) a release after 1.16;
plain RRF at k = 2 is sent as ``FusionQuery``, which any 1.10+ server takes.
``location=":memory:"`` selects qdrant-client's in-process local mode, a pure-Python
stand-in used by tests only: it ignores payload indexes and scans in Python (filtered
queries take hundreds of milliseconds at 20k points).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from assistant.errors import ConfigError, DimensionMismatchError, StoreError
from assistant.models import Filter, Hit, Point, SparseVector
from assistant.store.base import (
    DENSE,
    FLOAT_FIELDS,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    SPARSE,
    Condition,
    ScoreFormula,
    ScrollReads,
    SearchRequest,
    filter_conditions,
    matches_nothing,
)
from assistant.store.server_config import CollectionConfig, Drift

log = logging.getLogger("sourcewise.store")

UPSERT_BATCH = 256
SCROLL_PAGE = 1000
DELETE_BATCH = 1000

T = TypeVar("T")

# Errors qdrant-client raises for engine/transport problems (local mode raises ValueError).
_CLIENT_ERRORS = (UnexpectedResponse, ResponseHandlingException, ValueError, OSError)


def _to_filter(flt: Filter | None, extra: Condition | None = None) -> models.Filter | None:
    must, must_not = filter_conditions(flt, extra)
    if not must and not must_not:
        return None
    return models.Filter(must=[_match(k, v) for k, v in must] or None,
                     must_not=[_match(k, v) for k, v in must_not] or None)


def _match(key: str, values: Sequence[str]) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchAny(any=list(values)))


def _plus(weight: float, term: models.Expression) -> models.SumExpression:
    """``1 + weight * term``."""
    return models.SumExpression(sum=[1.0, models.MultExpression(mult=[weight, term])])


def _formula(f: ScoreFormula) -> models.FormulaQuery:
    """``ScoreFormula`` as a ``FormulaQuery`` over ``$score`` (the fused RRF score)."""
    factors: list[models.Expression] = ["$score"]
    if f.freshness_weight:
        for kind, half_life in sorted(f.half_life_s.items()):
            decay = models.ExpDecayExpression(exp_decay=models.DecayParamsExpression(
                x="updated_ts", target=float(f.now_ts), scale=float(half_life), midpoint=0.5
            ))
            loss = models.SumExpression(sum=[decay, -1.0])  # 0 when fresh, -> -1 when old
            term = models.MultExpression(mult=[_match("kind", [kind]), loss])
            factors.append(_plus(float(f.freshness_weight), term))
    for status, penalty in sorted(f.status_penalties.items()):
        if penalty:
            factors.append(_plus(-float(penalty), _match("status", [status])))
    if f.boost_weight:
        factors.append(models.ExpExpression(
            exp=models.MultExpression(mult=[float(f.boost_weight), "boost"])
        ))
    if f.staleness_weight:
        factors.append(_plus(-float(f.staleness_weight), "staleness"))
    for m in f.matches:
        if m.values and m.weight:
            factors.append(_plus(float(m.weight), _match(m.field, m.values)))
    defaults = {"boost": 0.0, "staleness": 0.0, "updated_ts": float(f.now_ts)}
    return models.FormulaQuery(formula=models.MultExpression(mult=factors), defaults=defaults)


def _fusion(k: int, weights: list[float]) -> models.Query:
    """Plain RRF at Qdrant's default k as ``FusionQuery`` (any server version); a custom k
    or weights need ``RrfQuery`` (a recent server, see the module docstring)."""
    unit = all(w == 1.0 for w in weights)
    if k == 2 and unit:
        return models.FusionQuery(fusion=models.Fusion.RRF)
    return models.RrfQuery(rrf=models.Rrf(k=k, weights=None if unit else weights))


def _doc_filter(doc_ids: Sequence[str]) -> models.Filter:
    return models.Filter(
        must=[models.FieldCondition(key="doc_id", match=models.MatchAny(any=list(doc_ids)))]
    )


def _floats(vector: Sequence[float]) -> list[float]:
    tolist = getattr(vector, "tolist", None)  # numpy arrays convert in C
    return tolist() if tolist is not None else [float(x) for x in vector]


def _plain(payload: Any) -> dict[str, Any]:
    """Tuples (frozen model values) become lists, as they would on the wire."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dict(payload).items()}


def _to_point(point: Point) -> models.PointStruct:
    vector: dict[str, Any] = {DENSE: _floats(point.dense)}
    if point.sparse.indices:
        vector[SPARSE] = models.SparseVector(
            indices=list(point.sparse.indices), values=list(point.sparse.values)
        )
    return models.PointStruct(id=point.id, vector=vector, payload=_plain(point.payload))


def _public_url(url: str) -> str:
    """The URL without user:password (error messages reach users and logs)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host  # IPv6
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _unreachable(exc: Exception) -> bool:
    """Transport trouble (refused, timed out, reset) or a gateway/cluster saying it cannot serve."""
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code in (502, 503, 504)
    return isinstance(exc, (ResponseHandlingException, OSError))


def _is_missing(exc: Exception) -> bool:
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code == 404
    return isinstance(exc, ValueError) and "not found" in str(exc).lower()


class QdrantServerStore(ScrollReads):
    """``VectorStore`` on one collection of a Qdrant server (or qdrant-client local mode).

    Holds no failure state: a call while the server is down raises a ``StoreError`` naming
    the URL, and the next call after it returns simply works (the HTTP client opens a new
    connection per failed one), so answers resume without a restart.
    """

    def __init__(
        self,
        collection: str,
        url: str | None = None,
        api_key: str | None = None,
        location: str | None = None,
        client: QdrantClient | None = None,
        config: CollectionConfig | None = None,
        timeout_s: int | None = None,
    ) -> None:
        if client is None:
            if url is None and location is None:
                raise ConfigError(
                    "QdrantServerStore needs a server url (e.g. http://localhost:6333), "
                    "a location, or a client"
                )
            # No version check at construction: it is a request, and building the store
            # must not wait on (or warn about) a server that is down.
            client = QdrantClient(url=url, api_key=api_key, location=location, timeout=timeout_s,
                                  check_compatibility=False)
        self._client = client
        self._collection = collection
        self._where = _public_url(url) if url else (location or "the configured client")
        self._config = config or CollectionConfig()
        self._dim: int | None = None
        self._drift: list[Drift] = []

    @property
    def collection(self) -> str:
        return self._collection

    @property
    def config(self) -> CollectionConfig:
        return self._config

    # -- lifecycle ---------------------------------------------------------------------

    def ensure_collection(self, dense_dim: int) -> None:
        """Create the collection (dense cosine + sparse IDF) and payload indexes if missing."""
        name = self._collection
        if not self._call(lambda: self._client.collection_exists(name), "check collection"):
            try:
                self._client.create_collection(name, **self._config.create_kwargs(dense_dim))
            except _CLIENT_ERRORS as exc:  # another writer may have created it meanwhile
                if not self._client.collection_exists(name):
                    raise self._error("create collection", exc) from exc
        info = self._call(lambda: self._client.get_collection(name), "read collection")
        self._dim = self._dense_size(info)
        if self._dim is not None and self._dim != dense_dim:
            raise self._dim_error(self._dim, dense_dim)
        self._report_drift(info)
        existing = set(info.payload_schema or {})
        wanted = [(f, models.PayloadSchemaType.KEYWORD) for f in KEYWORD_FIELDS]
        wanted += [(f, models.PayloadSchemaType.INTEGER) for f in INTEGER_FIELDS]
        wanted += [(f, models.PayloadSchemaType.FLOAT) for f in FLOAT_FIELDS]
        with warnings.catch_warnings():
            # Local mode warns that payload indexes have no effect there; that is expected.
            warnings.filterwarnings("ignore", message="Payload indexes have no effect")
            for field, schema in wanted:
                if field not in existing:
                    self._call(
                        lambda f=field, s=schema: self._client.create_payload_index(
                            name, f, field_schema=s, wait=True
                        ),
                        f"create payload index {field!r}",
                    )

    def config_drift(self) -> list[Drift]:
        """Settings the existing collection has otherwise than ``store.*`` asks (empty when it
        matches or does not exist yet); each is logged as a warning, nothing is changed."""
        name = self._collection
        info = self._unless_missing(lambda: self._client.get_collection(name), "read collection")
        if info is None:
            return []
        return self._report_drift(info)

    def ping(self) -> None:
        """One cheap request; a ``StoreError`` naming the URL when the server cannot answer."""
        self._call(self._client.get_collections, "health check")

    def flush(self) -> None:
        """Writes use ``wait=True``: the server has applied (and WAL-logged) them on return."""

    def optimize(self) -> bool:
        """A Qdrant server runs its optimizers in the background; nothing to do."""
        return False

    def close(self) -> None:
        self._call(self._client.close, "close")

    # -- writes ------------------------------------------------------------------------

    def upsert(self, points: Sequence[Point]) -> None:
        """Insert or overwrite points by id, in batches."""
        dim = self._require_dim()
        for p in points:  # validate all before writing any batch
            if len(p.dense) != dim:
                raise self._dim_error(dim, len(p.dense))
        for start in range(0, len(points), UPSERT_BATCH):
            batch = [_to_point(p) for p in points[start : start + UPSERT_BATCH]]
            self._call(
                lambda b=batch: self._client.upsert(self._collection, points=b, wait=True),
                "upsert",
            )

    def delete_docs(self, doc_ids: Iterable[str]) -> None:
        ids = list(dict.fromkeys(doc_ids))
        for start in range(0, len(ids), DELETE_BATCH):
            self._delete(_doc_filter(ids[start : start + DELETE_BATCH]), "delete documents")

    def delete_doc_tail(self, doc_id: str, keep: int) -> None:
        flt = models.Filter(
            must=[
                models.FieldCondition(key="doc_id", match=models.MatchValue(value=doc_id)),
                models.FieldCondition(key="chunk_index", range=models.Range(gte=keep)),
            ]
        )
        self._delete(flt, "delete document tail")

    def delete_source(self, source: str) -> None:
        flt = models.Filter(
            must=[models.FieldCondition(key="source", match=models.MatchValue(value=source))]
        )
        self._delete(flt, "delete source")

    def set_doc_payload(self, doc_id: str, payload: dict) -> None:
        if not payload:
            return
        self._unless_missing(
            lambda: self._client.set_payload(
                self._collection,
                payload=_plain(payload),
                points=models.FilterSelector(filter=_doc_filter([doc_id])),
                wait=True,
            ),
            "set document payload",
        )

    def set_source_payload(self, source: str, payload: dict) -> None:
        if not payload:
            return
        flt = models.Filter(must=[models.FieldCondition(key="source", match=models.MatchValue(value=source))])
        self._unless_missing(
            lambda: self._client.set_payload(self._collection, payload=_plain(payload),
                                             points=models.FilterSelector(filter=flt), wait=True),
            "set source payload",
        )

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
        return self.search(SearchRequest(dense, sparse, limit, flt, depth=depth))

    def search(self, request: SearchRequest) -> list[Hit]:
        """Prefetches (dense, dense views, sparse, keyword legs) -> weighted RRF -> score formula."""
        if matches_nothing(request.flt) or request.limit <= 0:
            return []
        qflt = _to_filter(request.flt)
        depth = max(request.depth, request.limit)
        payload: bool | list[str] = True if request.payload_fields is None else list(request.payload_fields)
        if request.lexical:
            return self._lexical(request, qflt, depth, payload)
        dense = _floats(request.dense)
        self._check_query_dim(len(dense))
        params = self._config.search_params()
        prefetch = [
            models.Prefetch(query=vector, using=DENSE, limit=depth, filter=qflt, params=params)
            for vector in [dense, *(_floats(v.vector) for v in request.active_views())]
        ]
        if request.sparse.indices:
            vec = models.SparseVector(
                indices=list(request.sparse.indices), values=list(request.sparse.values)
            )
            prefetch.append(models.Prefetch(query=vec, using=SPARSE, limit=depth, filter=qflt))
        for leg in request.active_legs():
            leg_filter = _to_filter(request.flt, (leg.field, leg.values))
            prefetch.append(models.Prefetch(query=dense, using=DENSE, limit=depth, filter=leg_filter,
                                            params=params))
        fusion = _fusion(request.rrf_k, request.weights())
        query: models.Query = fusion
        if request.formula is not None:
            prefetch = [models.Prefetch(prefetch=prefetch, query=fusion, limit=depth)]
            query = _formula(request.formula)
        response = self._unless_missing(
            lambda: self._client.query_points(
                self._collection, prefetch=prefetch, query=query,
                limit=request.limit, with_payload=payload,
            ),
            "query",
        )
        return self._hits(response)

    def _lexical(self, request: SearchRequest, qflt: models.Filter | None, depth: int,
                 payload: bool | list[str]) -> list[Hit]:
        """The sparse list alone with raw scores, rescaled by the formula (``SearchRequest.lexical``)."""
        if not request.sparse.indices:
            return []
        vec = models.SparseVector(indices=list(request.sparse.indices), values=list(request.sparse.values))
        if request.formula is None:
            call = lambda: self._client.query_points(  # noqa: E731
                self._collection, query=vec, using=SPARSE, query_filter=qflt, limit=request.limit,
                with_payload=payload)
        else:
            call = lambda: self._client.query_points(  # noqa: E731
                self._collection, prefetch=[models.Prefetch(query=vec, using=SPARSE, limit=depth, filter=qflt)],
                query=_formula(request.formula), limit=request.limit, with_payload=payload)
        return self._hits(self._unless_missing(call, "query"))

    @staticmethod
    def _hits(response: Any) -> list[Hit]:
        if response is None:
            return []
        return [Hit(id=str(p.id), score=float(p.score), payload=p.payload or {}) for p in response.points]

    def count(self, flt: Filter | None = None) -> int:
        if matches_nothing(flt):
            return 0
        result = self._unless_missing(
            lambda: self._client.count(self._collection, count_filter=_to_filter(flt), exact=True),
            "count",
        )
        return 0 if result is None else int(result.count)

    # -- internals ---------------------------------------------------------------------

    def _scroll(self, flt: Filter | None, with_payload: bool | list[str]) -> Iterator[Any]:
        """Every matching record, page by page (works for any number of points)."""
        if matches_nothing(flt):
            return
        qflt = _to_filter(flt)
        offset: Any = None
        while True:
            page = self._unless_missing(
                lambda o=offset: self._client.scroll(
                    self._collection,
                    scroll_filter=qflt,
                    limit=SCROLL_PAGE,
                    offset=o,
                    with_payload=with_payload,
                    with_vectors=False,
                ),
                "scroll",
            )
            if page is None:
                return
            records, offset = page
            yield from records
            if offset is None or not records:
                return

    def _dense_size(self, info: Any) -> int | None:
        vectors = info.config.params.vectors
        params = vectors.get(DENSE) if isinstance(vectors, dict) else None
        return None if params is None else int(params.size)

    def _report_drift(self, info: Any) -> list[Drift]:
        drift = self._config.drift(info)
        if drift != self._drift:  # once per change, not on every call
            for d in drift:
                log.warning("Qdrant collection %r at %s differs from the settings (not changed; "
                            "recreate it or change the settings to silence this): %s",
                            self._collection, self._where, d)
        self._drift = drift
        return drift

    def _dim_error(self, have: int, got: int) -> DimensionMismatchError:
        return DimensionMismatchError(f"the Qdrant collection {self._collection!r} at {self._where}", have, got)

    def _check_query_dim(self, got: int) -> None:
        """A question embedded by another model than the collection's is refused by name, not
        answered with the engine's bare 'dimension error'. The size is read once (a collection's
        size never changes); a failed read caches nothing."""
        if self._dim is None:
            name = self._collection
            info = self._unless_missing(lambda: self._client.get_collection(name), "read collection")
            if info is None:
                return
            self._dim = self._dense_size(info)
        if self._dim is not None and got != self._dim:
            raise self._dim_error(self._dim, got)

    def _require_dim(self) -> int:
        if self._dim is None:
            name = self._collection
            info = self._unless_missing(lambda: self._client.get_collection(name), "read collection")
            size = None if info is None else self._dense_size(info)
            if size is None:
                raise StoreError(
                    f"collection {self._collection!r} does not exist (or has no {DENSE!r} "
                    "vector); call ensure_collection(dim) before writing"
                )
            self._dim = size
        return self._dim

    def _delete(self, flt: models.Filter, what: str) -> None:
        self._unless_missing(
            lambda: self._client.delete(
                self._collection, points_selector=models.FilterSelector(filter=flt), wait=True
            ),
            what,
        )

    def _unless_missing(self, fn: Callable[[], T], what: str) -> T | None:
        """Run ``fn``; ``None`` when the collection does not exist yet (reads are empty,
        deletes and payload updates have nothing to change)."""
        try:
            return fn()
        except _CLIENT_ERRORS as exc:
            if _is_missing(exc):
                return None
            raise self._error(what, exc) from exc

    def _call(self, fn: Callable[[], T], what: str) -> T:
        try:
            return fn()
        except _CLIENT_ERRORS as exc:
            raise self._error(what, exc) from exc

    def _error(self, what: str, exc: Exception) -> StoreError:
        message = str(exc)
        if "dimension error" in message.lower():
            return StoreError(
                f"{what} failed: {message}; the embedding model changed — use a new collection"
            )
        if _unreachable(exc):
            return StoreError(
                f"the Qdrant server at {self._where} is not answering ({what}: {message}); "
                "answers resume by themselves as soon as it is back, no restart needed. "
                "Check that it is running and reachable from here."
            )
        return StoreError(f"Qdrant {what} on collection {self._collection!r} failed: {message}")
