"""Precision and recall of the staleness detector on real repositories (issue 16).

What runs: the real pipeline (``indexers.runner.index_source``: scan of a git source at
a ref, chunking with tree-sitter, symbol tables and doc references from that parse, per-
file history, catalog) and then the real ``Detector``, exactly as ``sourcewise index``
does, with ONE bench-only substitution: a hashing embedder (8 dimensions, no model)
stands in for the embedding model, because detection never reads vectors and embedding
a whole real repository on 2 cores takes hours. The EdgeStore and sparse encoder are
the real ones. Nothing in product code is switched.

* ``precision``: for each repository and each commit C (its HEAD and HEAD minus
  ``--ago-days``), a fresh index of the source at ref C, then detection: every doc is
  checked against the code at its own last change (its per-file history) and at C.
  ``--frozen-days``: also a synthetic commit with the code at HEAD and the docs as at
  HEAD minus those days (``frozen_docs``: a docs tree left behind). All
  findings go to ``OUT/findings.jsonl``; a random sample (``--seed``, ``--sample``) of
  dead findings goes to ``OUT/sample.jsonl`` with machine-gathered evidence (files at C
  that still define the name, whether a linked path still exists) for a person to judge
  against ``git show``/``git log -S``; ``judge`` reads the judged file, prints precision.
* ``recall`` (``bench/staleness_recall.py``): in a throwaway clone at the repository's
  HEAD, index once, pick at random
  references that docs make and the detector tracks (resolve to a main-code definition
  now and at the doc's commit), mutate them (rename: the definition and its word-
  boundary uses in ``.py`` files; remove: the definition's lines; default: a default
  the doc line states), one commit per mutation, re-index incrementally, detect, and
  count mutated references whose doc gets a finding of the right kind naming the
  mutation's commit. Also times that incremental re-index and detection.

Repositories are cloned from local mirrors to a scratch dir and never committed. Output
holds symbol names, paths and commits only, no document text.

    PYTHONPATH=$PWD .venv/bin/python bench/staleness.py precision --repos pytest sphinx
    PYTHONPATH=$PWD .venv/bin/python bench/staleness.py recall --per-repo 60
    PYTHONPATH=$PWD .venv/bin/python bench/staleness.py judge --judged bench/results/staleness_judged.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.catalog.db import Database  # noqa: E402
from assistant.catalog.repo import Catalog  # noqa: E402
from assistant.embedding.sparse import SparseEncoder  # noqa: E402
from assistant.settings import load_settings  # noqa: E402
from assistant.store.edge import EdgeStore  # noqa: E402
from indexers.pipeline import RunReport  # noqa: E402
from indexers.runner import index_source  # noqa: E402

MIRRORS = Path("/work/.mirror")
REPOS = {"pytest": "pytest-dev+pytest", "sphinx": "sphinx-doc+sphinx", "pylint": "pylint-dev+pylint",
         "astropy": "astropy+astropy", "click": "pallets+click", "flask": "pallets+flask",
         "streamlink": "streamlink+streamlink", "sqlfluff": "sqlfluff+sqlfluff", "werkzeug": "pallets+werkzeug",
         "jinja": "pallets+jinja", "requests": "psf+requests", "attrs": "python-attrs+attrs"}
GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", "-c", "commit.gpgsign=false"]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True,
                          env=env).stdout


class HashEmbedder:
    """Bench-only stand-in for the model: detection never reads vectors."""

    model_id = "bench-hash-8"
    dim = 8

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        digest = hashlib.sha256(text.encode()).digest()
        return [b / 255 + 0.01 for b in digest[:8]]


class World:
    """A fresh data dir: real catalog, EdgeStore, sparse encoder; the hashing embedder."""

    def __init__(self, home: Path) -> None:
        os.environ["SOURCEWISE_HOME"] = str(home)
        base = load_settings()
        cfg = base.staleness.model_copy(update={"review_days_docs": None, "review_days_wiki": None})
        self.settings = base.model_copy(update={"staleness": cfg})
        self.db = Database(self.settings.catalog_url)
        self.catalog = Catalog(self.db)
        self.store = EdgeStore(home / "store")
        self.container = SimpleNamespace(
            settings=self.settings, db=self.db, catalog=self.catalog, store=self.store, embedder=HashEmbedder(),
            sparse=SparseEncoder(), index_lock=threading.Lock(), notifier=None)

    def index(self, name: str) -> tuple[RunReport, float]:
        t0 = time.perf_counter()
        report = index_source(self.container, name)
        if report.status != "ok" or report.staleness_error:
            raise RuntimeError(f"index of {name} failed: {report.error} {report.staleness_error}")
        self.detect_more(name, report)
        return report, time.perf_counter() - t0

    def detect_more(self, name: str, report: RunReport) -> None:
        """Docs deferred by the parse budget (``max_parses``) are judged by the next run:
        run the detector again, as the next index runs would, until none is deferred.
        Their time counts in ``detection_seconds``; ``detection_rounds`` says how many."""
        from indexers.staleness.detect import Detector

        report.detection_rounds = 1  # type: ignore[attr-defined]
        while report.staleness_deferred and report.detection_rounds < 20:  # type: ignore[attr-defined]
            result = Detector(self.db, self.store, self.settings).run(name)
            report.detection_seconds += result.seconds
            report.staleness_seconds += result.seconds
            report.findings_opened += result.opened
            report.staleness_deferred = result.deferred
            report.detection_rounds += 1  # type: ignore[attr-defined]
            log(f"  detection round {report.detection_rounds}: {result.deferred} docs still deferred, "
                f"{result.opened} opened")

    def findings(self, status: str = "open") -> list[Any]:
        from sqlalchemy import select

        from assistant.catalog.staleness_schema import FindingRow

        with self.db.session() as s:
            return [f for f in s.scalars(select(FindingRow).order_by(FindingRow.id)) if f.status == status]

    def close(self) -> None:
        self.store.close()
        self.db.close()


def clone(name: str, work: Path) -> Path:
    """A local clone of the mirror (the mirrors have no ``config``: GitPython would take
    them for work trees)."""
    bare, dest = work / f"{name}.git", work / name
    if not bare.exists():
        subprocess.run(["git", "clone", "-q", "--mirror", str(MIRRORS / REPOS[name] / "repo"), str(bare)], check=True)
    if not dest.exists():
        subprocess.run(["git", "clone", "-q", str(bare), str(dest)], check=True)
    return dest


def finding_json(f: Any, repo: str, commit: str) -> dict[str, Any]:
    ev = f.evidence or {}
    defined = ev.get("defined") or {}
    change = ev.get("change") or {}
    return {"repo": repo, "at": commit, "kind": f.kind, "doc": f.path, "line": f.line, "reference": f.reference,
            "doc_commit": (ev.get("doc") or {}).get("commit"), "target": ev.get("target") or defined.get("path"),
            "defined_path": defined.get("path"), "defined_name": defined.get("name"),
            "defined_kind": defined.get("kind"), "then": defined.get("commit") or (ev.get("old") or {}).get("commit"),
            "change_commit": change.get("commit"), "aspect": ev.get("aspect"),
            "suggest": (f.suggestion or {}).get("with"), "summary": f.summary}


def machine() -> str:
    from bench.machine import describe

    load = os.getloadavg()
    return f"{describe()}; load {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}"


# -- precision ---------------------------------------------------------------------------
def commit_ago(repo: Path, days: int) -> str:
    """The first-parent commit of HEAD at ``days`` before HEAD's date."""
    if days <= 0:
        return git(repo, "rev-parse", "HEAD").strip()
    head_ts = int(git(repo, "log", "-1", "--format=%ct", "HEAD").strip())
    return git(repo, "rev-list", "-1", "--first-parent", f"--before={head_ts - days * 86400}", "HEAD").strip()


def detect_at(name: str, repo: Path, commit: str, home: Path) -> tuple[list[Any], RunReport, float]:
    """A fresh index of ``repo`` at ``commit`` (hashing embedder), then detection."""
    import shutil

    shutil.rmtree(home, ignore_errors=True)
    w = World(home)
    try:
        w.catalog.add_source(name, "git", str(repo), ref=commit, options={"include": [], "exclude": []})
        report, wall = w.index(name)
        return w.findings(), report, wall
    finally:
        w.close()
        shutil.rmtree(home, ignore_errors=True)


def code_still_defines(repo: Path, commit: str, name: str) -> list[str]:
    """Machine evidence for the judge: ``.py`` files at ``commit`` that still have
    ``def NAME``/``class NAME``/``NAME =`` (the last dotted part), any role."""
    last = re.split(r"[.:#]", name)[-1]
    if not last:
        return []
    pattern = rf"^\s*(async\s+def|def|class)\s+{re.escape(last)}\b|^\s*{re.escape(last)}\s*(:[^=]*)?=[^=]"
    try:
        out = git(repo, "grep", "-l", "-E", pattern, commit, "--", "*.py")
    except subprocess.CalledProcessError:
        return []
    return [line.split(":", 1)[1] for line in out.splitlines()][:5]


DOC_EXTS = (".rst", ".md", ".txt")
DOC_DIRS = ("doc", "docs")


def frozen_docs(name: str, work: Path, days: int) -> tuple[Path, str, str]:
    """A throwaway clone with one synthetic commit (branch ``frozen``) on top of
    D = HEAD - ``days`` that brings every file except the docs (``.rst``/``.md``/``.txt``
    anywhere and everything under a top-level ``doc/`` or ``docs/``: images, ``conf.py``;
    they stay as at D) to HEAD's state:
    docs last changed at or before D (their real history), code as it is today, as when
    a docs tree is left behind. The commit naming every change after D is the synthetic
    one."""
    import shutil

    src = clone(name, work)
    head = git(src, "rev-parse", "HEAD").strip()
    old = commit_ago(src, days)
    repo = work / f"frozen-{name}"
    shutil.rmtree(repo, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", str(work / f"{name}.git"), str(repo)], check=True)
    # built with plumbing (the source reads git objects, not the work tree): C's tree,
    # with every doc path as at D
    def docs(commit: str) -> dict[str, str]:
        out = {}
        for line in git(repo, "ls-tree", "-r", "-z", commit).split("\0"):
            path = line.split("\t", 1)[1] if line else ""
            if path and (path.endswith(DOC_EXTS) or path.split("/", 1)[0] in DOC_DIRS):
                out[line.split("\t", 1)[1]] = line.split("\t", 1)[0]
        return out

    env = {**os.environ, "GIT_INDEX_FILE": str(work / f"frozen-{name}.index")}
    subprocess.run(["git", "read-tree", head], cwd=repo, check=True, env=env)
    at_head, at_old = docs(head), docs(old)
    info = "".join(f"0 {'0' * 40}\t{p}\0" for p in at_head if p not in at_old)
    info += "".join(f"{meta}\t{p}\0" for p, meta in at_old.items())
    subprocess.run(["git", "update-index", "-z", "--index-info"], cwd=repo, check=True, env=env,
                   input=info.encode())
    tree = subprocess.run(["git", "write-tree"], cwd=repo, check=True, env=env, capture_output=True,
                          text=True).stdout.strip()
    when = int(git(src, "log", "-1", "--format=%ct", head).strip())
    commit_env = {**os.environ, "GIT_AUTHOR_DATE": f"{when} +0000", "GIT_COMMITTER_DATE": f"{when} +0000"}
    commit = subprocess.run([*GIT, "commit-tree", tree, "-p", old, "-m",
                             f"bench: code as at {head[:10]}, docs as at {old[:10]}"], cwd=repo, check=True,
                            env=commit_env, capture_output=True, text=True).stdout.strip()
    git(repo, "update-ref", "refs/heads/frozen", commit)
    return repo, old, commit


def cmd_precision(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work)
    all_path = out / "findings.jsonl"
    done: set[tuple[str, str]] = set()
    runs_path = out / "runs.jsonl"
    if runs_path.exists():
        done = {(r["repo"], r["commit"]) for r in map(json.loads, runs_path.read_text().splitlines())}
    for name in args.repos:
        repo = clone(name, work)
        for days in args.ago_days:
            commit = commit_ago(repo, days)
            if (name, commit) in done:
                continue
            log(f"{name}: index at {commit[:10]} (HEAD - {days} d) and detect")
            found, report, wall = detect_at(name, repo, commit, work / f"home-{name}-{commit[:10]}")
            rows = [finding_json(f, name, commit) for f in found]
            with all_path.open("a") as fh:
                for r in rows:
                    fh.write(json.dumps(r) + "\n")
            run = {"repo": name, "commit": commit, "ago_days": days, "files": report.seen, "symbols": report.symbols,
                   "references": report.references, "docs_refs": report.references_docs, "wall_s": round(wall, 1),
                   "staleness_s": round(report.staleness_seconds, 1), "detect_s": round(report.detection_seconds, 1),
                   "findings": dict(Counter(r["kind"] for r in rows)), "deferred": report.staleness_deferred,
                   "detection_rounds": getattr(report, "detection_rounds", 1),
                   "capped": report.staleness_capped}
            with runs_path.open("a") as fh:
                fh.write(json.dumps(run) + "\n")
            log(f"  {run}")
    for name in args.repos:
        for days in args.frozen_days:
            key = f"frozen-{days}"
            if any(r == name and c.startswith(key) for r, c in done):
                continue
            repo, old, commit = frozen_docs(name, work, days)
            log(f"{name}: docs frozen at {old[:10]} (HEAD - {days} d), code at HEAD; index and detect")
            found, report, wall = detect_at(name, repo, commit, work / f"home-{name}-{commit[:10]}")
            rows = [{**finding_json(f, name, commit), "set": key, "docs_at": old} for f in found]
            with all_path.open("a") as fh:
                for r in rows:
                    fh.write(json.dumps(r) + "\n")
            run = {"repo": name, "commit": f"{key}:{commit}", "docs_at": old, "files": report.seen,
                   "references": report.references, "wall_s": round(wall, 1),
                   "detect_s": round(report.detection_seconds, 1), "findings": dict(Counter(r["kind"] for r in rows)),
                   "deferred": report.staleness_deferred, "detection_rounds": getattr(report, "detection_rounds", 1)}
            with runs_path.open("a") as fh:
                fh.write(json.dumps(run) + "\n")
            log(f"  {run}")
    sample(out, work, args.sample, args.seed)


def sample(out: Path, work: Path, size: int, seed: int) -> None:
    """Distinct dead findings (one per repo, doc and reference), sampled, with
    machine evidence for the judge. The judged file (``judge``) holds one row per
    finding: names, paths and commits, the verdict ("right"/"fp"), a one-line reason,
    and ``after_fixes`` ("gone" when a later detector fix removes it)."""
    rows = [json.loads(x) for x in (out / "findings.jsonl").read_text().splitlines()]
    distinct: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        if r["kind"] == "dead":  # the same doc naming the same name in several runs: once
            distinct.setdefault((r["repo"], r["doc"], r["reference"]), r)
    dead = list(distinct.values())
    chosen = dead if len(dead) <= size else random.Random(seed).sample(dead, size)
    with (out / "sample.jsonl").open("w") as fh:
        for i, r in enumerate(chosen, 1):
            repo = work / r["repo"]
            # frozen-docs rows: the code is the repository's HEAD (their synthetic commit
            # lives only in the throwaway clone)
            at = git(repo, "rev-parse", "HEAD").strip() if r.get("set") else r["at"]
            ref = r["defined_name"] or r["reference"]
            r = {"id": i, **r, "still_defined_at": code_still_defines(repo, at, ref) if r["defined_name"] else [],
                 "path_exists_at": bool(git(repo, "ls-tree", "--name-only", at, "--", r["target"]).strip())
                 if not r["defined_name"] and r["target"] else None}
            fh.write(json.dumps(r) + "\n")
    log(f"{len(rows)} findings ({Counter(r['kind'] for r in rows)}), {len(dead)} distinct dead, "
        f"{len(chosen)} sampled -> {out / 'sample.jsonl'}")


# -- judged precision --------------------------------------------------------------------
def cmd_judge(args: argparse.Namespace) -> None:
    rows = [json.loads(x) for x in Path(args.judged).read_text().splitlines() if x.strip()]
    right = sum(r["verdict"] == "right" for r in rows)
    print(f"precision (dead): {right}/{len(rows)} = {right / max(len(rows), 1):.1%}")
    for reason, n in Counter(r["reason"] for r in rows if r["verdict"] != "right").most_common():
        print(f"  FP x{n}: {reason}")
    after = [r for r in rows if r.get("after_fixes") != "gone"]
    right = sum(r["verdict"] == "right" for r in after)
    print(f"after the detector fixes (findings they remove left out): {right}/{len(after)} = "
          f"{right / max(len(after), 1):.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    for cmd in ("precision", "recall"):
        p = sub.add_parser(cmd)
        p.add_argument("--repos", nargs="+", default=list(REPOS), choices=list(REPOS))
        p.add_argument("--seed", type=int, default=16)
        p.add_argument("--work", default="/tmp/sb", help="scratch dir for clones and data dirs")
        p.add_argument("--out", default="/tmp/sb/out", help="where findings, samples and results go")
    pre = sub.choices["precision"]
    pre.add_argument("--ago-days", type=int, nargs="*", default=[0, 365, 730],
                     help="detect at HEAD minus these days (first-parent commit)")
    pre.add_argument("--frozen-days", type=int, nargs="*", default=[730],
                     help="also: docs frozen at HEAD minus these days, code at HEAD (a synthetic commit)")
    pre.add_argument("--sample", type=int, default=100, help="dead findings sampled for judging")
    sub.choices["recall"].add_argument("--per-repo", type=int, default=60, help="mutations per repository")
    j = sub.add_parser("judge")
    j.add_argument("--judged", default="bench/results/staleness_judged.jsonl")
    args = parser.parse_args()
    if args.cmd == "recall":
        from bench.staleness_recall import cmd_recall

        cmd_recall(args)
    else:
        {"precision": cmd_precision, "judge": cmd_judge}[args.cmd](args)


if __name__ == "__main__":
    main()
