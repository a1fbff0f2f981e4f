"""End-to-end answer latency of the ``extractive`` generator: p50/p95 over N questions.

Indexes a small git repository (default: this repository's committed HEAD; or, with
``--package NAME``, an installed package's source copied into a one-commit repo as
``bench/index_bench.py`` does) with the real pipeline, model and EdgeStore, then asks
``assistant.answer.build_answerer(container).answer(...)`` each question twice: the
first pass is cold (no answer cache), the second pass shows the cache. The model loads
before timing. When ``assistant/answer.py`` does not exist yet the script says so.
Per-stage timings are printed when answers carry them. Prints numbers; asserts nothing.

    .venv/bin/python bench/answer_latency.py [--questions 30] [--package sqlalchemy --max-files 200]
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import math
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import machine  # noqa: E402

QUESTIONS = [
    "How does the pipeline decide which files to re-embed?",
    "Where are point ids computed?",
    "What happens when a run is killed before the catalog records documents?",
    "How are access groups enforced on queries?",
    "Which payload fields have a keyword index?",
    "How does the git source compute per-file freshness?",
    "What does EdgeStore.optimize do and when is it called?",
    "How is the sparse vector built from code identifiers?",
    "How are CODEOWNERS files used?",
    "Where is the embedding model loaded?",
    "What is the collection name for a model?",
    "How are symlinks in a git repository handled?",
    "How does chunking fall back when tree-sitter fails?",
    "What settings control the chunk size?",
    "How are deletions swept after a file is removed?",
    "What does a RunReport count?",
    "How does the wiki source read a MediaWiki export?",
    "How is front matter parsed in docs?",
    "What does split_identifier do with camelCase names?",
    "How is the catalog database created and migrated?",
    "What error is raised when the store is locked by another process?",
    "How are large files skipped during indexing?",
    "Where does the CLI add a source?",
    "How are interactions stored in the catalog?",
    "What is the RRF constant used for fusion?",
    "How does the docs source detect a git checkout?",
    "What does Filter.and_ do with an empty list?",
    "How are API tokens stored?",
    "What is MAX_EMBED_CHARS used for?",
    "How does the pipeline report progress?",
]


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    if not v:
        return math.nan
    return v[min(len(v) - 1, max(0, math.ceil(p / 100 * len(v)) - 1))]


def answer_module() -> tuple[Any, str]:
    try:
        mod = importlib.import_module("assistant.answer")
    except ModuleNotFoundError as exc:
        return None, f"assistant/answer.py is not available yet ({exc})"
    except Exception as exc:  # noqa: BLE001 — being written in parallel
        return None, f"assistant/answer.py does not import: {type(exc).__name__}: {exc}"
    if not hasattr(mod, "build_answerer"):
        return None, "assistant.answer has no build_answerer yet"
    return mod, "ok"


def call_answer(answerer: Any, question: str, user: Any) -> Any:
    """``answer(question, history, user)`` in whichever spelling the module settled on."""
    params = inspect.signature(answerer.answer).parameters
    kwargs: dict[str, Any] = {}
    if "history" in params:
        kwargs["history"] = []
    if "user" in params:
        kwargs["user"] = user
    return answerer.answer(question, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--repo", default=str(ROOT), help="git repository to index (default: this one)")
    parser.add_argument("--package", default=None, help="index an installed package's source instead")
    parser.add_argument("--max-files", type=int, default=None)
    parser.add_argument("--home", default=None, help="data dir (default: a temp dir, removed after)")
    args = parser.parse_args()

    print(f"## Sourcewise answer latency (extractive) — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine.describe()}")
    mod, why = answer_module()
    if mod is None:
        print(f"not measured: {why}")
        return

    from assistant.container import build
    from assistant.errors import ConfigError
    from assistant.models import User
    from assistant.settings import load_settings
    from indexers.pipeline import Pipeline
    from indexers.sources.factory import make_source

    work = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="sw-answer-bench-"))
    repo = args.repo
    if args.package:
        sys.path.insert(0, str(ROOT / "bench"))
        from index_bench import make_repo

        repo_dir = work / "repo"
        if not (repo_dir / ".git").exists():
            repo_dir.mkdir(parents=True, exist_ok=True)
            make_repo(args.package, repo_dir, args.max_files)
        repo = str(repo_dir)
    settings = load_settings(home=work / "home", generation={"generator": "extractive"})
    container = build(settings)
    name = args.package or "self"
    try:
        row = container.catalog.get_source(name)
    except ConfigError:
        row = container.catalog.add_source(name, "git", repo)
    pipeline = Pipeline(container.catalog, container.store, container.embedder, container.sparse,
                        batch_docs=settings.indexing.docs_batch, chunk_max_chars=settings.indexing.chunk_max_chars)
    t0 = time.perf_counter()
    report = pipeline.index(container.catalog.get_source(name), make_source(row, settings, container.catalog))
    print(f"indexed {repo} as {name!r}: {report.seen} files, {report.chunks} chunks embedded now, "
          f"status {report.status}, {time.perf_counter() - t0:.1f} s")
    container.embedder.embed_query("warm up")  # model load outside the timings

    try:
        answerer = mod.build_answerer(container)
    except Exception as exc:  # noqa: BLE001 — the retriever/container wiring lands in parallel
        print(f"not measured: build_answerer failed: {type(exc).__name__}: {exc}")
        container.close()
        return
    user = User("bench", is_admin=True)
    questions = (QUESTIONS * (args.questions // len(QUESTIONS) + 1))[: args.questions]
    if args.questions > len(QUESTIONS):
        print(f"note: {len(QUESTIONS)} distinct questions; repeats hit the answer cache on the first pass")
    passes: dict[str, list[float]] = {}
    stages: dict[str, list[float]] = defaultdict(list)
    unsupported = 0
    for label in ("cold", "cached"):
        lat = []
        for q in questions:
            s0 = time.perf_counter()
            try:
                ans = call_answer(answerer, q, user)
            except Exception as exc:  # noqa: BLE001 — counted and shown, the run goes on
                print(f"  {label}: {q!r} failed: {type(exc).__name__}: {exc}")
                continue
            lat.append(time.perf_counter() - s0)
            if label == "cold":
                unsupported += not getattr(ans, "supported", True)
                for stage, secs in (getattr(ans, "timings", None) or {}).items():
                    stages[stage].append(float(secs))
        passes[label] = lat
    print("\n| pass | n | p50 ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for label, lat in passes.items():
        if lat:
            print(f"| {label} | {len(lat)} | {1e3 * pct(lat, 50):.1f} | {1e3 * pct(lat, 95):.1f} | "
                  f"{1e3 * max(lat):.1f} |")
    if stages:
        print("\ncold-pass stage timings reported by the answers (as given, p50/p95): " + ", ".join(
            f"{s} {pct(v, 50):.4g}/{pct(v, 95):.4g}" for s, v in stages.items()))
    print(f"unsupported answers (no valid citation): {unsupported}/{len(passes.get('cold', []))}")
    container.close()
    if not args.home:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
