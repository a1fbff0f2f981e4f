"""Micro benchmark of the two store adapters: bulk upsert and filtered hybrid query.

Prints numbers, asserts nothing. ``python bench/store_bench.py [n_points]``.
QdrantServerStore runs on qdrant-client's ``:memory:`` local mode (a pure-Python stand-in,
not a server), so its numbers show why that mode is for tests only.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from assistant.models import Filter, Point, SparseVector, point_id
from assistant.store.base import VectorStore
from assistant.store.edge import EdgeStore
from assistant.store.server import QdrantServerStore

DIM = 384
VOCAB = 30_000
TERMS = 24
QUERIES = 50
GROUPS = ("eng", "ops", "sec", "all")
SOURCES = ("repo-a", "repo-b", "docs", "wiki")


def make_points(n: int, rng: np.random.Generator) -> list[Point]:
    dense = rng.standard_normal((n, DIM), dtype=np.float32)
    points = []
    for i in range(n):
        idx = np.unique(rng.integers(0, VOCAB, TERMS))
        doc = f"doc{i // 8}"
        points.append(
            Point(
                id=point_id(doc, i % 8),
                dense=dense[i],
                sparse=SparseVector(tuple(idx.tolist()), tuple(rng.random(len(idx)).tolist())),
                payload={
                    "doc_id": doc,
                    "source": SOURCES[i % len(SOURCES)],
                    "chunk_index": i % 8,
                    "access_groups": random.sample(GROUPS, 2),
                    "updated_ts": 1_700_000_000 + i,
                },
            )
        )
    return points


def median_query_ms(store: VectorStore, rng: np.random.Generator) -> float:
    flt = Filter({"access_groups": ["eng", "ops"], "source": ["repo-a", "docs"]})
    times = []
    for _ in range(QUERIES):
        q = rng.standard_normal(DIM, dtype=np.float32)
        terms = np.unique(rng.integers(0, VOCAB, 6))
        sparse = SparseVector(tuple(terms.tolist()), (1.0,) * len(terms))
        start = time.perf_counter()
        hits = store.query(q, sparse, flt, 10)
        times.append((time.perf_counter() - start) * 1000)
        assert hits, "filtered query found nothing"  # sanity, not a timing assertion
    return statistics.median(times)


def bench(name: str, store: VectorStore, points: list[Point], rng: np.random.Generator) -> None:
    store.ensure_collection(DIM)
    start = time.perf_counter()
    store.upsert(points)
    store.flush()
    upsert_s = time.perf_counter() - start
    print(f"{name:<28} upsert {len(points)} pts: {upsert_s:8.2f} s")
    print(f"{name:<28} median filtered query: {median_query_ms(store, rng):8.2f} ms")
    if isinstance(store, EdgeStore):
        start = time.perf_counter()
        store.optimize()
        print(f"{name:<28} optimize: {time.perf_counter() - start:8.2f} s")
        print(f"{name:<28} median filtered query after optimize: "
              f"{median_query_ms(store, rng):8.2f} ms")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    random.seed(7)
    rng = np.random.default_rng(7)
    points = make_points(n, rng)
    with tempfile.TemporaryDirectory() as tmp:
        edge = EdgeStore(Path(tmp) / "shard")
        try:
            bench("EdgeStore", edge, points, rng)
        finally:
            edge.close()
    server = QdrantServerStore("bench", location=":memory:")
    try:
        bench("QdrantServerStore(:memory:)", server, points, rng)
    finally:
        server.close()


if __name__ == "__main__":
    main()
