"""The one contract every ``VectorStore`` adapter passes (edge shard and Qdrant server).

Small hand-made vectors (dim 4) so every expected id is known. The server adapter runs on
qdrant-client's in-process ``:memory:`` mode; the same suite runs against a real server
by pointing the fixture at one. It runs twice on the server adapter: plain, and with int8
quantization, on-disk vectors and rescoring (local mode accepts those settings and searches
exactly anyway; ``test_server_collection_reports_its_settings`` checks what it recorded).
"""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.errors import ConfigError, LockedError, StoreError
from assistant.models import Filter, Point, SparseVector, point_id
from assistant.store.base import (
    DenseView,
    KeywordBoost,
    KeywordLeg,
    ScoreFormula,
    SearchRequest,
    VectorStore,
)
from assistant.store.edge import EdgeStore
from assistant.store.server import QdrantServerStore
from assistant.store.server_config import CollectionConfig, Drift

DIM = 4
REPO_ROOT = Path(__file__).resolve().parents[2]
EMPTY = SparseVector((), ())


def sparse(terms: dict[int, float]) -> SparseVector:
    keys = sorted(terms)
    return SparseVector(tuple(keys), tuple(terms[k] for k in keys))


def pt(
    doc_id: str,
    index: int,
    dense: list[float] | None = None,
    terms: dict[int, float] | None = None,
    *,
    source: str = "repo",
    groups: tuple[str, ...] = ("eng",),
    **extra: object,
) -> Point:
    payload = {
        "doc_id": doc_id,
        "source": source,
        "chunk_index": index,
        "access_groups": list(groups),
        "path": doc_id.split(":", 1)[-1],
        **extra,
    }
    return Point(
        id=point_id(doc_id, index),
        dense=dense or [1.0, float(index), 0.5, 0.0],
        sparse=sparse(terms if terms is not None else {index + 1: 1.0}),
        payload=payload,
    )


# Corpus: a.py (4 chunks, eng), b.py (2 chunks, eng+ops), wiki page (1 chunk, all).
A = [pt("repo:a.py", i) for i in range(4)]
B = [pt("repo:b.py", i, groups=("eng", "ops")) for i in range(2)]
W = [pt("wiki:Home", 0, source="wiki", groups=("all",))]
CORPUS = A + B + W


def ids(points: list[Point]) -> set[str]:
    return {p.id for p in points}


QUANTIZED = CollectionConfig(quantization="scalar", on_disk_vectors=True, rescore=True, oversampling=3.0)


@pytest.fixture(params=["edge", "server", "server-int8"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    if request.param == "edge":
        s: VectorStore = EdgeStore(tmp_path / "shard")
    else:
        config = QUANTIZED if request.param == "server-int8" else CollectionConfig()
        s = QdrantServerStore(f"contract-{uuid.uuid4().hex}", location=":memory:", config=config)
    yield s
    s.close()


@pytest.fixture
def filled(store: VectorStore) -> VectorStore:
    store.ensure_collection(DIM)
    store.upsert(CORPUS)
    return store


# -- collection lifecycle ------------------------------------------------------------------


def test_adapter_satisfies_protocol(store: VectorStore) -> None:
    assert isinstance(store, VectorStore)


def test_reads_before_collection_exists_are_empty(store: VectorStore) -> None:
    assert store.count() == 0
    assert store.doc_ids() == set()
    assert store.points() == []
    assert store.query([1.0, 0, 0, 0], sparse({1: 1.0}), None, 5) == []
    store.delete_docs(["repo:a.py"])  # nothing to delete: no error
    with pytest.raises(StoreError, match="ensure_collection"):
        store.upsert(A)


def test_ensure_collection_is_idempotent(store: VectorStore) -> None:
    store.ensure_collection(DIM)
    store.ensure_collection(DIM)
    store.upsert(CORPUS)
    store.ensure_collection(DIM)
    assert store.count() == len(CORPUS)


def test_ensure_collection_rejects_a_different_dim(filled: VectorStore) -> None:
    with pytest.raises(ConfigError, match="has dim 4, got 8") as err:
        filled.ensure_collection(8)
    message = str(err.value)
    assert "4-dimensional" in message and "8-dimensional" in message
    assert "SOURCEWISE_STORE__COLLECTION_PREFIX" in message and "sourcewise index --full" in message
    assert isinstance(err.value, StoreError)  # every door that reports store trouble reports it
    assert filled.count() == len(CORPUS)  # refused, nothing dropped


def test_query_with_another_models_vectors_is_refused_by_name(filled: VectorStore) -> None:
    with pytest.raises(ConfigError, match="has dim 4, got 8"):
        filled.query([1.0] * 8, sparse({1: 1.0}), None, 5)


def test_upsert_wrong_dim_says_the_model_changed(filled: VectorStore) -> None:
    bad = Point(point_id("x", 0), [1.0, 0.0, 0.0], sparse({1: 1.0}), {"doc_id": "x"})
    msg = "collection has dim 4, got 3; the embedding model changed"
    with pytest.raises(StoreError, match=msg):
        filled.upsert([bad])
    assert filled.count() == len(CORPUS)


# -- writes --------------------------------------------------------------------------------


def test_upsert_then_count(filled: VectorStore) -> None:
    assert filled.count() == 7
    assert filled.count(Filter({"doc_id": ["repo:a.py"]})) == 4
    assert {h.id for h in filled.points()} == ids(CORPUS)


def test_upsert_same_id_overwrites(filled: VectorStore) -> None:
    filled.upsert([pt("repo:a.py", 1, owner="alice")])
    filled.upsert([pt("repo:a.py", 1, owner="bob")])
    assert filled.count() == 7
    hits = [h for h in filled.points() if h.id == point_id("repo:a.py", 1)]
    assert len(hits) == 1
    assert hits[0].payload["owner"] == "bob"


def test_upsert_accepts_points_without_sparse_terms(filled: VectorStore) -> None:
    filled.upsert([pt("repo:c.py", 0, terms={})])
    assert filled.count(Filter({"doc_id": ["repo:c.py"]})) == 1


def test_delete_docs(filled: VectorStore) -> None:
    filled.delete_docs(["repo:a.py", "wiki:Home", "never-indexed"])
    assert filled.doc_ids() == {"repo:b.py"}
    assert {h.id for h in filled.points()} == ids(B)
    filled.delete_docs([])
    assert filled.count() == 2


def test_delete_doc_tail_keeps_the_head(filled: VectorStore) -> None:
    filled.delete_doc_tail("repo:a.py", keep=2)
    remaining = {h.payload["chunk_index"] for h in filled.points(Filter({"doc_id": ["repo:a.py"]}))}
    assert remaining == {0, 1}
    assert filled.count() == 5  # b.py and the wiki page untouched
    assert {h.id for h in filled.points()} == ids(A[:2] + B + W)


def test_delete_source(filled: VectorStore) -> None:
    filled.delete_source("wiki")
    assert filled.doc_ids() == {"repo:a.py", "repo:b.py"}
    filled.delete_source("repo")
    assert filled.count() == 0


def test_set_doc_payload_changes_payload_not_vectors(filled: VectorStore) -> None:
    q = [1.0, 2.0, 0.5, 0.0]
    before = filled.query(q, EMPTY, None, 7)
    filled.set_doc_payload("repo:a.py", {"owner": "alice", "access_groups": ["sec"]})
    for hit in filled.points():
        if hit.payload["doc_id"] == "repo:a.py":
            assert hit.payload["owner"] == "alice"
            assert list(hit.payload["access_groups"]) == ["sec"]
            assert hit.payload["source"] == "repo"  # other keys kept
        else:
            assert "owner" not in hit.payload
    after = filled.query(q, EMPTY, None, 7)
    assert [(h.id, round(h.score, 6)) for h in after] == [(h.id, round(h.score, 6)) for h in before]
    assert before[0].id == point_id("repo:a.py", 2)  # exact dense match ranks first
    assert filled.doc_ids(Filter({"access_groups": ["sec"]})) == {"repo:a.py"}


def test_set_source_payload_rewrites_every_point_of_one_source(filled: VectorStore) -> None:
    """A source's new access groups reach its points at once (no re-index)."""
    repo_ids = {h.id for h in filled.points(Filter({"source": ["repo"]}))}
    assert repo_ids
    filled.set_source_payload("repo", {"access_groups": ["sec"]})
    filled.flush()
    assert {h.id for h in filled.points(Filter({"access_groups": ["sec"]}))} == repo_ids
    assert all(h.payload["source"] == "wiki" for h in filled.points(Filter({"access_groups": ["eng", "ops", "all"]})))
    filled.set_source_payload("nothing-here", {"access_groups": ["x"]})  # no points: a no-op
    assert filled.count(Filter({"access_groups": ["x"]})) == 0


# -- filters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("any_of", "expected"),
    [
        ({"source": ["wiki"]}, W),
        ({"source": ["wiki", "repo"]}, CORPUS),
        ({"doc_id": ["repo:b.py"]}, B),
        ({"access_groups": ["ops"]}, B),  # list field: any element matches
        ({"access_groups": ["ops", "all"]}, B + W),
        ({"access_groups": ["eng"]}, A + B),
        ({"source": ["repo"], "access_groups": ["ops"]}, B),  # keys are AND
        ({"source": ["wiki"], "access_groups": ["ops"]}, []),
        ({"access_groups": ["nobody"]}, []),
        ({}, CORPUS),
    ],
)
def test_filter_semantics(
    filled: VectorStore, any_of: dict[str, list[str]], expected: list[Point]
) -> None:
    flt = Filter(any_of)
    assert filled.count(flt) == len(expected)
    assert {h.id for h in filled.points(flt)} == ids(expected)
    assert filled.doc_ids(flt) == {p.payload["doc_id"] for p in expected}
    hits = filled.query([1.0, 0.0, 0.5, 0.0], sparse({1: 1.0}), flt, 20)
    assert {h.id for h in hits} == ids(expected)


@pytest.mark.parametrize(
    "any_of",
    [
        {"access_groups": []},
        {"source": ["repo", "wiki"], "access_groups": []},
        {"doc_id": []},
    ],
)
def test_empty_value_list_matches_nothing(filled: VectorStore, any_of: dict) -> None:
    flt = Filter(any_of)
    assert filled.count(flt) == 0
    assert filled.points(flt) == []
    assert filled.doc_ids(flt) == set()
    assert filled.query([1.0, 0.0, 0.5, 0.0], sparse({1: 1.0}), flt, 10) == []


def test_none_of_excludes_marked_documents(filled: VectorStore) -> None:
    """An owner's "deprecated" mark hides a document's points; unmarked points (no field) pass."""
    hidden = Filter({}, {"excluded": ["deprecated"]})
    assert filled.count(hidden) == len(CORPUS)
    filled.set_doc_payload("repo:b.py", {"excluded": "deprecated"})
    assert filled.doc_ids(hidden) == {p.payload["doc_id"] for p in CORPUS} - {"repo:b.py"}
    assert {h.id for h in filled.points(hidden)} == ids(CORPUS) - ids(B)
    hits = filled.query([1.0, 0.0, 0.5, 0.0], sparse({1: 1.0}), hidden, 20)
    assert {h.id for h in hits} == ids(CORPUS) - ids(B)
    both = Filter({"source": ["repo"]}, {"excluded": ["deprecated"]})
    assert filled.doc_ids(both) == {"repo:a.py"}
    req = SearchRequest(dense=[1.0, 0.0, 0.5, 0.0], sparse=sparse({1: 1.0}), flt=hidden, limit=20)
    assert {h.id for h in filled.search(req)} == ids(CORPUS) - ids(B)


# -- hybrid query --------------------------------------------------------------------------

Q_DENSE = [1.0, 0.0, 0.0, 0.0]
Q_SPARSE = sparse({7: 1.0})
# D: the dense query's nearest, no shared sparse term. S: only the sparse term, dense
# opposite (ranked last, beyond the dense prefetch). BOTH: second on each side.
D = pt("repo:d.py", 0, [1.0, 0.0, 0.0, 0.0], {1: 1.0})
S = pt("wiki:s", 0, [-1.0, 0.0, 0.0, 0.0], {7: 1.0}, source="wiki")
BOTH = pt("repo:both.py", 0, [0.95, 0.3, 0.0, 0.0], {7: 0.5, 2: 1.0})
FILLER = [pt(f"repo:f{i}.py", 0, [0.5, 0.5, 0.1 + i / 100, 0.0], {100 + i: 1.0}) for i in range(60)]


@pytest.fixture
def hybrid(store: VectorStore) -> VectorStore:
    store.ensure_collection(DIM)
    store.upsert([D, S, BOTH, *FILLER])
    return store


def test_query_fuses_dense_and_sparse(hybrid: VectorStore) -> None:
    hits = hybrid.query(Q_DENSE, Q_SPARSE, None, 3)
    assert hits[0].id == BOTH.id  # high on both lists beats the top of either alone
    assert {h.id for h in hits[1:]} == {S.id, D.id}  # S only via sparse, D only via dense
    assert hits[0].score > hits[1].score >= hits[2].score
    assert all(isinstance(h.id, str) for h in hits)
    assert hits[0].payload["doc_id"] == "repo:both.py"


def test_sparse_only_match_is_missed_by_dense_alone(hybrid: VectorStore) -> None:
    hits = hybrid.query(Q_DENSE, EMPTY, None, 3)  # empty sparse: dense only, no crash
    assert hits[0].id == D.id
    assert S.id not in {h.id for h in hybrid.query(Q_DENSE, EMPTY, None, 50)}


def test_query_respects_filter(hybrid: VectorStore) -> None:
    hits = hybrid.query(Q_DENSE, Q_SPARSE, Filter({"source": ["repo"]}), 3)
    assert S.id not in {h.id for h in hits}
    assert [h.id for h in hits[:2]] == [BOTH.id, D.id]
    hits = hybrid.query(Q_DENSE, Q_SPARSE, Filter({"source": ["wiki"]}), 3)
    assert [h.id for h in hits] == [S.id]


def test_query_limit(hybrid: VectorStore) -> None:
    assert len(hybrid.query(Q_DENSE, Q_SPARSE, None, 5)) == 5
    assert len(hybrid.query(Q_DENSE, Q_SPARSE, None, 1)) == 1


# -- search: keyword legs, weighted RRF, score formula -----------------------------------

NOW = 1_750_000_000.0
DAY = 86_400.0
YEAR = 365 * DAY
# Ten docs along a dense arc: R0 is nearest the query, R9 furthest; each has its own term.
RANKED = [
    pt(f"docs:r{i}.md", 0, [1.0, 0.1 * i, 0.0, 0.0], {200 + i: 1.0}, source="docs",
       kind="docs", updated_ts=int(NOW), status="active")
    for i in range(10)
]


def with_payload(point: Point, **changes: object) -> Point:
    return dataclasses.replace(point, payload={**point.payload, **changes})


def formula(**kw: object) -> ScoreFormula:
    return ScoreFormula(now_ts=NOW, **kw)  # type: ignore[arg-type]


def request(flt: Filter | None = None, **kw: object) -> SearchRequest:
    base: dict = {"dense": Q_DENSE, "sparse": EMPTY, "limit": 10, "flt": flt, "depth": 10}
    return SearchRequest(**(base | kw))


def order(hits: list) -> list[str]:
    return [h.payload["doc_id"] for h in hits]


def assert_formula_scores(store: VectorStore, req: SearchRequest) -> None:
    """Every rescored hit = its fused RRF score x ``ScoreFormula.factor`` (engine == Python)."""
    assert req.formula is not None
    base = {h.id: h.score for h in store.search(dataclasses.replace(req, formula=None))}
    hits = store.search(req)
    assert hits
    for hit in hits:
        expected = base[hit.id] * req.formula.factor(hit.payload)
        assert hit.score == pytest.approx(expected, rel=1e-5), hit.payload["doc_id"]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.fixture
def ranked(store: VectorStore) -> VectorStore:
    store.ensure_collection(DIM)
    return store


def test_search_without_formula_is_plain_rrf(ranked: VectorStore) -> None:
    ranked.upsert(RANKED)
    hits = ranked.search(request())
    assert order(hits) == [p.payload["doc_id"] for p in RANKED]
    assert hits[0].score == pytest.approx(1 / 2)  # RRF 1/(k + rank), k = 2, rank from 0
    assert hits[1].score == pytest.approx(1 / 3)
    assert hits[0].payload["kind"] == "docs"


def test_formula_ranks_a_fresh_point_above_an_otherwise_equal_old_one(ranked: VectorStore) -> None:
    old = with_payload(RANKED[0], updated_ts=int(NOW - 3 * YEAR))
    ranked.upsert([old, *RANKED[1:]])
    req = request(formula=formula(half_life_s={"docs": 180 * DAY}, freshness_weight=0.5))
    hits = ranked.search(req)
    assert order(hits)[:2] == ["docs:r1.md", "docs:r0.md"]  # the old nearest drops below
    assert_formula_scores(ranked, req)
    # code decays slowly: the same age barely moves a code point
    slow = request(formula=formula(half_life_s={"docs": 100 * YEAR}, freshness_weight=0.5))
    assert order(ranked.search(slow))[0] == "docs:r0.md"
    # a missing updated_ts counts as fresh; a kind without a half-life never decays
    ranked.upsert([with_payload(RANKED[0], updated_ts=None, kind="code")])
    ranked.upsert([dataclasses.replace(RANKED[0], payload={
        k: v for k, v in RANKED[0].payload.items() if k != "updated_ts"})])
    assert order(ranked.search(req))[0] == "docs:r0.md"
    assert_formula_scores(ranked, req)


@pytest.mark.parametrize("status", ["stale", "deprecated"])
def test_formula_penalises_stale_and_deprecated(ranked: VectorStore, status: str) -> None:
    ranked.upsert([with_payload(RANKED[0], status=status), *RANKED[1:]])
    req = request(formula=formula(status_penalties={"stale": 0.4, "deprecated": 0.7}))
    hits = ranked.search(req)
    assert order(hits)[0] == "docs:r1.md"
    # 1/2 x 0.6 = 0.3 falls between 1/3 and 1/4; 1/2 x 0.3 = 0.15 between 1/6 and 1/7
    assert order(hits).index("docs:r0.md") == (1 if status == "stale" else 4)
    assert_formula_scores(ranked, req)
    no_penalty = request(formula=formula(status_penalties={"stale": 0.0, "deprecated": 0.0}))
    assert order(ranked.search(no_penalty))[0] == "docs:r0.md"


def test_formula_applies_the_feedback_boost(ranked: VectorStore) -> None:
    ranked.upsert([with_payload(RANKED[0], boost=-1.0), with_payload(RANKED[3], boost=1.0),
                   *RANKED[1:3], *RANKED[4:]])
    req = request(formula=formula(boost_weight=1.0))
    assert order(ranked.search(req))[:3] == ["docs:r3.md", "docs:r1.md", "docs:r2.md"]
    assert_formula_scores(ranked, req)
    neutral = ranked.search(request(formula=formula(boost_weight=1.0), limit=10))
    unboosted = {h.payload["doc_id"]: h.score for h in neutral if "boost" not in h.payload}
    plain = {h.payload["doc_id"]: h.score for h in ranked.search(request())}
    for doc_id, score in unboosted.items():  # absent boost = neutral (default 0)
        assert score == pytest.approx(plain[doc_id], rel=1e-6)


def test_formula_ranks_a_stale_document_below_the_same_document_fresh(ranked: VectorStore) -> None:
    """``staleness`` (0..1, from a document's open findings) costs ``staleness_weight x
    staleness`` of its score; an absent ``staleness`` is fresh (default 0)."""
    req = request(formula=formula(staleness_weight=0.5))
    ranked.upsert(RANKED)
    assert order(ranked.search(req))[0] == "docs:r0.md"  # nothing stale: plain order
    assert_formula_scores(ranked, req)
    ranked.upsert([with_payload(RANKED[0], staleness=0.9), with_payload(RANKED[1], staleness=0.0)])
    hits = ranked.search(req)
    # 1/2 x (1 - 0.5 x 0.9) = 0.275 falls between 1/3 and 1/4
    assert order(hits)[:3] == ["docs:r1.md", "docs:r0.md", "docs:r2.md"]
    assert_formula_scores(ranked, req)
    ranked.upsert([with_payload(RANKED[0], staleness=1.0)])
    fully = request(formula=formula(staleness_weight=1.0))
    assert "docs:r0.md" not in order(ranked.search(fully))[:9]  # x 0: last
    assert order(ranked.search(request(formula=formula(staleness_weight=0.0))))[0] == "docs:r0.md"


def test_formula_boosts_exact_keyword_matches(ranked: VectorStore) -> None:
    ranked.upsert([with_payload(RANKED[4], symbols=["retry_limit", "retrypolicy"]), *RANKED[:4],
                   *RANKED[5:]])
    req = request(formula=formula(matches=(KeywordBoost("symbols", ("retry_limit",), 3.0),)))
    assert order(ranked.search(req))[0] == "docs:r4.md"
    assert_formula_scores(ranked, req)


def test_keyword_leg_finds_what_dense_and_sparse_miss(ranked: VectorStore) -> None:
    far = pt("repo:defs.py", 0, [-1.0, 0.0, 0.0, 0.0], {999: 1.0}, kind="code",
             updated_ts=int(NOW), symbols=["httpclient.send", "send"], source="repo")
    ranked.upsert([*RANKED, far, *FILLER])
    plain = request(depth=5, limit=10)
    assert far.id not in {h.id for h in ranked.search(plain)}
    leg = dataclasses.replace(plain, legs=(KeywordLeg("symbols", ("httpclient.send",), 1.0),))
    hits = {h.id: h.score for h in ranked.search(leg)}
    assert hits[far.id] == pytest.approx(0.5)  # first on its own list: ties the dense top
    # weights: a heavier exact list puts it clearly first
    heavy = dataclasses.replace(leg, legs=(KeywordLeg("symbols", ("httpclient.send",), 3.0),))
    top = ranked.search(heavy)
    # Qdrant's weighted RRF: w / (rank + 1 + w (k - 1)), so weight 3 at rank 0 gives 3/4
    assert top[0].id == far.id and top[0].score == pytest.approx(0.75)
    assert top[1].score == pytest.approx(0.5)
    # an empty value list adds no leg (and no error)
    empty = dataclasses.replace(plain, legs=(KeywordLeg("symbols", (), 1.0),))
    assert far.id not in {h.id for h in ranked.search(empty)}


def test_keyword_leg_respects_the_request_filter(ranked: VectorStore) -> None:
    secret = pt("repo:secret.py", 0, [-1.0, 0.0, 0.0, 0.0], {998: 1.0}, groups=("sec",),
                symbols=["retry_limit"], kind="code")
    ranked.upsert([*RANKED, secret])
    legs = (KeywordLeg("symbols", ("retry_limit",), 5.0),)
    req = request(legs=legs, formula=formula(matches=(KeywordBoost("symbols", ("retry_limit",), 5.0),)))
    assert order(ranked.search(req))[0] == "repo:secret.py"
    for flt in (Filter({"access_groups": ["eng"]}), Filter({"source": ["docs"]})):
        hits = ranked.search(dataclasses.replace(req, flt=flt))
        assert secret.id not in {h.id for h in hits}
    assert ranked.search(dataclasses.replace(req, flt=Filter({"access_groups": []}))) == []


def test_weighted_rrf_follows_the_weights(hybrid: VectorStore) -> None:
    base = SearchRequest(Q_DENSE, Q_SPARSE, limit=3, depth=50)
    assert hybrid.search(base)[0].id == BOTH.id
    sparse_heavy = hybrid.search(dataclasses.replace(base, sparse_weight=10.0))
    assert [h.id for h in sparse_heavy[:2]] == [BOTH.id, S.id]  # S now beats D
    # with k = 1 weights scale linearly: D (dense rank 0) 10/1 beats BOTH 10/2 + 1/2
    dense_heavy = hybrid.search(dataclasses.replace(base, dense_weight=10.0, rrf_k=1))
    assert dense_heavy[0].id == D.id and dense_heavy[0].score == pytest.approx(10.0)


def test_dense_view_is_its_own_prefetch(hybrid: VectorStore) -> None:
    """A second reading of the question ranks every point again and is fused with its weight."""
    base = SearchRequest(Q_DENSE, EMPTY, limit=3, depth=5)
    assert S.id not in {h.id for h in hybrid.search(base)}  # dense opposite: beyond the prefetch
    view = dataclasses.replace(base, views=(DenseView([-1.0, 0.0, 0.0, 0.0], 2.0),))
    hits = hybrid.search(view)
    # S is first on the view's list: weight 2 at rank 0 with k = 2 gives 2/3, above D's 1/2
    assert hits[0].id == S.id and hits[0].score == pytest.approx(2 / 3)
    assert {h.id: h.score for h in hits}[D.id] == pytest.approx(0.5)  # the main list still counts
    off = dataclasses.replace(base, views=(DenseView([-1.0, 0.0, 0.0, 0.0], 0.0),))
    assert [h.id for h in hybrid.search(off)] == [h.id for h in hybrid.search(base)]
    with pytest.raises(StoreError):
        hybrid.search(dataclasses.replace(base, views=(DenseView([1.0, 0.0], 1.0),)))


def test_lexical_search_ranks_by_sparse_score_times_the_formula(ranked: VectorStore) -> None:
    """``lexical``: only chunks sharing a term, by their BM25 score (no RRF), times the formula."""
    strong = pt("repo:strong.py", 0, [-1.0, 0.0, 0.0, 0.0], {7: 3.0, 8: 1.0}, kind="code",
                updated_ts=int(NOW), role="main")
    weak = pt("repo:weak.py", 0, [1.0, 0.0, 0.0, 0.0], {7: 1.0}, kind="code", updated_ts=int(NOW), role="main")
    test = pt("repo:test_strong.py", 0, [1.0, 0.0, 0.0, 0.0], {7: 3.0, 8: 1.0}, kind="code",
              updated_ts=int(NOW), role="test")
    ranked.upsert([*RANKED, strong, weak, test])
    req = request(sparse=sparse({7: 1.0, 8: 1.0}), lexical=True, limit=10)
    plain = ranked.search(req)
    assert {h.payload["doc_id"] for h in plain} == {"repo:strong.py", "repo:weak.py", "repo:test_strong.py"}
    scores = {h.payload["doc_id"]: h.score for h in plain}
    assert scores["repo:strong.py"] == pytest.approx(scores["repo:test_strong.py"])
    assert scores["repo:strong.py"] > scores["repo:weak.py"] > 0  # raw scores, not 1/(k + rank)
    penalised = dataclasses.replace(req, formula=formula(matches=(KeywordBoost("role", ("test",), -0.5),)))
    hits = ranked.search(penalised)
    assert order(hits)[0] == "repo:strong.py"
    assert {h.payload["doc_id"]: h.score for h in hits}["repo:test_strong.py"] == pytest.approx(
        scores["repo:test_strong.py"] * 0.5)
    slim = ranked.search(dataclasses.replace(req, payload_fields=("doc_id", "path")))
    assert set(slim[0].payload) == {"doc_id", "path"}
    assert ranked.search(dataclasses.replace(req, sparse=EMPTY)) == []
    assert ranked.search(dataclasses.replace(req, flt=Filter({"access_groups": []}))) == []


def test_search_on_an_empty_store_or_before_a_collection(store: VectorStore) -> None:
    req = request(formula=formula(freshness_weight=0.5, half_life_s={"docs": DAY}))
    assert store.search(req) == []
    store.ensure_collection(DIM)
    assert store.search(req) == []


# -- listing -------------------------------------------------------------------------------


def test_doc_ids_and_points_paginate(store: VectorStore) -> None:
    store.ensure_collection(DIM)
    many = [pt(f"repo:m{d}.py", i, groups=("eng",)) for d in range(700) for i in range(3)]
    store.upsert(many)
    assert store.count() == 2100
    assert store.doc_ids() == {f"repo:m{d}.py" for d in range(700)}
    listed = store.points()
    assert len(listed) == 2100
    assert {h.id for h in listed} == ids(many)
    assert all(h.score == 0 for h in listed)
    assert store.doc_ids(Filter({"doc_id": ["repo:m5.py", "repo:m699.py"]})) == {
        "repo:m5.py",
        "repo:m699.py",
    }


# -- adapter-specific ----------------------------------------------------------------------


def test_server_store_needs_a_target() -> None:
    with pytest.raises(ConfigError):
        QdrantServerStore("c")


@pytest.mark.parametrize(("config", "kind", "always_ram"), [
    (CollectionConfig(), None, None),
    (CollectionConfig(quantization="scalar", quantization_always_ram=True), "scalar", True),
    (CollectionConfig(quantization="scalar", quantization_always_ram=False, on_disk_vectors=True), "scalar", False),
    (CollectionConfig(quantization="binary", quantization_always_ram=True), "binary", True),
])
def test_server_collection_reports_its_settings(config: CollectionConfig, kind: str | None,
                                                always_ram: bool | None) -> None:
    """The collection is created with the settings; local mode records the dense vector's."""
    from qdrant_client import QdrantClient

    client = QdrantClient(location=":memory:")
    s = QdrantServerStore("configured", client=client, config=config)
    s.ensure_collection(DIM)
    dense = client.get_collection("configured").config.params.vectors["dense"]
    assert dense.size == DIM
    assert bool(dense.on_disk) is config.on_disk_vectors
    quant = dense.quantization_config
    if kind is None:
        assert quant is None
    else:
        inner = getattr(quant, kind)
        assert inner.always_ram is always_ram
        if kind == "scalar":
            assert inner.type.value == "int8"
    assert s.config_drift() == []
    s.upsert(CORPUS)  # and it answers with the search parameters of that config
    assert s.query([1.0, 3.0, 0.5, 0.0], EMPTY, None, 1)[0].id == point_id("repo:a.py", 3)


def test_server_existing_collection_that_differs_is_reported_not_changed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from qdrant_client import QdrantClient

    client = QdrantClient(location=":memory:")
    QdrantServerStore("live", client=client).ensure_collection(DIM)
    wanted = CollectionConfig(quantization="scalar", on_disk_vectors=True)
    s = QdrantServerStore("live", client=client, config=wanted)
    with caplog.at_level("WARNING", logger="sourcewise.store"):
        s.ensure_collection(DIM)
    drift = s.config_drift()
    assert set(drift) == {Drift("store.on_disk_vectors", True, False), Drift("store.quantization", "scalar", "none")}
    assert "store.quantization: settings want 'scalar', the collection has 'none'" in caplog.text
    dense = client.get_collection("live").config.params.vectors["dense"]
    assert dense.quantization_config is None and not dense.on_disk  # untouched


def test_server_store_refuses_an_existing_collection_of_another_dim() -> None:
    """A new store (a restarted app, another model) meets a collection built at another size."""
    from qdrant_client import QdrantClient

    client = QdrantClient(location=":memory:")
    first = QdrantServerStore("built", client=client)
    first.ensure_collection(DIM)
    first.upsert(CORPUS)
    again = QdrantServerStore("built", client=client)
    with pytest.raises(ConfigError, match=r"'built' at the configured client holds 4-dimensional vectors "
                                          r"but the embedding model makes 8-dimensional"):
        again.ensure_collection(8)
    with pytest.raises(ConfigError, match="has dim 4, got 8"):
        QdrantServerStore("built", client=client).query([0.5] * 8, EMPTY, None, 3)
    assert again.count() == len(CORPUS)


def test_edge_close_and_reopen_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "shard"
    s = EdgeStore(path)
    s.ensure_collection(DIM)
    s.upsert(CORPUS)
    s.delete_doc_tail("repo:a.py", keep=3)
    s.flush()
    s.close()
    s.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        s.count()

    reopened = EdgeStore(path)
    try:
        assert reopened.count() == 6
        assert {h.id for h in reopened.points()} == ids(A[:3] + B + W)
        assert reopened.count(Filter({"access_groups": ["ops"]})) == 2
        reopened.ensure_collection(DIM)  # same dim: fine, indexes already there
        with pytest.raises(ConfigError, match="vector store at .* holds 4-dimensional vectors .* has dim 4, got 8"):
            reopened.ensure_collection(8)
        with pytest.raises(StoreError, match="collection has dim 4, got 3"):
            reopened.upsert([Point(point_id("x", 0), [1.0, 0.0, 0.0], EMPTY, {})])
        hits = reopened.query([1.0, 3.0, 0.5, 0.0], EMPTY, None, 1)
        assert hits[0].id == point_id("repo:a.py", 2)
    finally:
        reopened.close()


def test_edge_directory_is_locked_while_open(tmp_path: Path) -> None:
    path = tmp_path / "shard"
    first = EdgeStore(path)
    first.ensure_collection(DIM)
    try:
        with pytest.raises(LockedError):
            EdgeStore(path)
    finally:
        first.close()
    second = EdgeStore(path)  # released on close
    second.close()


def test_edge_indexes_every_filtered_and_scored_field(tmp_path: Path) -> None:
    from assistant.store.base import FLOAT_FIELDS, INTEGER_FIELDS, KEYWORD_FIELDS

    from assistant.store.edge_payload import TAGS

    with EdgeStore(tmp_path / "shard") as s:
        s.ensure_collection(DIM)
        schema = set(s._shard.info().payload_schema)  # type: ignore[union-attr]
        folded = s._layout.tag_fields
        assert {"symbols", "path_keys", "dirs", "ext", "status"} <= folded and TAGS in schema
        # every keyword field is indexed, by itself or (folded) through the one _tags index
        assert set(KEYWORD_FIELDS) - folded <= schema and not folded & schema
        assert set(INTEGER_FIELDS + FLOAT_FIELDS) <= schema
        assert len(schema) == len(KEYWORD_FIELDS) - len(folded) + 1 + len(INTEGER_FIELDS + FLOAT_FIELDS)


def test_edge_optimize_keeps_results(tmp_path: Path) -> None:
    s = EdgeStore(tmp_path / "shard")
    try:
        s.ensure_collection(DIM)
        s.upsert([D, S, BOTH, *FILLER])
        assert isinstance(s.optimize(), bool)
        assert s.count() == 63
        hits = s.query(Q_DENSE, Q_SPARSE, None, 3)
        assert hits[0].id == BOTH.id
        assert {h.id for h in hits[1:]} == {S.id, D.id}  # tied scores: any order
    finally:
        s.close()


_KILLED_WRITER = """
import os, signal, sys
sys.path.insert(0, {root!r})
from tests.contracts.test_vector_store import CORPUS, DIM, pt
from assistant.store.edge import EdgeStore
s = EdgeStore({path!r})
s.ensure_collection(DIM)
s.upsert(CORPUS)
s.delete_docs(["wiki:Home"])
s.set_doc_payload("repo:b.py", {{"owner": "carol"}})
s.flush()
print("flushed", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_edge_sigkill_after_flush_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shard"
    script = textwrap.dedent(_KILLED_WRITER).format(root=str(REPO_ROOT), path=str(path))
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert "flushed" in proc.stdout
    s = EdgeStore(path)  # the killed process's lock is gone with it
    try:
        assert s.count() == 6
        assert s.doc_ids() == {"repo:a.py", "repo:b.py"}
        owners = {h.payload.get("owner") for h in s.points(Filter({"doc_id": ["repo:b.py"]}))}
        assert owners == {"carol"}
    finally:
        s.close()


def test_edge_creates_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "shard"
    s = EdgeStore(path)
    try:
        assert path.is_dir()
        assert s.count() == 0
    finally:
        s.close()
    assert not (path / "segments").exists()  # no shard until ensure_collection
