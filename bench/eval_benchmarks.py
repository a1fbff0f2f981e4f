"""The dev benchmarks end to end through ``sourcewise eval``, beside a plain BM25 baseline.

For each repository (``../shared/benchmarks``; see its README):

1. A bare mirror with full history (``/work/.mirror/<owner>+<name>/repo`` via a
   ``--shared`` clone, or cloned from GitHub into ``bench/.cache``; never committed).
2. Cases from the project's importers: ``sourcewise eval import sweqa`` (gold = paths the
   reference answer cites that exist at the pinned commit) and ``sourcewise eval import
   swebench`` (gold = files the fix edited, at each issue's ``base_commit``). Gold outside
   ``--include`` is dropped (a case left with none is not run), questions over the
   retriever's 10 000-character limit are cut; both are counted in the output.
3. One ``git`` source per repository in a persistent home (``--home``, default
   ``bench/.cache/eval-bench/<repo>``), so a re-run only indexes what changed. For each
   commit: ``sourcewise source update NAME --ref COMMIT``, ``sourcewise index NAME --json``
   (incremental: only changed files are re-embedded), then ``sourcewise eval run --set
   FILE --json`` on that commit's cases. All through the CLI, as a user runs it.
4. In this process, after each CLI call exits: the per-case results
   (``eval.store.EvalStore.load``) and the files the catalog holds at that commit; a BM25
   over exactly those files (``bench/localization_rankers.BM25Files``: whole files, path +
   content, identifier-aware tokens) ranks the same questions; both rankings are scored
   with ``eval.metrics`` against the gold the eval runner used (cases it skipped as
   "gold path missing" are left out of both).

Commit order: the SWE-QA commit first (its 48 questions are one commit), then the
SWE-bench commits by date, starting from the end nearest the commit the index is at
(``--order``), so every switch re-embeds only what changed between neighbours.
``--time-budget``: no new commit starts after it (the output says the numbers are
partial); ``--hard-limit`` kills a CLI call that runs past it.

Default ``--include "*.py"``: with ``*.rst``/``*.md`` indexed, changelog and docs pages
that repeat an issue's words take BM25's top ranks (README, Benchmarks).

    nice -n 10 .venv/bin/python bench/eval_benchmarks.py --repos pytest --tasks sweqa,swebench

Prints a Markdown block (also written beside the per-case log in the cache); asserts
nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from eval_bench_cases import (
    Prepared,
    Scored,
    commit_ts,
    find_mirror,
    first_rank,
    group_cases,
    metrics_for,
    prepare,
    write_set,
)
from localization_rankers import BM25Files
from localization_tasks import Git

BENCH = Path(os.environ.get("SOURCEWISE_BENCHMARKS", ROOT.parent / "shared" / "benchmarks"))
LOC_FILE = "swebench-lite-localization-dev.jsonl"
LOC_REPOS = {"pytest": "pytest-dev/pytest", "sphinx": "sphinx-doc/sphinx", "pylint": "pylint-dev/pylint",
             "astropy": "astropy/astropy"}
CACHE = ROOT / "bench" / ".cache" / "eval-bench"
DEFAULT_INCLUDE = ("*.py",)
TASK_LABEL = {"swebench": "SWE-bench Lite localization", "sweqa": "SWE-QA"}
RANKERS = ("sourcewise", "bm25")
RANKER_LABEL = {"sourcewise": "Sourcewise (`sourcewise eval run`)", "bm25": "BM25 over whole files (same run)"}


def log(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


class OverTime(Exception):
    """A CLI call ran past ``--hard-limit``."""


# -- the CLI ---------------------------------------------------------------------------------

@dataclass
class Cli:
    """``sourcewise`` subprocesses against one ``SOURCEWISE_HOME``."""

    home: Path
    deadline: float  # time.monotonic() after which calls are killed
    log_path: Path

    def __call__(self, *args: str, check: bool = True) -> tuple[int, str, float]:
        exe = Path(sys.executable).with_name("sourcewise")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "sourcewise.cli"]
        # COLUMNS: rich wraps stderr notes at 80 columns when it is not a terminal.
        env = os.environ | {"SOURCEWISE_HOME": str(self.home), "COLUMNS": "4000"}
        timeout = max(60.0, self.deadline - time.monotonic())
        t0 = time.perf_counter()
        with self.log_path.open("a", encoding="utf-8") as errlog:
            errlog.write(f"\n$ sourcewise {' '.join(args)}\n")
            errlog.flush()
            try:
                proc = subprocess.run([*cmd, *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=errlog,
                                      text=True, timeout=timeout, check=False)
            except subprocess.TimeoutExpired:
                raise OverTime(f"`sourcewise {' '.join(args[:3])}` killed after {timeout:.0f} s "
                               "(--hard-limit)") from None
        wall = time.perf_counter() - t0
        if check and proc.returncode != 0:
            tail = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-8:]
            raise RuntimeError(f"`sourcewise {' '.join(args)}` exited {proc.returncode}:\n  " + "\n  ".join(tail))
        return proc.returncode, proc.stdout, wall


def _json_out(stdout: str) -> Any:
    """The JSON document a ``--json`` command printed (anything before it is ignored)."""
    starts = [i for i in (stdout.find("{"), stdout.find("[")) if i >= 0]
    return json.loads(stdout[min(starts):]) if starts else None


def open_container(home: Path) -> Any:
    from assistant.container import build
    from assistant.settings import load_settings

    return build(load_settings(home=home))


def indexed_files(home: Path, name: str) -> tuple[list[tuple[str, str]], int]:
    """(path, blob sha) of every document the catalog holds for ``name``, and their chunks."""
    c = open_container(home)
    try:
        docs = c.catalog.documents(c.catalog.get_source(name).id)
        return [(d.path, d.content_hash) for d in docs], sum(d.chunk_count for d in docs)
    finally:
        c.close()


def eval_results(home: Path, run_id: int) -> list[dict[str, Any]]:
    from eval.store import EvalStore

    c = open_container(home)
    try:
        return EvalStore(c.db).load(run_id)["cases"]
    finally:
        c.close()


def source_state(home: Path, name: str) -> dict[str, Any] | None:
    """The registered source (location, ref, include), or None when there is none yet."""
    if not (home / "catalog.db").exists():
        return None
    from assistant.errors import ConfigError

    c = open_container(home)
    try:
        row = c.catalog.get_source(name)
        return {"location": row.location, "ref": row.ref, "include": list((row.options or {}).get("include") or [])}
    except ConfigError:
        return None
    finally:
        c.close()


# -- one repository --------------------------------------------------------------------------

@dataclass
class RepoRun:
    repo: str
    name: str
    home: Path
    prepared: list[Prepared] = field(default_factory=list)
    index_rows: list[dict[str, Any]] = field(default_factory=list)
    eval_runs: dict[str, list[int]] = field(default_factory=dict)  # task -> run ids
    scored: list[Scored] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "task case: why"
    unrun: dict[str, int] = field(default_factory=dict)  # task -> cases not run (time budget)
    unrun_commits: int = 0
    note: str | None = None


def import_cases(cli: Cli, repo: str, name: str, task: str, mirror: Path, include: list[str],
                 max_instances: int | None) -> Prepared:
    raw = cli.home / "sets" / f"import-{task}.jsonl"
    raw.parent.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    if task == "sweqa":
        src = BENCH / "swe-qa" / f"{name}.jsonl"
        before = cli.log_path.stat().st_size if cli.log_path.exists() else 0
        cli("eval", "import", "sweqa", str(src), "--repo", repo, "--out", str(raw), "--git-dir", str(mirror))
        text = cli.log_path.read_text(encoding="utf-8", errors="replace")[before:]
        notes = [ln for ln in text.splitlines() if ln.startswith(f"{name}-qa-")]
    else:
        cli("eval", "import", "swebench", str(BENCH / LOC_FILE), "--out", str(raw), "--repo", repo)
    return prepare(task, repo, raw, mirror, include, max_instances, notes)


def order_commits(commits: dict[str, dict[str, list[Any]]], mirror: Path, start: str | None, how: str) -> list[str]:
    """SWE-QA commits first, then the others by date, from the end nearest where the index
    is (the SWE-QA commit, or ``start``): each switch then re-embeds only what changed
    between neighbouring commits."""
    ts = {c: commit_ts(mirror, c) for c in commits}
    first = sorted((c for c in commits if "sweqa" in commits[c]), key=ts.__getitem__)
    rest = sorted((c for c in commits if c not in first), key=ts.__getitem__)
    anchor = first[-1] if first else start
    if how == "newest":
        rest.reverse()
    elif how == "auto" and rest and anchor:
        anchor_ts = ts[anchor] if anchor in ts else commit_ts(mirror, anchor)
        if anchor_ts > ts[rest[len(rest) // 2]]:
            rest.reverse()
    return first + rest


def run_repo(repo: str, args: argparse.Namespace, out_log: TextIO, started: float) -> RepoRun:
    name = repo.split("/")[-1]
    home = Path(args.home) / name if args.home else CACHE / (name if args.include == list(DEFAULT_INCLUDE) else
                                                            f"{name}-{_selection(args.include)}")
    rr = RepoRun(repo, name, home)
    mirror = find_mirror(repo, Path(args.mirrors), CACHE / "mirrors", log)
    if mirror is None:
        rr.note = "no mirror: not run"
        return rr
    if args.fresh and home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    cli = Cli(home, started + args.hard_limit, home / "cli.log")
    for task in args.tasks:
        if task == "swebench" and name not in LOC_REPOS:
            continue
        if task == "sweqa" and not (BENCH / "swe-qa" / f"{name}.jsonl").exists():
            continue
        rr.prepared.append(import_cases(cli, repo, name, task, mirror, args.include, args.max_instances))
    by_commit = group_cases(rr.prepared)
    if not by_commit:
        rr.note = "no cases"
        return rr
    state = source_state(home, name)
    if state is not None and (state["location"] != str(mirror) or state["include"] != args.include):
        raise SystemExit(f"{home} holds source {name!r} from {state['location']} with include {state['include']}; "
                         f"this run wants {mirror} with {args.include}: use --fresh or another --home")
    order = order_commits(by_commit, mirror, state["ref"] if state else None, args.order)
    if state is None:
        cli("source", "add", name, "--git", str(mirror), "--ref", order[0],
            *[x for g in args.include for x in ("--include", g)])
    git_reader = Git(mirror)
    bm25 = BM25Files(git_reader)
    log(f"== {repo}: {sum(len(v) for t in by_commit.values() for v in t.values())} cases over "
        f"{len(order)} commits; home {home}; mirror {mirror}")
    try:
        for i, commit in enumerate(order, 1):
            if time.monotonic() - started > args.time_budget:
                left = order[i - 1:]
                rr.unrun_commits = len(left)
                for c in left:
                    for task, cases in by_commit[c].items():
                        rr.unrun[task] = rr.unrun.get(task, 0) + len(cases)
                log(f"{name}: time budget reached; {len(left)} commit(s) not started")
                break
            run_commit(cli, rr, commit, by_commit[commit], bm25, mirror, out_log, f"{i}/{len(order)}")
    except OverTime as exc:
        rr.note = str(exc)
        log(rr.note)
        done = {row["commit"] for row in rr.index_rows if row.get("evaluated")}
        for c in order:
            if c not in done:
                rr.unrun_commits += 1
                for task, cases in by_commit[c].items():
                    rr.unrun[task] = rr.unrun.get(task, 0) + len(cases)
    finally:
        git_reader.close()
    return rr


def _selection(include: list[str]) -> str:
    return hashlib.sha256(json.dumps(include).encode()).hexdigest()[:8]


def run_commit(cli: Cli, rr: RepoRun, commit: str, tasks: dict[str, list[Any]], bm25: BM25Files, mirror: Path,
               out_log: TextIO, label: str) -> None:
    name = rr.name
    cli("source", "update", name, "--ref", commit)
    code, stdout, wall = cli("index", name, "--json", check=False)
    report = (_json_out(stdout) or [{}])[0]
    date = datetime.fromtimestamp(commit_ts(mirror, commit), UTC).strftime("%Y-%m-%d")
    row = {"commit": commit, "date": date, "tasks": sorted(tasks), "wall_s": wall} | {
        k: report.get(k) for k in ("status", "version", "seen", "new", "changed", "deleted", "chunks", "embedded",
                                   "seconds", "embed_seconds", "error")}
    rr.index_rows.append(row)
    log(f"{name} {label} {commit[:10]} ({date}, {'+'.join(sorted(tasks))}): index {row['status']} "
        f"seen {row['seen']} new {row['new']} changed {row['changed']} deleted {row['deleted']} "
        f"embedded {row['embedded']} chunks in {row['seconds']} s (CLI wall {wall:.1f} s)")
    if code != 0 or row["status"] != "ok" or row["version"] != commit:
        rr.skipped += [f"{t} {c.id}: index at {commit[:10]} failed: {row['error'] or code}"
                       for t, cases in tasks.items() for c in cases]
        return
    files, chunks = indexed_files(rr.home, name)
    row["files"], row["chunks_now"] = len(files), chunks
    bm25.build(files)
    for task, cases in sorted(tasks.items(), key=lambda kv: kv[0] != "sweqa"):
        set_name = f"bench-{name}-{task}" + ("" if task == "sweqa" else f"-{commit[:10]}")
        set_path = write_set(cases, rr.home / "sets" / f"{set_name}.jsonl")
        _, stdout, ewall = cli("eval", "run", "--set", str(set_path), "--json")
        run_id = int(_json_out(stdout)["id"])
        rr.eval_runs.setdefault(task, []).append(run_id)
        by_id = {c.id: c for c in cases}
        results = eval_results(rr.home, run_id)
        for res in results:
            case = by_id[res["case_id"]]
            if res.get("skipped"):
                rr.skipped.append(f"{task} {case.id}: {res['skipped']}")
                continue
            gold = tuple(res.get("gold_files") or ())
            bm = [f"{name}:{p}" for p in bm25.rank(case.question, 10)]
            sc = Scored(task, rr.repo, commit, case.id, gold,
                        {"sourcewise": list(res.get("file_ranked") or [])[:10], "bm25": bm}, res.get("error"))
            rr.scored.append(sc)
            out_log.write(json.dumps({"task": task, "repo": rr.repo, "commit": commit, "case": case.id,
                                      "eval_run": run_id, "gold": gold, "ranked": sc.ranked,
                                      "first_rank": {k: first_rank(v, gold) for k, v in sc.ranked.items()},
                                      "error": sc.error}) + "\n")
        out_log.flush()
        ranks = " ".join(f"{s.case_id}={first_rank(s.ranked['sourcewise'], s.gold)}/"
                         f"{first_rank(s.ranked['bm25'], s.gold)}" for s in rr.scored[-len(results):]
                         if s.commit == commit and s.task == task)
        log(f"  eval run {run_id} ({task}, {len(results)} cases, {ewall:.0f} s); first gold rank "
            f"sourcewise/bm25: {ranks if len(ranks) < 400 else ranks[:400] + ' ...'}")
    row["evaluated"] = True


# -- the report ------------------------------------------------------------------------------

def machine() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    device = os.environ.get("SOURCEWISE_EMBEDDING__DEVICE", "cpu")
    return (f"{platform.machine()}, {cpus} CPUs available ({os.cpu_count()} online), {platform.platform()}, "
            f"Python {platform.python_version()}; bundled all-MiniLM-L6-v2 on `{device}`; "
            f"load average at start {load}")


def code_version() -> tuple[str, str]:
    """(git HEAD and whether the code packages differ from it, a fingerprint of their files)."""
    def run(*a: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True, timeout=30,
                                  check=False).stdout
        except (OSError, subprocess.TimeoutExpired):
            return ""

    head = run("rev-parse", "--short", "HEAD").strip() or "?"
    h = hashlib.sha256()
    for pkg in ("assistant", "indexers", "eval", "sourcewise"):
        for f in sorted((ROOT / pkg).rglob("*.py")):
            h.update(f.relative_to(ROOT).as_posix().encode())
            h.update(f.read_bytes())
    dirty = run("status", "--porcelain", "--", "assistant", "indexers", "eval", "sourcewise").strip()
    return f"{head}{' + uncommitted changes' if dirty else ''}", h.hexdigest()[:12]


def fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}"


def render(runs: list[RepoRun], args: argparse.Namespace, started_at: datetime, wall: float,
           code: tuple[str, str], partial: bool) -> str:
    out: list[str] = []
    w = out.append
    w(f"### Dev benchmarks through `sourcewise eval` ({started_at:%Y-%m-%d %H:%M} UTC)")
    w("")
    w(f"- machine: {machine()}")
    w(f"- command: `{' '.join(['bench/eval_benchmarks.py', *sys.argv[1:]])}`")
    (head0, fp0), (head1, fp1) = code
    w(f"- code: `assistant/ indexers/ eval/ sourcewise/` fingerprint {fp0} at {head0}"
      + (f"; **they changed during the run** (now {fp1} at {head1})" if fp1 != fp0 else ""))
    w(f"- repos: {', '.join(r.repo for r in runs)}; tasks: {', '.join(args.tasks)}"
      + (f"; at most {args.max_instances} cases per repo and task" if args.max_instances else ""))
    w(f"- indexed: `--include {' '.join(args.include)}`"
      + (" (the default: with `*.rst`/`*.md` the changelog and docs pages, which repeat an issue's words, "
         "take BM25's top ranks)" if args.include == list(DEFAULT_INCLUDE) else ""))
    overrides = sorted(k for k in os.environ if k.startswith("SOURCEWISE_") and k != "SOURCEWISE_HOME")
    w(f"- settings: defaults{' + ' + ', '.join(overrides) if overrides else ''} (generator `extractive`); "
      "freshness is computed as of today, as `eval run` does")
    w(f"- wall: {wall:.0f} s" + (" — **PARTIAL**: the time budget or hard limit stopped the run before every "
                                 "commit was measured (see 'not run')" if partial else ""))
    w("")
    w("| task | repo | ranker | n | Acc@1 | Acc@3 | Acc@5 | Acc@10 | MRR@10 | Recall@5 | Recall@10 |")
    w("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for task in ("swebench", "sweqa"):
        for rr in runs:
            rows = [s for s in rr.scored if s.task == task]
            if not rows:
                continue
            for ranker in RANKERS:
                mm = metrics_for(rows, ranker)
                if task == "swebench":
                    cells = [mm.get("Acc@1"), mm.get("Acc@3"), mm.get("Acc@5"), mm.get("Acc@10"), mm.get("MRR@10"),
                             None, None]
                    tail = [fmt(x) for x in cells[:5]] + ["", ""]
                else:
                    tail = ["", "", fmt(mm.get("Acc@5")), "", "", fmt(mm.get("Recall@5")), fmt(mm.get("Recall@10"))]
                w(f"| {TASK_LABEL[task]} | {rr.name} | {RANKER_LABEL[ranker]} | {mm['n']} | " + " | ".join(tail) + " |")
    w("")
    w("Acc@k: a gold file among the top k files; MRR@10: mean 1/rank of the first gold file in the top 10; "
      "Recall@k: mean share of a case's gold files in the top k. Both rankers see the same questions and gold "
      "(`eval.metrics`), over the files the index holds at each commit.")
    for rr in runs:
        w("")
        w(f"**{rr.repo}** (home `{_rel(rr.home)}`){': ' + rr.note if rr.note else ''}")
        for prep in rr.prepared:
            st = prep.stats
            total = prep.cases
            w(f"- {TASK_LABEL[prep.task]}: {st.get('imported', 0)} imported, {total} run over {len(prep.by_commit)} "
              f"commit(s); gold files outside `--include` dropped: {st.get('gold_outside_include', 0)}, "
              f"cases left without gold: {st.get('cases_without_indexable_gold', 0)}, questions cut to 10,000 "
              f"characters: {st.get('questions_cut', 0)}"
              + (f"; by the importer (whole file): {st.get('import_dropped_paths', 0)} cited paths missing at the pin dropped, "
                 f"{st.get('import_skipped', 0)} questions without an existing cited path skipped"
                 if prep.task == "sweqa" else ""))
            runs_ = rr.eval_runs.get(prep.task, [])
            if runs_:
                w(f"  - eval runs: {_ranges(runs_)}" + (f"; not run (time budget): {rr.unrun[prep.task]} cases"
                                                        if rr.unrun.get(prep.task) else ""))
            elif rr.unrun.get(prep.task):
                w(f"  - not run (time budget): {rr.unrun[prep.task]} cases")
        errs = [s for s in rr.scored if s.error]
        if errs:
            w(f"- cases whose answer step errored (their file ranking still counts): "
              f"{', '.join(f'{s.case_id} ({s.error[:80]})' for s in errs)}")
        if rr.skipped:
            w(f"- skipped by the eval runner (left out of both rankers): {'; '.join(rr.skipped)}")
        if rr.index_rows:
            rows = rr.index_rows
            emb = sum(r.get("embedded") or 0 for r in rows[1:])
            secs = sum(r.get("seconds") or 0 for r in rows[1:])
            w(f"- `sourcewise index`: {len(rows)} commit(s); the first embedded {rows[0].get('embedded')} chunks in "
              f"{fmt(rows[0].get('seconds'))} s" + (f", the {len(rows) - 1} switches after it {emb} chunks in "
                                                   f"{secs:.0f} s" if len(rows) > 1 else ""))
            w("")
            w("  | commit | date | cases | files new / changed / deleted | chunks embedded | index s "
              "| CLI wall s | files / chunks indexed |")
            w("  |---|---|---|---|---:|---:|---:|---|")
            for r in rows:
                w(f"  | {r['commit'][:10]} | {r['date']} | {'+'.join(r['tasks'])} | {r.get('new')} / "
                  f"{r.get('changed')} / {r.get('deleted')} | {r.get('embedded')} | {fmt(r.get('seconds'))} | "
                  f"{r['wall_s']:.0f} | {r.get('files', '?')} / {r.get('chunks_now', '?')} |")
            w("")
            if rr.unrun_commits:
                w(f"- not run: {rr.unrun_commits} commit(s) (time budget / hard limit)")
    return "\n".join(out) + "\n"


def _rel(p: Path) -> str:
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)


def _ranges(ids: list[int]) -> str:
    ids = sorted(ids)
    if len(ids) > 2 and ids[-1] - ids[0] == len(ids) - 1:
        return f"#{ids[0]}–#{ids[-1]} ({len(ids)} runs)"
    return ", ".join(f"#{i}" for i in ids)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repos", default="pytest,sphinx,pylint,astropy",
                   help="short names (SWE-bench: pytest, sphinx, pylint, astropy; SWE-QA also conan, sqlfluff, "
                        "reflex, streamlink)")
    p.add_argument("--tasks", default="sweqa,swebench", help="sweqa, swebench, or both")
    p.add_argument("--max-instances", type=int, default=None, help="per repo and task (first N rows)")
    p.add_argument("--home", default=None,
                   help=f"parent of the per-repo SOURCEWISE_HOME dirs (default {_rel(CACHE)}/<repo>)")
    p.add_argument("--include", nargs="+", default=list(DEFAULT_INCLUDE),
                   help='globs to index, e.g. --include "*.py" "*.rst" "*.md"')
    p.add_argument("--time-budget", type=float, default=3000.0, help="seconds; no new commit starts after this")
    p.add_argument("--hard-limit", type=float, default=None,
                   help="seconds; a CLI call still running then is killed (default: time budget + 900)")
    p.add_argument("--order", choices=("auto", "oldest", "newest"), default="auto",
                   help="SWE-bench commit order (auto: from the end nearest the index's current commit)")
    p.add_argument("--mirrors", default="/work/.mirror", help="fetched bare mirrors at MIRRORS/<owner>+<name>/repo")
    p.add_argument("--fresh", action="store_true", help="delete each repo's bench home first (full re-index)")
    args = p.parse_args()
    args.tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    if set(args.tasks) - set(TASK_LABEL):
        p.error(f"--tasks: sweqa and/or swebench, not {args.tasks}")
    args.hard_limit = args.hard_limit or args.time_budget + 900
    started, t0 = time.monotonic(), time.perf_counter()
    started_at = datetime.now(UTC)
    code_start = code_version()
    pins = {}
    for line in (BENCH / "swe-qa" / "repo_commit.txt").read_text().splitlines():
        if line.strip():
            full = line.split()[0].split("github.com/")[-1].strip("/")
            pins[full.split("/")[-1]] = full
    repos = []
    for short in (r.strip() for r in args.repos.split(",") if r.strip()):
        repo = LOC_REPOS.get(short) or pins.get(short)
        if repo is None:
            p.error(f"unknown repo {short!r}; known: {', '.join(sorted(set(LOC_REPOS) | set(pins)))}")
        repos.append(repo)
    CACHE.mkdir(parents=True, exist_ok=True)
    stamp = f"{started_at:%Y%m%d-%H%M%S}"
    out_path, md_path = CACHE / f"results-{stamp}.jsonl", CACHE / f"results-{stamp}.md"
    log(f"code {code_start[1]} at {code_start[0]}; per-case log {out_path}; include {args.include}; budget {args.time_budget:.0f} s, "
        f"hard limit {args.hard_limit:.0f} s")
    runs: list[RepoRun] = []
    with out_path.open("w", encoding="utf-8") as out_log:
        for repo in repos:
            if time.monotonic() - started > args.time_budget:
                rr = RepoRun(repo, repo.split("/")[-1], Path("-"), note="not started (time budget)")
                runs.append(rr)
                continue
            runs.append(run_repo(repo, args, out_log, started))
            md_path.write_text(render(runs, args, started_at, time.perf_counter() - t0, (code_start, code_start),
                                      True), encoding="utf-8")
    partial = any(r.unrun or r.unrun_commits or (r.note and "not started" in r.note) for r in runs)
    text = render(runs, args, started_at, time.perf_counter() - t0, (code_start, code_version()), partial)
    md_path.write_text(text, encoding="utf-8")
    notes_path = md_path.with_suffix(".notes.txt")
    notes_path.write_text("".join(f"{r.repo} {p.task}: {n}\n" for r in runs for p in r.prepared for n in p.notes)
                          + "".join(f"{r.repo} skipped: {n}\n" for r in runs for n in r.skipped), encoding="utf-8")
    print(text)
    print(f"(per-case ranks: {_rel(out_path)}; this report: {_rel(md_path)}; dropped gold and skipped cases: "
          f"{_rel(notes_path)})")


if __name__ == "__main__":
    main()
