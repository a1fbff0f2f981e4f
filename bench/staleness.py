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
  checked against the code at its own last change (its per-file history) and at C. All
  findings go to ``OUT/findings.jsonl``; a random sample (``--seed``, ``--sample``) of
  dead findings goes to ``OUT/sample.jsonl`` with machine-gathered evidence (is the
  named definition still in the tree at C, does the doc line at C still name it) for a
  person to judge; ``judge`` reads the judged file and prints precision.
* ``recall``: in a throwaway clone at the repository's HEAD, index once, pick at random
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
from collections import Counter, defaultdict
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
         "astropy": "astropy+astropy"}
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


def frozen_docs(name: str, work: Path, days: int) -> tuple[Path, str, str]:
    """A throwaway clone with one synthetic commit (branch ``frozen``) on top of
    D = HEAD - ``days`` that brings every file except the docs (``.rst``/``.md``/``.txt``,
    which stay as at D) to HEAD's state:
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
            if line and line.split("\t", 1)[1].endswith(DOC_EXTS):
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
    """Distinct dead findings (one per repo, doc, reference, target), sampled, with
    machine evidence for the judge. The judged file (``judge``) holds one row per
    finding: names, paths and commits, the verdict ("right"/"fp"), a one-line reason,
    and ``after_fixes`` ("gone" when a later detector fix removes it)."""
    rows = [json.loads(x) for x in (out / "findings.jsonl").read_text().splitlines()]
    distinct: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for r in rows:
        if r["kind"] == "dead":
            distinct.setdefault((r["repo"], r["doc"], r["reference"], str(r["target"])), r)
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


# -- recall ------------------------------------------------------------------------------
def tracked_candidates(w: World, name: str) -> tuple[dict[tuple[str, str], dict[str, Any]], Counter[str]]:
    """Symbols the docs reference that the detector tracks, keyed by (path, name) of their
    single definition now, each with the (doc, reference) pairs naming it; and why the
    other symbol references are untracked (those can never become findings)."""
    from assistant.catalog.symbols import SymbolCatalog
    from indexers.staleness import drift as drift_rules
    from indexers.staleness.detect import Detector
    from indexers.staleness.doccheck import DocCheck, group_references, strong, trackable
    from indexers.staleness.resolve import ref_key, ref_parts

    det = Detector(w.db, w.store, w.settings)
    row = w.catalog.get_source(name)
    code = det._code_source(row)
    assert code is not None, "no usable symbol table"
    reader = det._reader(row)
    ignore = det._ignore([row])
    scans = SymbolCatalog(w.db).references(row.id)
    why: Counter[str] = Counter()
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for doc in w.catalog.documents(row.id):
        if doc.kind == "code" or not det._checkable(doc, ignore):
            continue
        scan = scans.get(doc.doc_id)
        if scan is None or scan[0] != doc.content_hash:
            continue
        check = DocCheck(name, doc, lambda d=doc: det._doc_text(row, d, reader), limit=w.settings.staleness.history_commits,
                         similarity=w.settings.staleness.rename_similarity)
        for g in group_references([r for r in scan[1] if not ignore.ignores_reference(r.text)]):
            if g.kind != "symbol":
                why[f"not a symbol reference ({g.kind}; not mutated here)"] += 1
                continue
            key = ref_key(g.kind, g.text) or ""
            if not strong(g):
                why["plain lowercase word not called or autodoc'd (weak)"] += 1
                continue
            parts = ref_parts(g.text)
            then_all = code.symbols.state(doc.version).index_for([key]).resolve(g.kind, g.text)
            then = [f for f in then_all if f.main and trackable(g.kind, parts, f)]
            if not then:
                why["defined only in tests/examples/docs" if then_all else
                    "not defined in this repository (external, stdlib, prose)"] += 1
                continue
            if check.historical(g):
                why["every line naming it speaks of the past"] += 1
                continue
            now = code.now().index_for([key]).resolve(g.kind, g.text)
            if not now:
                why["already gone at the base commit (a finding already)"] += 1
                continue
            if len(now) != 1 or not now[0].path.endswith(".py"):
                why["tracked; several definitions now, or not Python (not mutated)"] += 1
                continue
            loc = now[0]
            c = out.setdefault((loc.path, loc.rec.name), {"path": loc.path, "name": loc.rec.name,
                                                          "kind": loc.rec.kind, "refs": [], "defaults": []})
            c["refs"].append({"doc": doc.path, "reference": g.text})
            why["tracked (candidate)"] += 1
            lines = check.lines_of(g)
            for pname, default, _ in loc.rec.params:
                if default is None or pname.startswith("*") or pname in ("self", "cls", "/"):
                    continue
                if drift_rules.literal(default) and drift_rules.states(default, lines) and \
                        (default.strip() not in drift_rules._COMMON or drift_rules._mentions(pname, lines)):
                    c["defaults"].append({"doc": doc.path, "reference": g.text, "param": pname,
                                          "default": default.strip()})
            if loc.rec.kind in drift_rules.VALUES and loc.rec.value and drift_rules.literal(loc.rec.value) \
                    and drift_rules.states(loc.rec.value, lines):
                c["defaults"].append({"doc": doc.path, "reference": g.text, "param": None,
                                      "default": loc.rec.value.strip()})
    return out, why


def new_literal(old: str) -> str:
    v = old.strip()
    if v in ("True", "False"):
        return "False" if v == "True" else "True"
    if v == "None":
        return "4242"
    if re.fullmatch(r"-?\d+", v):
        return str(int(v) + 7)
    if re.fullmatch(r"-?\d+(\.\d+)?([eE][+-]?\d+)?", v):
        return repr(float(v) + 0.5)
    m = re.fullmatch(r"""([rbuf]?)(['"])(.*)\2""", v, re.S)
    if m:
        return f"{m.group(1)}{m.group(2)}{m.group(3)}_changed{m.group(2)}"
    return "None"


def find_def(repo: Path, path: str, name: str) -> Any:
    """(the definition of ``name`` in the file now, text); several (``@overload``s, a
    name assigned in two branches) count as one: the first."""
    from indexers.staleness.symbols import extract_definitions

    text = (repo / path).read_text()
    found = [d for d in extract_definitions(text, path, "python") if d.name == name]
    return (found[0], text) if found else (None, text)


def mutate(repo: Path, m: dict[str, Any]) -> bool:
    """Apply one mutation to the work tree; False when it no longer applies."""
    d, text = find_def(repo, m["path"], m["name"])
    if d is None:
        return False
    lines = text.splitlines(keepends=True)
    last = m["name"].rsplit(".", 1)[-1]
    if m["type"] == "remove":
        for _ in range(10):  # every definition of the name in the file (overloads too)
            del lines[d.line - 1 : d.end_line]
            (repo / m["path"]).write_text("".join(lines))
            d, text = find_def(repo, m["path"], m["name"])
            if d is None:
                return True
            lines = text.splitlines(keepends=True)
        return False
    if m["type"] == "rename":
        new = m["new_name"]
        word = re.compile(rf"\b{re.escape(last)}\b")
        files = git(repo, "grep", "-lw", last, "--", "*.py").split()
        for f in files:
            p = repo / f
            try:
                p.write_text(word.sub(new, p.read_text()))
            except (UnicodeDecodeError, OSError):
                continue
        return True
    # default / value: the literal on the definition's lines
    region = "".join(lines[d.line - 1 : d.end_line])
    old, new = m["default"], m["new_value"]
    if m["param"]:
        rx = re.compile(rf"(\b{re.escape(m['param'])}\s*(?::[^=,)]*)?=\s*){re.escape(old)}")
    else:
        rx = re.compile(rf"(\b{re.escape(last)}\s*(?::[^=]*)?=\s*){re.escape(old)}")
    changed, n = rx.subn(lambda mm: mm.group(1) + new, region, count=1)
    if not n:
        return False
    lines[d.line - 1 : d.end_line] = [changed]
    (repo / m["path"]).write_text("".join(lines))
    return True


def plan(cands: dict[tuple[str, str], dict[str, Any]], n: int, rng: random.Random, repo: Path) -> list[dict[str, Any]]:
    """``n`` mutations, a third default/value changes where docs state one (as many as
    exist), the rest rename and remove alternately; each symbol once, no two sharing a
    last name (a rename would touch the other)."""
    keys = sorted(cands)
    rng.shuffle(keys)
    used: set[str] = set()
    out: list[dict[str, Any]] = []
    with_default = [k for k in keys if cands[k]["defaults"]]
    for k in with_default[: n // 3]:
        c = cands[k]
        last = c["name"].rsplit(".", 1)[-1]
        if last in used:
            continue
        used.add(last)
        dflt = rng.choice(c["defaults"])
        expect = [r for r in c["defaults"] if r["param"] == dflt["param"] and r["default"] == dflt["default"]]
        out.append({"type": "default" if dflt["param"] else "value", "path": c["path"], "name": c["name"],
                    "param": dflt["param"], "default": dflt["default"], "new_value": new_literal(dflt["default"]),
                    "expect": [{"doc": r["doc"], "reference": r["reference"]} for r in expect]})
    flip = 0
    for k in keys:
        if len(out) >= n:
            break
        c = cands[k]
        last = c["name"].rsplit(".", 1)[-1]
        if last in used or last.startswith("__"):
            continue
        kind = "rename" if flip % 2 == 0 else "remove"
        if kind == "rename" and len(git(repo, "grep", "-lw", last, "--", "*.py").split()) > 40:
            kind = "remove"  # a name used all over: renaming it is not a one-symbol change
        used.add(last)
        flip += 1
        m = {"type": kind, "path": c["path"], "name": c["name"], "expect": c["refs"]}
        if kind == "rename":
            m["new_name"] = f"{last}_renamed"
        out.append(m)
    return out


def changed(f: Any) -> str:
    """The commit a finding names as the one that removed or changed the code."""
    return str(((f.evidence or {}).get("change") or {}).get("commit") or "")


def commit_all(repo: Path, message: str, when: int) -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": f"{when} +0000", "GIT_COMMITTER_DATE": f"{when} +0000"}
    # only Python files are changed here (``commit -a`` would re-encode files with a
    # ``working-tree-encoding`` attribute, which sphinx's test roots refuse)
    subprocess.run(["git", "add", "-u", "--", "*.py"], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", message], cwd=repo, check=True, env=env)
    return git(repo, "rev-parse", "HEAD").strip()


def cmd_recall(args: argparse.Namespace) -> None:
    import shutil

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work)
    results: list[dict[str, Any]] = []
    for name in args.repos:
        bare = work / f"{name}.git"
        clone(name, work)
        repo = work / f"recall-{name}"
        shutil.rmtree(repo, ignore_errors=True)
        subprocess.run(["git", "clone", "-q", str(bare), str(repo)], check=True)
        base = git(repo, "rev-parse", "HEAD").strip()
        home = work / f"home-recall-{name}"
        shutil.rmtree(home, ignore_errors=True)
        w = World(home)
        w.catalog.add_source(name, "git", str(repo), options={"include": [], "exclude": []})
        log(f"{name}: full index at {base[:10]}")
        full, full_wall = w.index(name)
        before = {(f.path, f.reference, f.kind) for f in w.findings()}
        cands, why = tracked_candidates(w, name)
        log(f"  {len(cands)} tracked symbols with one definition; references: {dict(why)}")
        rng = random.Random(f"{args.seed}:{name}")
        muts = plan(cands, args.per_repo, rng, repo)
        when = int(git(repo, "log", "-1", "--format=%ct").strip()) + 3600
        # the incremental case first: one commit changing one code file
        target = sorted(c["path"] for c in cands.values())[len(cands) // 2] if cands else "setup.py"
        with (repo / target).open("a") as fh:
            fh.write("\n\ndef bench_added_function(x: int = 1) -> int:\n    return x\n")
        commit_all(repo, "bench: one change", when - 60)
        r1, wall1 = w.index(name)
        one = {"path": target, "files_changed": r1.changed + r1.new, "wall_s": round(wall1, 2),
               "embed_s": round(r1.embed_seconds, 2), "detect_s": round(r1.detection_seconds, 2),
               "staleness_s": round(r1.staleness_seconds, 2)}
        log(f"  one-commit re-index + detection: {one}")
        applied: list[dict[str, Any]] = []
        for i, m in enumerate(muts):
            if not mutate(repo, m):
                m["skipped"] = "no longer applies (an earlier mutation changed it)"
                continue
            if not git(repo, "status", "--porcelain", "-uno", "--", "*.py").strip():
                m["skipped"] = "no change"
                continue
            m["commit"] = commit_all(repo, f"bench: {m['type']} {m['name']}", when + i * 60)
            applied.append(m)
        log(f"  {len(applied)} mutations committed; re-index and detect")
        r2, wall2 = w.index(name)
        found = w.findings()
        by_doc: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for f in found:
            by_doc[(f.path, f.reference or "")].append(f)
        for m in applied:
            want = "drift" if m["type"] in ("default", "value") else "dead"
            pairs = []
            for e in m["expect"]:
                fs = by_doc.get((e["doc"], e["reference"]), [])
                right = [f for f in fs if f.kind == want and
                         changed(f).startswith(m["commit"][:10])]
                kinds = sorted({f.kind for f in fs})
                pairs.append({**e, "found": bool(right), "kinds": kinds,
                              "preexisting": any((e["doc"], e["reference"], k) in before for k in kinds),
                              "commit_named": [changed(f)[:10] for f in fs],
                              "suggested": [(f.suggestion or {}).get("with") for f in fs]})
            m["pairs"] = pairs
            m["found_all"] = all(p["found"] for p in pairs)
            m["found_any"] = any(p["found"] for p in pairs)
        res = {"repo": name, "base": base, "files": full.seen, "full_wall_s": round(full_wall, 1),
               "full_staleness_s": round(full.staleness_seconds, 1), "full_detect_s": round(full.detection_seconds, 1),
               "candidates": len(cands), "why": dict(why), "one_commit": one,
               "final_reindex": {"files_changed": r2.changed + r2.new, "wall_s": round(wall2, 1),
                                 "detect_s": round(r2.detection_seconds, 1), "deferred": r2.staleness_deferred},
               "mutations": muts}
        results.append(res)
        with (out / "recall.jsonl").open("a") as fh:
            fh.write(json.dumps(res) + "\n")
        n_ok = sum(m["found_all"] for m in applied)
        log(f"  recall {n_ok}/{len(applied)} ({Counter((m['type'], m['found_all']) for m in applied)})")
        w.close()
    report_recall(out)


def report_recall(out: Path) -> None:
    rows = [json.loads(x) for x in (out / "recall.jsonl").read_text().splitlines()]
    per: Counter[tuple[str, bool]] = Counter()
    pairs: Counter[bool] = Counter()
    for r in rows:
        for m in r["mutations"]:
            if "commit" not in m:
                continue
            per[(m["type"], m["found_all"])] += 1
            per[("all", m["found_all"])] += 1
            pairs.update(p["found"] for p in m["pairs"])
    for t in ("rename", "remove", "default", "value", "all"):
        n = per[(t, True)] + per[(t, False)]
        if n:
            print(f"recall {t:8s}: {per[(t, True)]}/{n} = {per[(t, True)] / n:.1%}")
    n = pairs[True] + pairs[False]
    if n:
        print(f"(doc, reference) pairs found with the right commit: {pairs[True]}/{n} = {pairs[True] / n:.1%}")


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
    {"precision": cmd_precision, "recall": cmd_recall, "judge": cmd_judge}[args.cmd](args)


if __name__ == "__main__":
    main()
