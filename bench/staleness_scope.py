"""One-commit cost of scoped staleness detection against a full one (issue 16's
incremental target), on a real repository from the mirrors:

    PYTHONPATH=$PWD nice -n 10 .venv/bin/python bench/staleness_scope.py --repo sphinx --commits 3

Full index (detection rounds until nothing is deferred), one settling re-index (a full
detection that leaves a clean state), then ``--commits`` one-file commits (a function
appended to a code file the docs name, then one doc edited): each re-indexed with the
scoped detection, then a full detection timed on the same state and its open findings
compared. Prints numbers (JSON lines); asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.staleness import GIT, World, clone, git, log  # noqa: E402


def open_findings(w: World) -> set[tuple[str, str, str | None]]:
    return {(f.fingerprint, f.kind, f.reference) for f in w.findings()}


def commit(repo: Path, paths: list[str], message: str, when: int) -> None:
    env = {**os.environ, "GIT_AUTHOR_DATE": f"{when} +0000", "GIT_COMMITTER_DATE": f"{when} +0000"}
    subprocess.run(["git", "add", "--", *paths], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", message], cwd=repo, check=True, env=env)


def main() -> None:
    from indexers.staleness.detect import Detector

    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", default="sphinx")
    ap.add_argument("--commits", type=int, default=3)
    ap.add_argument("--work", default="/tmp/sourcewise-bench")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    clone(args.repo, work)
    repo = work / f"scope-{args.repo}"
    shutil.rmtree(repo, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", str(work / f"{args.repo}.git"), str(repo)], check=True)
    home = work / f"home-scope-{args.repo}"
    shutil.rmtree(home, ignore_errors=True)
    w = World(home)
    w.catalog.add_source(args.repo, "git", str(repo), options={"include": [], "exclude": []})
    full, wall = w.index(args.repo)
    log(f"full index {wall:.1f}s, detection {full.detection_seconds:.1f}s, {full.findings_open} open")
    settle, wall = w.index(args.repo)
    log(f"settling re-index {wall:.1f}s, detection {settle.detection_seconds:.1f}s, "
        f"scoped={settle.staleness_scoped}, checked={settle.staleness_checked_docs}")
    code = sorted(p for p in git(repo, "ls-files", "*.py").split()
                  if "/" in p and not {"test", "tests", "testing", "doc", "docs"} & set(p.split("/")[:-1]))
    docs = sorted(p for p in git(repo, "ls-files", "doc/*.rst").split())
    when = int(git(repo, "log", "-1", "--format=%ct").strip()) + 3600
    for i in range(args.commits * 2):
        if i % 2 == 0:
            path = code[(len(code) * (i + 1)) // (args.commits * 2 + 1)]
            with (repo / path).open("a") as fh:
                fh.write(f"\n\ndef bench_scope_added_{i}(x: int = 1) -> int:\n    return x\n")
        else:
            path = docs[(len(docs) * (i + 1)) // (args.commits * 2 + 1)]
            with (repo / path).open("a") as fh:
                fh.write(f"\n\nA line added by the bench ({i}).\n")
        commit(repo, [path], f"bench: one change to {path}", when + i * 60)
        report, wall = w.index(args.repo)
        scoped = open_findings(w)
        t0 = time.perf_counter()
        Detector(w.db, w.store, w.settings).run(args.repo)
        full_s = time.perf_counter() - t0
        row = {"repo": args.repo, "path": path, "files_changed": report.changed + report.new,
               "wall_s": round(wall, 2), "embed_s": round(report.embed_seconds, 2),
               "beyond_embedding_s": round(wall - report.embed_seconds, 2),
               "scoped_detect_s": round(report.detection_seconds, 2), "scoped": report.staleness_scoped,
               "checked_docs": report.staleness_checked_docs, "full_detect_s": round(full_s, 2),
               "same_findings": open_findings(w) == scoped}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
