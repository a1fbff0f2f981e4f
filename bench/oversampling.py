"""What int8 rescoring's oversampling buys on the embedded store: recall and latency.

Every dense prefetch of a question asks the engine for ``depth`` candidates (100 by
default). With int8 quantization the engine fetches ``depth x oversampling`` int8
candidates and rescores them with the float originals, and its HNSW search uses
``ef = max(ef, depth x oversampling)``: at oversampling 2 each graph walk is twice as
wide. This loads ``--size`` points whose dense vectors have a low-dimensional structure
plus noise (as real embeddings have; random vectors are every graph's worst case), builds
the store's default layout, and for each oversampling in ``--oversampling`` reports
recall@10 and recall@100 of a dense search against an exact scan with the same filter,
and its p50/p95 latency, for: no filter, the access filter every question carries (80 %
of points), and a keyword leg's filter (a symbol on 1 chunk in 12, as the retrieval
benchmark's question has). Prints numbers; asserts nothing.

    .venv/bin/python bench/oversampling.py --size 100000 [--queries 100]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import machine  # noqa: E402

DIM = 384
LATENT = 48
BATCH = 5_000


def vectors(rng: np.random.Generator, n: int, basis: np.ndarray) -> np.ndarray:
    """Unit vectors: a ``LATENT``-dim Gaussian mapped into 384 dims, plus 20 % isotropic noise."""
    v = rng.standard_normal((n, LATENT)).astype(np.float32) @ basis
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    noise = rng.standard_normal((n, DIM)).astype(np.float32)
    v += 0.2 * noise / np.linalg.norm(noise, axis=1, keepdims=True)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def load(path: Path, size: int, rng: np.random.Generator, basis: np.ndarray) -> None:
    from assistant.models import Point, SparseVector, point_id
    from assistant.store.edge import EdgeStore

    store = EdgeStore(path)
    store.ensure_collection(DIM)
    for start in range(0, size, BATCH):
        n = min(BATCH, size - start)
        dense = vectors(rng, n, basis)
        points = []
        for j in range(n):
            i = start + j
            payload = {"source": f"repo{i % 20}", "doc_id": f"d{i}", "kind": "code",
                       "access_groups": ["everyone"] if (i // 12) % 5 else ["payments"],
                       "symbols": [f"retry_{i % 12}", f"module{i // 12}"]}
            points.append(Point(point_id(payload["doc_id"], 0), dense[j], SparseVector((), ()), payload))
        store.upsert(points)
    store.optimize()
    store.close()


def measure(path: Path, oversampling: float, queries: int, rng: np.random.Generator,
            basis: np.ndarray) -> dict[str, tuple[float, float, float, float]]:
    import qdrant_edge as qe

    from assistant.models import Filter, SparseVector
    from assistant.store.base import SearchRequest
    from assistant.store.edge import EdgeStore, _to_filter
    from assistant.store.edge_config import EdgeTuning

    store = EdgeStore(path, EdgeTuning(oversampling=oversampling))
    access = Filter({"access_groups": ["everyone"]})
    filters = {"none": None, "access (80 %)": access,
               "leg: symbol on 1 in 12": Filter({"access_groups": ["everyone"], "symbols": ["retry_2"]})}
    out = {}
    for name, flt in filters.items():
        r10 = r100 = 0.0
        lat = []
        for q in range(queries + 5):
            dense = vectors(rng, 1, basis)[0]
            t0 = time.perf_counter()
            got = store.search(SearchRequest(dense, SparseVector((), ()), 100, flt, depth=100))
            if q >= 5:
                lat.append(time.perf_counter() - t0)
            exact = store._shard.query(qe.QueryRequest(  # type: ignore[union-attr]
                limit=100, query=qe.Query.Nearest(dense.tolist(), using="dense"),
                filter=_to_filter(store._layout, flt) if flt else None, params=qe.SearchParams(exact=True)))
            want = [str(p.id) for p in exact]
            ids = [h.id for h in got]
            r10 += len(set(ids[:10]) & set(want[:10])) / 10
            r100 += len(set(ids) & set(want)) / max(len(want), 1)
        n = queries + 5
        ms = np.array(lat) * 1e3
        out[name] = (r10 / n, r100 / n, float(np.percentile(ms, 50)), float(np.percentile(ms, 95)))
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--oversampling", default="1,2")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    print(f"## int8 oversampling on the embedded store — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"machine: {machine.describe()}; {args.size:,} points, {LATENT}-dim structure + noise, "
          f"depth 100, {args.queries} queries per row")
    rng = np.random.default_rng(args.seed)
    basis = rng.standard_normal((LATENT, DIM)).astype(np.float32)
    tmp = Path(tempfile.mkdtemp(prefix="oversampling-"))
    try:
        t0 = time.perf_counter()
        load(tmp / "store", args.size, rng, basis)
        print(f"built in {time.perf_counter() - t0:.1f} s\n")
        print("| oversampling | filter | recall@10 | recall@100 | p50 ms | p95 ms |")
        print("|---:|---|---:|---:|---:|---:|")
        for os_ in (float(x) for x in args.oversampling.split(",")):
            for name, (r10, r100, p50, p95) in measure(tmp / "store", os_, args.queries,
                                                       np.random.default_rng(args.seed + 1), basis).items():
                print(f"| {os_:g} | {name} | {r10:.3f} | {r100:.3f} | {p50:.1f} | {p95:.1f} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
