"""The embedded store's layout for large indexes (``EdgeTuning``), on the real qdrant-edge engine.

A new store gets int8 quantization (float originals on disk, rescored) and HNSW payload
links only for the fields dense queries filter on; an existing store keeps the layout it
was created with; and after ``optimize()`` builds the HNSW graph, filtered queries still
return exactly the points the filter allows, ranked as a brute-force scan ranks them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from assistant.models import Filter, Point, SparseVector, point_id
from assistant.settings import Settings
from assistant.store.base import KEYWORD_FIELDS, KeywordLeg, SearchRequest
from assistant.store.edge import EdgeStore
from assistant.store.edge_config import (
    DENSE_FILTER_FIELDS,
    UNFILTERED_FIELDS,
    EdgeTuning,
    tuning_from,
    usable_cpus,
)
from assistant.store.edge_payload import LAYOUT_FILE, TAGS

DIM = 384
N = 14_000  # two segments above qdrant's indexing threshold, so HNSW and quantization are built
SOURCES = ("alpha", "beta", "gamma", "delta")


def _config(path: Path) -> dict:
    return json.loads((path / "edge_config.json").read_text())


def _links(store: EdgeStore) -> dict[str, bool]:
    """Per indexed field, whether its value blocks get HNSW links (no params: qdrant's default, yes)."""
    schema = store._shard.info().payload_schema  # type: ignore[union-attr]
    return {name: getattr(info.params, "enable_hnsw", None) is not False for name, info in schema.items()}


def _corpus(seed: int = 3) -> tuple[np.ndarray, list[dict]]:
    """Dense vectors with a low-dimensional structure (as real embeddings have), so an
    approximate index can be held to a brute-force scan; payloads with a broad group
    (``payments``: 1 in 5) and selective sources."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((N, 12)).astype(np.float32)
    vectors = latent @ rng.standard_normal((12, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    payloads = [
        {"source": SOURCES[i % 4] if i % 50 else "rare", "doc_id": f"doc{i}", "kind": "code",
         "access_groups": ["payments"] if i % 5 == 0 else ["everyone"],
         "excluded": "deprecated" if i % 97 == 0 else None}
        for i in range(N)
    ]
    return vectors, payloads


@pytest.fixture(scope="module")
def optimized(tmp_path_factory: pytest.TempPathFactory) -> tuple[EdgeStore, np.ndarray, list[dict], list[str]]:
    path = tmp_path_factory.mktemp("edge") / "store"
    store = EdgeStore(path)
    store.ensure_collection(DIM)
    vectors, payloads = _corpus()
    ids = [point_id(p["doc_id"], 0) for p in payloads]
    store.upsert([Point(ids[i], vectors[i], SparseVector((), ()), payloads[i]) for i in range(N)])
    store.optimize()
    yield store, vectors, payloads, ids
    store.close()


def test_a_new_store_is_quantized_with_links_only_for_filter_fields(optimized) -> None:
    store, *_ = optimized
    dense = _config(store.path)["vectors"]["dense"]
    assert dense["quantization_config"]["scalar"]["type"] == "int8"
    assert dense["memory"] == "cold"  # float originals on disk, for rescoring
    links = _links(store)
    assert {f for f, on in links.items() if on} == set(DENSE_FILTER_FIELDS)
    folded = store._layout.tag_fields  # keyword fields without links share the one _tags index
    assert folded == set(KEYWORD_FIELDS) - set(DENSE_FILTER_FIELDS)
    assert set(links) & set(KEYWORD_FIELDS) == set(DENSE_FILTER_FIELDS) and links[TAGS] is False
    assert not set(UNFILTERED_FIELDS) & set(links)  # fields only returned, never filtered: none
    assert _config(store.path)["hnsw_config"]["max_indexing_threads"] == usable_cpus() >= 1
    assert store._shard.info().indexed_vectors_count >= N  # HNSW built over the int8 vectors
    quantized = list((store.path / "segments").glob("*/vector_storage-dense/quantized.data"))
    assert quantized and all(q.stat().st_size >= DIM for q in quantized)  # the int8 copy exists


@pytest.mark.parametrize("flt", [
    None,
    Filter({"access_groups": ["payments"]}),  # broad: searched through the HNSW graph
    Filter({"source": ["alpha"], "access_groups": ["everyone", "payments"]}),
    Filter({"source": ["rare"]}),  # selective: the payload index, then an exact scan
    Filter({"access_groups": ["everyone"]}, {"excluded": ["deprecated"]}),
], ids=["none", "payments", "alpha", "rare", "not-deprecated"])
def test_filtered_queries_return_the_brute_force_ids(optimized, flt: Filter | None) -> None:
    store, vectors, payloads, ids = optimized

    def allowed(p: dict) -> bool:
        if flt is None:
            return True
        for key, values in flt.any_of.items():
            have = p.get(key)
            have = have if isinstance(have, list) else [have]
            if not set(have) & set(values):
                return False
        return all(p.get(key) not in values for key, values in flt.none_of.items())

    mask = np.array([allowed(p) for p in payloads])
    rng = np.random.default_rng(11)
    found = wanted = 0
    for target in rng.choice(N, size=25, replace=False):
        query = vectors[target] + 0.05 * rng.standard_normal(DIM).astype(np.float32)
        query /= np.linalg.norm(query)
        hits = store.query(query, SparseVector((), ()), flt, 10)
        got = [h.id for h in hits]
        assert all(allowed(h.payload) for h in hits)  # never a point the filter excludes
        scores = np.where(mask, vectors @ query, -np.inf)
        truth = [ids[i] for i in np.argsort(-scores)[:10]]
        assert got[0] == truth[0]
        found += len(set(got) & set(truth))
        wanted += len(truth)
    assert found / wanted >= 0.97, f"recall@10 {found / wanted:.3f} against a brute-force scan"


def test_a_keyword_leg_walks_the_graph_only_as_wide_as_its_depth(optimized) -> None:
    """A keyword leg's prefetch rescores its own depth, not depth x oversampling (the
    engine's graph walk is that wide, and under a leg's filter every step is expensive:
    at 1M chunks ``Retriever.retrieve`` p50 72 -> 53 ms), while the dense list keeps
    the configured oversampling; the leg still brings its exact matches in."""
    store, vectors, payloads, ids = optimized
    requests: list[object] = []
    real = store._shard

    class Shard:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def query(self, request: object) -> object:
            requests.append(request)
            return real.query(request)

    store._shard = Shard()  # type: ignore[assignment]
    try:
        targets = ("doc7", "doc9001")  # far from the question: only the leg reaches them
        rng = np.random.default_rng(4)
        question = rng.standard_normal(DIM).astype(np.float32)
        hits = store.search(SearchRequest(question, SparseVector((), ()), 50, None, depth=50,
                                          legs=(KeywordLeg("doc_id", targets),)))
    finally:
        store._shard = real
    assert {h.payload["doc_id"] for h in hits} >= set(targets)
    (request,) = requests
    dense, leg = request.prefetches
    assert dense.params.quantization.oversampling == EdgeTuning().oversampling == 2.0
    assert leg.params.quantization.oversampling == EdgeTuning().leg_oversampling == 1.0
    assert leg.limit == dense.limit == 50


def _sparse_store(path: Path, tuning: EdgeTuning, n: int = 6_000) -> EdgeStore:
    """``n`` points with ~30-term sparse vectors from a Zipf vocabulary, half of them in
    source ``alpha`` and 1 in 100 in ``rare``, optimized into an immutable segment."""
    rng = np.random.default_rng(21)
    store = EdgeStore(path, tuning)
    store.ensure_collection(8)
    points = []
    for i in range(n):
        terms = np.unique(np.minimum(rng.zipf(1.2, 30), 2_000))
        sparse = SparseVector(tuple(int(t) for t in terms), tuple(float(w) for w in rng.uniform(0.3, 2.0, len(terms))))
        source = "rare" if i % 100 == 0 else ("alpha" if i % 2 else "beta")
        points.append(Point(point_id(f"d{i}", 0), rng.standard_normal(8).astype(np.float32), sparse,
                            {"source": source, "doc_id": f"d{i}", "access_groups": ["everyone"]}))
    store.upsert(points)
    store.optimize()
    return store


def test_a_filtered_long_sparse_query_walks_the_posting_lists_with_the_same_results(tmp_path: Path) -> None:
    """New segments score a filtered sparse query through the posting lists once the filter
    may pass 2,000 of their points (Qdrant's default: 5,000): a 300-term question under a
    one-repository filter cost points x terms the other way (25-29 ms against 9 ms on four
    100k-chunk segments). Both ways are exact: the results are the same."""
    tuned = EdgeTuning(optimize_every=None, indexing_threshold_kb=10)
    fast = _sparse_store(tmp_path / "fast", tuned)
    default = _sparse_store(tmp_path / "default", dataclasses.replace(tuned, sparse_full_scan_threshold=None))
    try:
        for store, want in ((fast, 2_000), (default, None)):
            built = [json.loads(f.read_text())["full_scan_threshold"]
                     for f in (store.path / "segments").glob("*/vector_index-sparse/sparse_index_config.json")]
            assert want in built  # the engine's own file for the optimized segment
            assert _config(store.path)["sparse_vectors"]["sparse"].get("full_scan_threshold") == want
        assert fast.count(Filter({"source": ["alpha"]})) == 3_000  # between the two thresholds
        rng = np.random.default_rng(22)
        for flt in (Filter({"source": ["alpha"]}), Filter({"source": ["rare"]}), None):
            for _ in range(5):
                terms = np.unique(rng.integers(1, 2_000, 150))
                query = SparseVector(tuple(int(t) for t in terms), (1.0,) * len(terms))
                request = SearchRequest((), query, 20, flt, depth=20, lexical=True)
                got, base = fast.search(request), default.search(request)
                assert len(got) == 20
                assert [h.id for h in got] == [h.id for h in base]
                assert [h.score for h in got] == pytest.approx([h.score for h in base], rel=1e-5)
                assert flt is None or all(h.payload["source"] == flt.any_of["source"][0] for h in got)
    finally:
        fast.close()
        default.close()


def test_an_existing_store_keeps_its_layout(tmp_path: Path) -> None:
    path = tmp_path / "old"
    vectors, payloads = _corpus()
    old = EdgeStore(path, EdgeTuning.legacy())
    old.ensure_collection(DIM)
    old.upsert([Point(point_id(p["doc_id"], 0), vectors[i], SparseVector((), ()), p)
                for i, p in enumerate(payloads[:500])])
    old.close()
    (path / LAYOUT_FILE).unlink()  # stores created before 2026-12-07 have none
    before = _config(path)
    reopened = EdgeStore(path)  # today's default tuning
    reopened.ensure_collection(DIM)
    reopened.optimize()
    assert "quantization_config" not in _config(path)["vectors"]["dense"]
    after = _config(path)
    assert after["vectors"] == before["vectors"] and after.get("hnsw_config") == before.get("hnsw_config")
    assert all(_links(reopened).values())  # the old indexes, links and all
    assert TAGS not in _links(reopened) and not reopened._layout.tag_fields  # fields matched directly
    assert not (path / LAYOUT_FILE).exists()
    hits = reopened.query(vectors[7], SparseVector((), ()), Filter({"source": [payloads[7]["source"]]}), 3)
    assert hits[0].id == point_id("doc7", 0)
    assert "doc7" in reopened.doc_ids(Filter({"source": [payloads[7]["source"]]}))  # read as stored
    reopened.close()


def test_settings_choose_the_layout_of_new_stores(tmp_path: Path) -> None:
    settings = Settings(store={"edge_quantization": "none", "edge_payload_hnsw": ["source"],
                               "edge_indexing_threads": 3})
    tuning = tuning_from(settings.store.edge_quantization, settings.store.edge_oversampling,
                         settings.store.edge_payload_hnsw, indexing_threads=settings.store.edge_indexing_threads)
    store = EdgeStore(tmp_path / "s", tuning)
    store.ensure_collection(8)
    assert "quantization_config" not in _config(store.path)["vectors"]["dense"]
    assert _config(store.path)["hnsw_config"]["max_indexing_threads"] == 3
    assert {f for f, on in _links(store).items() if on} == {"source"}
    assert tuning.search_params() is None
    store.close()
    assert Settings().store.edge_quantization == "int8"
    assert set(Settings().store.edge_payload_hnsw) == set(DENSE_FILTER_FIELDS)


def test_bulk_upserts_optimize_every_n_points_into_bounded_segments(tmp_path: Path) -> None:
    """``optimize_every``: a long load optimizes itself, so unindexed points in RAM stay bounded."""
    store = EdgeStore(tmp_path / "bulk", EdgeTuning(optimize_every=2_500))
    store.ensure_collection(8)
    assert _config(store.path)["optimizers"]["max_segment_size"] == 150_000
    assert _config(store.path)["optimizers"]["default_segment_number"] == 16
    calls: list[int] = []
    real = store.optimize
    store.optimize = lambda: calls.append(store.count()) or real()  # type: ignore[method-assign]
    rng = np.random.default_rng(5)
    points = [Point(point_id(f"d{i}", 0), rng.standard_normal(8).astype(np.float32), SparseVector((), ()),
                    {"source": "s", "doc_id": f"d{i}"}) for i in range(6_000)]
    store.upsert(points[:1_500])
    assert calls == []
    store.upsert(points[1_500:])  # counted per 1,000-point batch, across calls
    assert calls == [2_500, 5_500]
    assert store.count() == 6_000
    assert store.query(points[42].dense, SparseVector((), ()), None, 1)[0].id == points[42].id
    store.close()
    assert EdgeTuning.legacy().optimize_every is None
    assert tuning_from(optimize_every=0).optimize_every is None


class _Recorder:
    """The real shard, with the names of the calls made on it recorded."""

    def __init__(self, shard: object, calls: list[str]) -> None:
        self._shard, self._calls = shard, calls

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._shard, name)
        if not callable(attr):
            return attr

        def call(*args: object, **kwargs: object) -> object:
            self._calls.append(name)
            return attr(*args, **kwargs)
        return call


def test_a_segment_build_is_flushed_and_its_freed_heap_returned(tmp_path: Path, monkeypatch) -> None:
    """After ``optimize()`` builds a segment, its writes are flushed instead of piling up
    in RAM until the next flush (about 3 KB per chunk; a 1M build peaked at 4.9 GB of
    anonymous memory without this, 2.1 GB with it), and the heap the build freed goes back
    to the OS."""
    import assistant.store.edge as edge

    released: list[bool] = []
    monkeypatch.setattr(edge, "release_free_heap", lambda: released.append(True))
    store = EdgeStore(tmp_path / "s", EdgeTuning(optimize_every=None))
    store.ensure_collection(DIM)
    vectors, payloads = _corpus()
    n = 8_000  # above qdrant's indexing threshold (10 MB of float vectors): a graph is built
    store.upsert([Point(point_id(payloads[i]["doc_id"], 0), vectors[i], SparseVector((), ()), payloads[i])
                  for i in range(n)])
    calls: list[str] = []
    store._shard = _Recorder(store._shard, calls)  # type: ignore[assignment]
    assert store.optimize() is True
    assert calls == ["optimize", "flush"] and released == [True]
    calls.clear()
    assert store.optimize() is False  # nothing left to build: nothing to flush either
    assert calls == ["optimize"] and released == [True]
    assert store.count() == n
    store.close()


def test_a_store_without_segment_bounds_never_optimizes_by_itself(tmp_path: Path) -> None:
    old = EdgeStore(tmp_path / "old", EdgeTuning(max_segment_kb=None, optimize_every=None))
    old.ensure_collection(8)
    old.close()
    reopened = EdgeStore(tmp_path / "old", EdgeTuning(optimize_every=1_000))  # today's tuning
    reopened.optimize = lambda: pytest.fail("optimized by itself")  # type: ignore[method-assign]
    rng = np.random.default_rng(6)
    reopened.upsert([Point(point_id(f"d{i}", 0), rng.standard_normal(8).astype(np.float32),
                           SparseVector((), ()), {"doc_id": f"d{i}"}) for i in range(2_500)])
    assert reopened.count() == 2_500
    reopened.close()
