"""Recall half of ``bench/staleness.py`` (run it through that script: ``recall``):
injected renames and removals of symbols that real docs reference, one commit each,
then an incremental re-index and detection; also the one-commit re-index cost."""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bench.staleness import GIT, World, clone, git, log

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
        cfg = w.settings.staleness
        check = DocCheck(name, doc, lambda d=doc: det._doc_text(row, d, reader), limit=cfg.history_commits,
                         similarity=cfg.rename_similarity)
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
            if len(now) != 1 or not now[0].path.endswith(".py") or not now[0].main:
                why["tracked; several definitions now, not Python, or now only outside the code proper "
                    "(not mutated)"] += 1
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


