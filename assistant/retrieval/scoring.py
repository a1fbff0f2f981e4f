"""From settings and a question to the engine request: filters, exact legs, formula.

Everything that decides a score runs inside the engine (``SearchRequest`` ->
prefetches, weighted RRF, score formula), identically on EdgeStore and
QdrantServerStore. Only what no Qdrant query can express — the exact ``path:`` glob, the
near-duplicate collapse and the per-file cap — runs in Python on the candidates.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.models import Filter, SparseVector
from assistant.retrieval.query import QueryFilters, glob_prefilter
from assistant.settings import RetrievalSettings
from assistant.store.base import (
    EXCLUDED_FIELD,
    EXCLUDED_VALUES,
    DenseView,
    KeywordBoost,
    KeywordLeg,
    ScoreFormula,
    SearchRequest,
)

SYMBOLS_FIELD = "symbols"
PATH_KEYS_FIELD = "path_keys"
ROLE_FIELD = "role"


def build_filter(filters: QueryFilters, access_groups: list[str] | None) -> Filter:
    """The ``must`` conditions of every prefetch: the caller's groups (``None`` = admin,
    no condition; ``[]`` matches nothing) and the question's filters.

    ``path:`` globs add a necessary condition (a literal directory, file name or
    extension) when every glob has one on the same field; the exact glob is checked on
    the candidates afterwards.
    """
    flt = Filter()
    if access_groups is not None:
        flt = flt.and_("access_groups", list(access_groups))
    if filters.repos:
        flt = flt.and_("source", list(filters.repos))
    if filters.langs:
        flt = flt.and_("language", list(filters.langs))
    if filters.kinds:
        flt = flt.and_("kind", list(filters.kinds))
    pre = [glob_prefilter(g) for g in filters.paths]
    if pre and all(p is not None for p in pre) and len({p[0] for p in pre if p}) == 1:
        field = pre[0][0]  # type: ignore[index]
        flt = flt.and_(field, list(dict.fromkeys(p[1] for p in pre if p)))
    # Documents an owner marked deprecated stay in the catalog but never in an answer.
    return flt.and_not(EXCLUDED_FIELD, list(EXCLUDED_VALUES))


def build_formula(
    settings: RetrievalSettings,
    now_ts: float,
    identifiers: Sequence[str] = (),
    path_keys: Sequence[str] = (),
) -> ScoreFormula:
    """Freshness per kind, the staleness and deprecated penalties, feedback boost, exact
    matches, and the test/meta-file priors (a ``KeywordBoost`` with a negative weight).

    ``stale_penalty`` weighs the document's ``staleness`` score (0..1, from its open
    findings and flags), which replaced the binary ``stale`` status."""
    matches = []
    if identifiers and settings.symbol_boost:
        matches.append(KeywordBoost(SYMBOLS_FIELD, tuple(identifiers), settings.symbol_boost))
    if path_keys and settings.path_boost:
        matches.append(KeywordBoost(PATH_KEYS_FIELD, tuple(path_keys), settings.path_boost))
    if settings.test_penalty:
        matches.append(KeywordBoost(ROLE_FIELD, ("test", "example"), -settings.test_penalty))
    if settings.meta_penalty:
        matches.append(KeywordBoost(ROLE_FIELD, ("meta",), -settings.meta_penalty))
    return ScoreFormula(
        now_ts=now_ts,
        half_life_s=settings.half_life_seconds(),
        freshness_weight=settings.freshness_weight,
        status_penalties={"deprecated": settings.deprecated_penalty},
        boost_weight=settings.boost_weight,
        matches=tuple(matches),
        staleness_weight=settings.stale_penalty,
    )


def build_request(
    settings: RetrievalSettings,
    *,
    dense: Sequence[float],
    sparse: SparseVector,
    flt: Filter | None,
    limit: int,
    now_ts: float,
    identifiers: Sequence[str] = (),
    path_keys: Sequence[str] = (),
    views: tuple[DenseView, ...] = (),
) -> SearchRequest:
    """The one engine request for a question (see ``SearchRequest``)."""
    legs = []
    if settings.exact_weight:
        if identifiers:
            legs.append(KeywordLeg(SYMBOLS_FIELD, tuple(identifiers), settings.exact_weight))
        if path_keys:
            legs.append(KeywordLeg(PATH_KEYS_FIELD, tuple(path_keys), settings.exact_weight))
    return SearchRequest(
        dense=dense,
        sparse=sparse,
        limit=limit,
        flt=flt,
        depth=max(settings.prefetch_depth, limit),
        rrf_k=settings.rrf_k,
        dense_weight=settings.dense_weight,
        sparse_weight=settings.sparse_weight,
        legs=tuple(legs),
        formula=build_formula(settings, now_ts, identifiers, path_keys),
        views=views,
    )
