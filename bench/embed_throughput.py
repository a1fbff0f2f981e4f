"""Embedding throughput of the bundled model per CPU thread, on this repository's own chunks.

Chunks this repository's Python files with the real chunker, then embeds the same
``--chunks`` texts with the configured model (``embedding.*`` settings, batch size
included) once per ``--threads`` value, each in a fresh process (torch's thread pool is
process-wide). Prints chunks/s per run and per thread, for ``docs/scaling.md``'s worker
arithmetic. Prints numbers; asserts nothing.

    .venv/bin/python bench/embed_throughput.py [--threads 1,2] [--chunks 256]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def texts(n: int) -> list[str]:
    """The first ``n`` chunk texts of this repository's ``assistant/`` Python files."""
    from indexers.chunking.select import chunk_text

    out: list[str] = []
    for path in sorted((ROOT / "assistant").rglob("*.py")):
        for chunk in chunk_text(path.read_text(), str(path.relative_to(ROOT))).chunks:
            out.append(chunk.text)
            if len(out) >= n:
                return out
    return out


def child(threads: int, n: int) -> None:
    from assistant.container import build
    from assistant.settings import load_settings

    settings = load_settings(embedding={"threads": threads})
    embedder = build(settings).embedder
    batch = texts(n)
    embedder.embed_documents(batch[:8])  # load the model, warm up
    t0 = time.perf_counter()
    embedder.embed_documents(batch)
    wall = time.perf_counter() - t0
    print(json.dumps({"threads": threads, "chunks": len(batch), "seconds": wall,
                      "chunks_per_s": len(batch) / wall, "model": embedder.model_id,
                      "mean_chars": sum(map(len, batch)) / len(batch)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--chunks", type=int, default=256)
    parser.add_argument("--_child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child is not None:
        child(args._child, args.chunks)
        return
    import machine

    print(f"machine: {machine.describe()}")
    print("| threads | chunks | seconds | chunks/s | chunks/s per thread |")
    print("|---:|---:|---:|---:|---:|")
    for t in [int(x) for x in args.threads.split(",")]:
        out = subprocess.run([sys.executable, __file__, "--_child", str(t), "--chunks", str(args.chunks)],
                             capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        r = json.loads(out)
        print(f"| {t} | {r['chunks']} | {r['seconds']:.1f} | {r['chunks_per_s']:.1f} | "
              f"{r['chunks_per_s'] / t:.1f} |  ({r['model']}, mean {r['mean_chars']:.0f} chars)", flush=True)


if __name__ == "__main__":
    main()
