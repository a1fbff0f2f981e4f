"""Retrieval latency at store scale: p50/p95 of hybrid queries at 10k, 100k and 1M chunks.

Synthetic points (no model needed for the store-scale part): random unit 384-dim dense
vectors, sparse vectors shaped like the code-aware encoder's (about 60 terms per chunk
from a Zipf-distributed 50k vocabulary, BM25-saturated weights), and payloads with every
field the pipeline writes (``indexers/payload.py``: source, doc_id, path, kind, language,
groups, ~800 chars of text, line numbers, timestamps, and the exact-match keys ``symbols``,
``path_keys``, ``dirs``, ``ext`` and ``role`` from the same helpers; before 2026-12-07 the
synthetic payload left those five out). Each size loads into a fresh ``EdgeStore``, calls its
``optimize()`` (HNSW + segment merge), then times ``store.query`` (dense + sparse
prefetches fused with RRF, payloads returned) for:

* ``short``: a 12-term sparse query, no filter;
* ``short+filter``: the same with the filters every real query carries (source and
  access groups);
* ``long+filter``: a 300-term sparse query (an issue pasted in), filtered;
* ``dense-only``: an empty sparse vector (dense prefetch alone).

When ``assistant.retrieval.retriever`` exists, its query path is timed too with a stub
embedder (random vector, so model time is left out; the real model's ``embed_query`` is
timed separately with ``--model``).

Each size runs in a child process under ``--time-bound`` seconds (default 600 for 10k
and 100k, ``--time-bound-1m`` for 1M); a size that does not finish is reported with the
stage it reached; a size whose process passes ``--max-rss-gb`` of anonymous memory
(default 10; mmapped segment files are left out) is stopped the same way, since the
machine is shared. Stores live under ``--dir`` (default ``bench/.cache/latency``, deleted
after each size unless ``--keep``). ``--tuning`` picks the store layout (``default``:
today's ``EdgeTuning``; ``legacy``: the layout before 2026-12-07; or a JSON object of
``EdgeTuning`` fields), and each size also reports recall@10 of filtered dense queries
against an exact scan with the same filter. ``--allocator jemalloc`` runs each size's
process under jemalloc instead of glibc's malloc (``LD_PRELOAD``; the engine's payload
parsing during ``optimize()`` is allocation-bound). Prints numbers; asserts nothing.

    .venv/bin/python bench/retrieval_latency.py --sizes 10000,100000 [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import machine  # noqa: E402

DIM = 384
VOCAB = 50_000
DOC_TERMS = 60
BATCH = 5_000
N_SOURCES = 20
CHUNKS_PER_FILE = 12
ALLOCATORS = {"jemalloc": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
              "mimalloc": "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"}
TEXT = ("def retry_payment(self, invoice, attempts=3):\n    \"\"\"Retry a failed payment with "
        "exponential backoff and record each attempt for the audit log.\"\"\"\n") * 8


def emit(event: str, **data: Any) -> None:
    print(json.dumps({"event": event, "t": time.time(), **data}), flush=True)


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    if not v:
        return math.nan
    return v[min(len(v) - 1, max(0, math.ceil(p / 100 * len(v)) - 1))]


def _term_ids(rng: Any, n: int, size: int) -> Any:
    import numpy as np

    ranks = np.minimum(rng.zipf(1.1, size=(n, size)), VOCAB) - 1
    # spread ranks over 32-bit ids as the hashed encoder does
    return (ranks.astype(np.uint64) * np.uint64(2654435761) % np.uint64(2**32 - 5)).astype(np.int64)


def make_points(rng: Any, start: int, n: int) -> list[Any]:
    import numpy as np

    from assistant.models import Point, SparseVector, point_id
    from assistant.retrieval.identifiers import dir_prefixes, extension, file_role, path_keys

    dense = rng.standard_normal((n, DIM)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    ids = _term_ids(rng, n, DOC_TERMS)
    weights = rng.uniform(0.3, 2.2, size=(n, DOC_TERMS)).astype(np.float32)
    points = []
    for j in range(n):
        i = start + j
        file_no, chunk_no = divmod(i, CHUNKS_PER_FILE)
        source = f"repo{file_no % N_SOURCES}"
        path = f"pkg{file_no % 97}/module_{file_no}.py"
        doc_id = f"{source}:{path}"
        uniq = {}
        for t, w in zip(ids[j].tolist(), weights[j].tolist(), strict=True):
            uniq[t] = uniq.get(t, 0.0) + w
        items = sorted(uniq.items())
        ts = 1_600_000_000 + (i * 7919) % 150_000_000
        payload = {
            "source": source, "doc_id": doc_id, "path": path, "kind": "code", "language": "python",
            "doc_title": None, "updated_at": datetime.fromtimestamp(ts, UTC).isoformat(), "updated_ts": ts,
            "commit": f"{i:040x}"[-40:], "author": "Dev <dev@example.com>", "owner": "@team",
            "url": f"https://git.example.com/{source}/blob/main/{path}",
            "access_groups": ["everyone"] if file_no % 5 else ["payments"],
            "content_hash": f"{file_no:040x}", "model_id": "all-MiniLM-L6-v2", "status": "active",
            "last_reviewed": None, "chunk_index": chunk_no, "start_line": chunk_no * 40 + 1,
            "end_line": chunk_no * 40 + 40, "symbol": f"Module{file_no}.retry_{chunk_no}",
            "title": None, "context": f"class Module{file_no}:", "chunk_kind": "function",
            "text": TEXT[: 600 + (i % 400)],
            "symbols": [f"module{file_no}", f"retry_{chunk_no}", f"module{file_no}.retry_{chunk_no}"],
            "path_keys": path_keys(path), "dirs": dir_prefixes(path), "ext": extension(path),
            "role": file_role(path),
        }
        points.append(Point(point_id(doc_id, chunk_no), dense[j],
                            SparseVector(tuple(t for t, _ in items), tuple(w for _, w in items)), payload))
    return points


def query_sparse(rng: Any, n_terms: int) -> Any:
    from assistant.models import SparseVector

    ids = sorted(set(_term_ids(rng, 1, n_terms)[0].tolist()))
    return SparseVector(tuple(ids), tuple(1.0 for _ in ids))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def tuning_of(spec: str) -> Any:
    """``--tuning``: ``default`` (today's ``EdgeTuning()``), ``legacy`` (the layout before
    2026-12-07) or a JSON object of ``EdgeTuning`` fields over the default."""
    from assistant.store.edge_config import EdgeTuning

    if spec == "legacy":
        return EdgeTuning.legacy()
    if spec == "default":
        return EdgeTuning()
    fields = json.loads(spec)
    if "payload_hnsw_fields" in fields:
        fields["payload_hnsw_fields"] = tuple(fields["payload_hnsw_fields"])
    return EdgeTuning(**fields)


def filtered_recall(store: Any, rng: Any, flt: Any, n: int = 50) -> float:
    """Recall@10 of the store's filtered dense query against an exact scan (same filter)."""
    import numpy as np
    import qdrant_edge as qe

    from assistant.models import SparseVector
    from assistant.store.edge import _to_filter

    shard, found, total = store._shard, 0, 0
    for _ in range(n):
        dense = rng.standard_normal(DIM).astype(np.float32)
        dense /= np.linalg.norm(dense)
        got = {h.id for h in store.query(dense, SparseVector((), ()), flt, 10)}
        exact = shard.query(qe.QueryRequest(
            limit=10, query=qe.Query.Nearest(dense.tolist(), using="dense"), filter=_to_filter(store._layout, flt),
            params=qe.SearchParams(exact=True)))
        want = {str(p.id) for p in exact}
        found += len(got & want)
        total += len(want)
    return found / max(total, 1)


def child(size: int, directory: Path, queries: int, seed: int, tuning: str = "default",
          optimize_every: int = 0) -> None:
    """Load ``size`` points, optimize, time queries; reports progress as JSON lines."""
    import numpy as np

    from assistant.models import Filter
    from assistant.store.edge import EdgeStore

    try:  # imported now: a run lasts hours, and the work tree may change under it
        import assistant.retrieval.retriever  # noqa: F401
    except ModuleNotFoundError:
        pass
    rng = np.random.default_rng(seed)
    if directory.exists():
        shutil.rmtree(directory)
    store = EdgeStore(directory, tuning_of(tuning))
    emit("tuning", spec=tuning)
    store.ensure_collection(DIM)
    t0 = time.perf_counter()
    gen_s = bulk_opt_s = 0.0
    since_opt = 0
    for start in range(0, size, BATCH):
        g0 = time.perf_counter()
        pts = make_points(rng, start, min(BATCH, size - start))
        gen_s += time.perf_counter() - g0
        store.upsert(pts)
        since_opt += len(pts)
        if optimize_every and since_opt >= optimize_every and start + len(pts) < size:
            o0 = time.perf_counter()
            store.optimize()
            bulk_opt_s += time.perf_counter() - o0
            since_opt = 0
        if (start // BATCH) % 20 == 0:
            emit("loading", loaded=start + len(pts), seconds=time.perf_counter() - t0,
                 bulk_optimize_s=bulk_opt_s)
    store.flush()
    load_s = time.perf_counter() - t0
    emit("loaded", seconds=load_s, generate_s=gen_s, upsert_s=load_s - gen_s - bulk_opt_s,
         bulk_optimize_s=bulk_opt_s, rss_mb=rss_mb())
    t1 = time.perf_counter()
    store.optimize()
    opt_s = time.perf_counter() - t1
    emit("optimized", seconds=opt_s, rss_mb=rss_mb(), disk_mb=dir_mb(directory), count=store.count(),
         segments=store._shard.info().segments_count)

    flt = Filter({"source": ["repo3"], "access_groups": ["everyone", "payments"]})
    kinds = {
        "short": (12, None), "short+filter": (12, flt), "long+filter": (300, flt), "dense-only": (0, None),
    }
    qrng = np.random.default_rng(seed + 1)
    results: dict[str, Any] = {}
    for name, (n_terms, f) in kinds.items():
        lat = []
        for q in range(queries + 5):
            dense = qrng.standard_normal(DIM).astype(np.float32)
            dense /= np.linalg.norm(dense)
            sparse = query_sparse(qrng, n_terms) if n_terms else query_sparse(qrng, 0)
            s0 = time.perf_counter()
            hits = store.query(dense, sparse, f, 10)
            if q >= 5:  # warm-up
                lat.append(time.perf_counter() - s0)
        results[name] = {"p50_ms": 1e3 * pct(lat, 50), "p95_ms": 1e3 * pct(lat, 95), "hits": len(hits)}
        emit("queried", kind=name, **results[name])
    rrng = np.random.default_rng(seed + 2)
    for name, f in (("repo3+groups", flt), ("payments", Filter({"access_groups": ["payments"]}))):
        emit("recall", filter=name, recall_at_10=filtered_recall(store, rrng, f))
    retriever_latency(store, qrng, queries)
    emit("done", rss_mb=rss_mb())
    store.close()


def retriever_latency(store: Any, rng: Any, queries: int) -> None:
    """The Retriever's own query path with a stub embedder, when the module exists."""
    try:
        import importlib

        import numpy as np

        mod = importlib.import_module("assistant.retrieval.retriever")
        from assistant.embedding.sparse import SparseEncoder
        from assistant.models import User
        from assistant.settings import load_settings

        class StubEmbedder:
            model_id = "all-MiniLM-L6-v2"
            dim = DIM

            def embed_query(self, text: str) -> Any:
                v = rng.standard_normal(DIM).astype(np.float32)
                return v / np.linalg.norm(v)

            def embed_documents(self, texts: list[str]) -> Any:
                return [self.embed_query(t) for t in texts]

        sources = [f"repo{i}" for i in range(N_SOURCES)]
        retriever = mod.Retriever(store, StubEmbedder(), SparseEncoder(), load_settings().retrieval,
                                  known_sources=sources)
        user = User("bench", groups=("everyone",))
        method = next((m for m in ("retrieve", "search", "query") if hasattr(retriever, m)), None)
        question = "where do we retry failed payments with exponential backoff? Module3.retry_2"
        paths = {}
        if method:
            paths[method] = lambda: getattr(retriever, method)(question, user=user)
        if hasattr(retriever, "rank_files"):
            paths["rank_files"] = lambda: retriever.rank_files(question, user=user, k=10)
        for name, fn in paths.items():
            lat = []
            for q in range(queries + 5):
                s0 = time.perf_counter()
                fn()
                if q >= 5:
                    lat.append(time.perf_counter() - s0)
            emit("queried", kind=f"Retriever.{name}", p50_ms=1e3 * pct(lat, 50), p95_ms=1e3 * pct(lat, 95))
    except ModuleNotFoundError as exc:
        emit("note", message=f"Retriever not available ({exc})")
    except Exception as exc:  # noqa: BLE001 — written in parallel: report, don't fail the bench
        emit("note", message=f"Retriever query path failed: {type(exc).__name__}: {exc}")


def model_latency(queries: int) -> None:
    from assistant.container import build
    from assistant.settings import load_settings

    container = build(load_settings())
    emb = container.embedder
    emb.embed_query("warm up")
    lat = []
    for i in range(queries):
        s0 = time.perf_counter()
        emb.embed_query(f"where do we retry failed payments, attempt {i}? HttpClient.send")
        lat.append(time.perf_counter() - s0)
    print(f"\nreal model embed_query ({emb.model_id}): p50 {1e3 * pct(lat, 50):.1f} ms, "
          f"p95 {1e3 * pct(lat, 95):.1f} ms over {queries} short questions")


def child_rss_gb(pid: int) -> float:
    """Anonymous resident memory of a child (Linux ``/proc``), 0 where unknown.

    Not ``VmRSS``: during ``optimize()`` at 1M points half of it is the segments' mmapped
    files (9 of 15.8 GB), which the kernel can drop under pressure; the cap protects the
    shared machine from memory it cannot reclaim. ``VmRSS`` where ``RssAnon`` is missing."""
    fields = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "RssAnon"):
                fields[name] = int(value.split()[0]) / 1024 / 1024
    except (OSError, ValueError, IndexError):
        pass
    return fields.get("RssAnon", fields.get("VmRSS", 0.0))


def run_size(size: int, args: argparse.Namespace) -> dict[str, Any]:
    bound = args.time_bound_1m if size >= 1_000_000 else args.time_bound
    directory = Path(args.dir) / f"n{size}"
    cmd = [sys.executable, __file__, "--_child", str(size), "--dir", str(directory),
           "--queries", str(args.queries), "--seed", str(args.seed), "--tuning", args.tuning,
           "--optimize-every", str(args.optimize_every)]
    out: dict[str, Any] = {"size": size, "bound": bound, "events": []}
    started = time.time()
    env = dict(os.environ)
    if args.allocator != "system":  # the engine's allocations go through malloc; swap it
        env["LD_PRELOAD"] = ALLOCATORS[args.allocator]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    try:
        os.set_blocking(proc.stdout.fileno(), True)
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            left = bound - (time.time() - started)
            if left <= 0:
                raise TimeoutError
            rss = child_rss_gb(proc.pid)
            out["peak_rss_gb"] = max(out.get("peak_rss_gb", 0.0), rss)
            if rss > args.max_rss_gb:
                raise MemoryError(f"{rss:.1f} GB")
            if not sel.select(timeout=min(left, 5)):
                if proc.poll() is not None:
                    break
                continue
            line = proc.stdout.readline()
            if not line:
                break
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            out["events"].append(ev)
            print(f"  [{size}] {ev['event']}: " + ", ".join(
                f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                for k, v in ev.items() if k not in ("event", "t")), file=sys.stderr, flush=True)
        proc.wait()
        out["status"] = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
    except (TimeoutError, MemoryError) as exc:
        proc.kill()
        proc.wait()
        last = out["events"][-1] if out["events"] else {"event": "starting"}
        why = (f"the {bound:.0f} s bound" if isinstance(exc, TimeoutError)
               else f"the {args.max_rss_gb:.1f} GB memory cap (RSS {exc})")
        out["status"] = f"stopped at {why} after {time.time() - started:.0f} s, during '{last['event']}' stage"
        if last.get("event") == "loading":
            out["status"] += f" ({last['loaded']} points loaded)"
        elif last.get("event") == "loaded":
            out["status"] += " (optimize() had not returned)"
    out["wall_s"] = time.time() - started
    if not args.keep:
        shutil.rmtree(directory, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--time-bound", type=float, default=600)
    parser.add_argument("--time-bound-1m", type=float, default=1800)
    parser.add_argument("--max-rss-gb", type=float, default=10.0,
                        help="stop a size whose anonymous memory grows past this (the machine is shared)")
    parser.add_argument("--dir", default=str(ROOT / "bench" / ".cache" / "latency"))
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", action="store_true", help="also time the real model's embed_query")
    parser.add_argument("--tuning", default="default",
                        help="store layout: default, legacy (before 2026-12-07) or JSON EdgeTuning fields")
    parser.add_argument("--optimize-every", type=int, default=0,
                        help="call optimize() every N loaded points during the load (0: only at the end)")
    parser.add_argument("--allocator", choices=["system", *ALLOCATORS], default="system",
                        help="run the store under another malloc (LD_PRELOAD; Debian's libjemalloc2 "
                        "or libmimalloc2.0)")
    parser.add_argument("--_child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.allocator != "system" and not Path(ALLOCATORS[args.allocator]).exists():
        parser.error(f"--allocator {args.allocator}: {ALLOCATORS[args.allocator]} is missing "
                     f"(apt-get install {'libjemalloc2' if args.allocator == 'jemalloc' else 'libmimalloc2.0'})")
    if args._child is not None:
        child(args._child, Path(args.dir), args.queries, args.seed, args.tuning, args.optimize_every)
        return

    started = time.time()
    print(f"## Sourcewise retrieval latency — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine.describe()}; "
          f"EdgeStore (qdrant-edge), synthetic {DIM}-dim dense + ~{DOC_TERMS}-term sparse, "
          f"{args.queries} timed queries per kind, top 10, payloads returned; malloc: {args.allocator}")
    rows = []
    notes = []
    for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
        print(f"running {size} points (bound {args.time_bound_1m if size >= 1_000_000 else args.time_bound:.0f} s)...",
              file=sys.stderr, flush=True)
        rows.append(run_size(size, args))
    print("\n| chunks | load s | optimize s | disk MB | peak RSS MB | query | p50 ms | p95 ms |")
    print("|---:|---:|---:|---:|---:|---|---:|---:|")
    for r in rows:
        ev = {e["event"]: e for e in r["events"] if e["event"] in ("loaded", "optimized")}
        load = ev.get("loaded", {}).get("seconds")
        opt = ev.get("optimized", {})
        head = (f"| {r['size']:,} | {load:.1f} | " if load is not None else f"| {r['size']:,} | – | ") + (
            f"{opt['seconds']:.1f} | {opt['disk_mb']:.0f} | {opt['rss_mb']:.0f} |" if opt else "– | – | – |")
        qs = [e for e in r["events"] if e["event"] == "queried"]
        for e in qs:
            print(f"{head} {e['kind']} | {e['p50_ms']:.2f} | {e['p95_ms']:.2f} |")
        if not qs:
            print(f"{head} – | – | – |")
        notes += [f"{r['size']:,}: {e['message']}" for e in r["events"] if e["event"] == "note"]
        if r["status"] != "ok":
            notes.append(f"{r['size']:,}: {r['status']} (wall {r['wall_s']:.0f} s, peak anonymous RSS "
                         f"{r.get('peak_rss_gb', 0):.1f} GB sampled)")
        else:
            notes.append(f"{r['size']:,}: finished in {r['wall_s']:.0f} s wall, peak RSS "
                         f"{r.get('peak_rss_gb', 0):.1f} GB (sampled)")
    for n in notes:
        print(f"- {n}")
    if args.model:
        model_latency(args.queries)
    print(f"\nwall {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
