"""Where an embedded-store build spends its time and memory, stage by stage.

``retrieval_latency.py`` times a whole build; this splits one: converting points into
the engine's types (``EdgeStore._to_point``), writing them (``shard.update``), and
``optimize()``, and with ``--segments`` prints the anonymous memory left after each
bounded segment is built (before and after ``malloc_trim``, to tell live data from
allocator retention; since 2026-12-07 ``EdgeStore.optimize()`` flushes and trims by itself,
so the two now mostly agree). ``--drop-index`` and ``--no-text`` are what-ifs that the store
does not offer (fewer payload indexes, no chunk text in the payload), to size what
each would buy. Uses ``retrieval_latency.py``'s synthetic points. Prints JSON lines;
asserts nothing. Run it on an idle machine, one at a time, and under another malloc with
``LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2``.

    .venv/bin/python bench/edge_build_profile.py --size 50000 --tuning '{"indexing_threads": 2}'
    .venv/bin/python bench/edge_build_profile.py --size 300000 --segments
"""

from __future__ import annotations

import argparse
import ctypes
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import retrieval_latency as rl  # noqa: E402


def anon_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon"):
            return int(line.split()[1]) // 1024
    return -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=50_000)
    parser.add_argument("--tuning", default="{}", help="JSON object of EdgeTuning fields over the default")
    parser.add_argument("--drop-index", action="append", default=[], metavar="FIELD",
                        help="what-if: create no payload index on FIELD (repeatable)")
    parser.add_argument("--add-index", action="append", default=[], metavar="FIELD",
                        help="also index keyword FIELD, without HNSW links (e.g. the four fields "
                        "stores created before 2026-12-07 indexed: path, symbol, owner, model_id)")
    parser.add_argument("--no-text", action="store_true", help="what-if: empty chunk text in the payload")
    parser.add_argument("--segments", action="store_true",
                        help="load through EdgeStore.upsert (optimizing every optimize_every points) and "
                        "print anonymous memory after each segment instead of timing stages")
    parser.add_argument("--dir", default=None, help="store directory (default: a temporary one)")
    args = parser.parse_args()

    import numpy as np
    import qdrant_edge as qe

    from assistant.store.edge import EdgeStore
    from assistant.store.edge_config import EdgeTuning

    fields = json.loads(args.tuning)
    if not args.segments:
        fields.setdefault("optimize_every", None)  # one optimize() at the end, timed apart
    if "payload_hnsw_fields" in fields:
        fields["payload_hnsw_fields"] = tuple(fields["payload_hnsw_fields"])
    tuning = EdgeTuning(**fields)
    if args.drop_index or args.add_index:
        keep, drop = tuning.payload_indexes, set(args.drop_index)
        extra = [(f, qe.KeywordIndexParams(enable_hnsw=False)) for f in args.add_index]
        object.__setattr__(tuning, "payload_indexes",
                           lambda layout=None: [x for x in keep(layout) if x[0] not in drop] + extra)
    if args.no_text:
        rl.TEXT = ""
    directory = Path(args.dir or tempfile.mkdtemp(prefix="edge-profile-"))
    if directory.exists():
        shutil.rmtree(directory)
    store = EdgeStore(directory, tuning)
    store.ensure_collection(rl.DIM)
    rng = np.random.default_rng(7)
    out: dict[str, object] = {"size": args.size, "tuning": fields, "drop_index": args.drop_index,
                              "add_index": args.add_index,
                              "no_text": args.no_text}
    gen = conv = ups = 0.0
    t0 = time.perf_counter()
    libc = ctypes.CDLL("libc.so.6") if args.segments else None
    built = [0]
    if args.segments:  # EdgeStore.upsert optimizes every optimize_every points: report after each
        optimize = store.optimize

        def optimize_and_report() -> bool:
            done = optimize()
            built[0] += 1
            a = anon_mb()
            libc.malloc_trim(0)  # type: ignore[union-attr]
            print(json.dumps({"segment": built[0], "seconds": round(time.perf_counter() - t0, 1),
                              "anon_mb": a, "anon_mb_after_trim": anon_mb()}), flush=True)
            return done

        store.optimize = optimize_and_report  # type: ignore[method-assign]
    try:
        for start in range(0, args.size, rl.BATCH):
            g = time.perf_counter()
            points = rl.make_points(rng, start, min(rl.BATCH, args.size - start))
            gen += time.perf_counter() - g
            if args.segments:
                store.upsert(points)
                continue
            c = time.perf_counter()
            batch = [store._to_point(p) for p in points]
            conv += time.perf_counter() - c
            u = time.perf_counter()
            for i in range(0, len(batch), 1000):
                store._shard.update(qe.UpdateOperation.upsert_points(batch[i : i + 1000]))  # type: ignore[union-attr]
            ups += time.perf_counter() - u
        f = time.perf_counter()
        store.flush()
        flush_s = time.perf_counter() - f
        o = time.perf_counter()
        store.optimize()
        if not args.segments:
            out.update(convert_s=round(conv, 1), upsert_s=round(ups, 1), flush_s=round(flush_s, 1))
        out.update(generate_s=round(gen, 1), optimize_s=round(time.perf_counter() - o, 1),
                   total_s=round(time.perf_counter() - t0, 1), anon_mb=anon_mb(),
                   vmhwm_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                   segments=store._shard.info().segments_count)  # type: ignore[union-attr]
        print(json.dumps(out), flush=True)
    finally:
        store.close()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
