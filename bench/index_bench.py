"""Index a real codebase nobody here wrote and print throughput numbers.

Copies an installed package's source (default: sqlalchemy from this venv) into a fresh
git repository, indexes it with the real pipeline, model and EdgeStore, then re-indexes
it unchanged. Prints numbers; asserts nothing.

    .venv/bin/python bench/index_bench.py [--package sqlalchemy] [--max-files N]
"""

from __future__ import annotations

import argparse
import importlib.util
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
from indexers.pipeline import Pipeline  # noqa: E402
from indexers.sources.factory import make_source  # noqa: E402

TEXT_SUFFIXES = {".py", ".pyi", ".md", ".rst", ".txt", ".cfg", ".toml"}


def make_repo(package: str, dest: Path, max_files: int | None) -> int:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {package!r} is not installed in this environment")
    root = Path(list(spec.submodule_search_locations)[0])
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES
                   and "__pycache__" not in p.parts)
    if max_files:
        files = files[:max_files]
    for f in files:
        target = dest / package / f.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, target)
    env = {**os.environ, "GIT_AUTHOR_DATE": "2025-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2025-01-01T00:00:00Z"}
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "import"], cwd=dest, check=True, env=env)
    return len(files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--package", default="sqlalchemy")
    parser.add_argument("--max-files", type=int, default=None)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sw-bench-"))
    repo = work / "repo"
    repo.mkdir()
    n_files = make_repo(args.package, repo, args.max_files)
    os.environ["SOURCEWISE_HOME"] = str(work / "home")
    settings = load_settings()
    container = build(settings)
    t0 = time.perf_counter()
    dim = container.embedder.dim  # load the model outside the timed runs
    load_s = time.perf_counter() - t0
    row = container.catalog.add_source(args.package, "git", str(repo))

    def run(label: str):
        pipeline = Pipeline(container.catalog, container.store, container.embedder, container.sparse,
                            batch_docs=settings.indexing.docs_batch,
                            chunk_max_chars=settings.indexing.chunk_max_chars)
        source_row = container.catalog.get_source(args.package)
        started = time.perf_counter()
        report = pipeline.index(source_row, make_source(source_row, settings, container.catalog))
        wall = time.perf_counter() - started
        print(f"\n[{label}] status={report.status} error={report.error}")
        print(f"  files seen {report.seen}, new {report.new}, changed {report.changed}, "
              f"unchanged {report.unchanged}, skipped {dict(report.skipped)}")
        print(f"  chunks {report.chunks}, embedded {report.embedded}, fallback {dict(report.fallback)}")
        print(f"  wall {wall:.2f} s, embedding {report.embed_seconds:.2f} s "
              f"({report.embed_seconds / wall:.1%} of wall), overhead outside embedding "
              f"{(wall - report.embed_seconds) / wall:.1%}")
        if wall:
            print(f"  {report.seen / wall:.1f} files/s, {report.chunks / wall:.1f} chunks/s")
        return report, wall

    print(f"Sourcewise index benchmark — {datetime.now(UTC):%Y-%m-%d} — {platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"package {args.package}: {n_files} files copied into a one-commit git repo; "
          f"model {container.embedder.model_id} (dim {dim}) loaded in {load_s:.1f} s (not counted)")
    del row
    run("first index")
    _, wall = run("re-index unchanged")
    print(f"\nre-index of {n_files} unchanged files: {wall:.2f} s")
    container.close()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
