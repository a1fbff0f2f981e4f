"""What symbol tables and doc references add to indexing (issue 16's cost target:
at most 10% of a full index's wall time; they reuse the chunker's parse).

Indexes a git repository (``--repo``, read from its objects, nothing is written there)
or an installed package copied into a fresh one-commit repository (``--package``) with
the real pipeline, model and EdgeStore, and prints: full index wall time, embedding
time, the staleness step's time (definitions from the chunker's tree, reference
extraction, their catalog writes; ``RunReport.staleness_seconds``) and its share;
then the same for a re-index after a one-file commit in a copy of the repository.
Prints numbers; asserts nothing.

    .venv/bin/python bench/staleness_cost.py --repo /path/to/repo
    .venv/bin/python bench/staleness_cost.py --package _pytest
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.container import build  # noqa: E402
from assistant.settings import load_settings  # noqa: E402
from bench.index_bench import make_repo  # noqa: E402
from indexers.pipeline import Pipeline, RunReport  # noqa: E402
from indexers.sources.factory import make_source  # noqa: E402

GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]


def clone(repo: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(repo), str(dest)], check=True)
    return dest


def one_commit(repo: Path) -> str:
    """Append a function to the first Python file and commit: the incremental case."""
    files = subprocess.run(["git", "ls-files", "*.py"], cwd=repo, check=True, capture_output=True,
                           text=True).stdout.split()
    target = repo / sorted(files)[len(files) // 2]
    target.write_text(target.read_text() + "\n\ndef bench_added_function(x: int = 1) -> int:\n    return x\n")
    env = {**os.environ, "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}
    subprocess.run([*GIT, "commit", "-q", "-am", "bench: one change"], cwd=repo, check=True, env=env)
    return str(target.relative_to(repo))


def show(label: str, report: RunReport, wall: float) -> None:
    share = report.staleness_seconds / wall if wall else 0.0
    print(f"\n[{label}] status={report.status} error={report.error}")
    print(f"  files seen {report.seen}: new {report.new}, changed {report.changed}, "
          f"unchanged {report.unchanged}; chunks {report.chunks}, embedded {report.embedded}")
    print(f"  symbols: {report.symbols} definitions from {report.symbols_files} files; references: "
          f"{report.references} from {report.references_docs} docs ({report.references_truncated} truncated)")
    print(f"  wall {wall:.2f} s, embedding {report.embed_seconds:.2f} s, "
          f"staleness {report.staleness_seconds:.2f} s = {share:.1%} of wall "
          f"({report.staleness_seconds / max(wall - report.embed_seconds, 1e-9):.1%} of the time outside embedding)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repo", type=Path, help="a git repository to index (not modified)")
    parser.add_argument("--package", help="an installed package, copied into a fresh repository")
    args = parser.parse_args()
    if not args.repo and not args.package:
        parser.error("give --repo or --package")

    work = Path(tempfile.mkdtemp(prefix="sw-stale-bench-"))
    if args.repo:
        repo = clone(args.repo.resolve(), work / "repo")
        what = str(args.repo)
    else:
        repo = work / "repo"
        repo.mkdir()
        what = f"package {args.package} ({make_repo(args.package, repo, None)} files)"
    os.environ["SOURCEWISE_HOME"] = str(work / "home")
    settings = load_settings()
    container = build(settings)
    t0 = time.perf_counter()
    dim = container.embedder.dim  # load the model outside the timed runs
    load_s = time.perf_counter() - t0
    container.catalog.add_source("bench", "git", str(repo))

    def run(label: str) -> RunReport:
        pipeline = Pipeline(container.catalog, container.store, container.embedder, container.sparse,
                            batch_docs=settings.indexing.docs_batch,
                            chunk_max_chars=settings.indexing.chunk_max_chars)
        row = container.catalog.get_source("bench")
        started = time.perf_counter()
        report = pipeline.index(row, make_source(row, settings, container.catalog))
        show(label, report, time.perf_counter() - started)
        return report

    print(f"Sourcewise staleness cost — {datetime.now(UTC):%Y-%m-%d} — {platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"{what}; model {container.embedder.model_id} (dim {dim}) loaded in {load_s:.1f} s (not counted)")
    run("full index")
    run("re-index unchanged")
    changed = one_commit(repo)
    run(f"re-index after a one-file commit ({changed})")
    container.close()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
