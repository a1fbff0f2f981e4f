"""File localization on the development benchmarks: Sourcewise retrieval vs BM25 over files.

Two tasks from ``../shared/benchmarks`` (see its README):

* SWE-bench Lite localization (dev): issue text -> the file(s) its fix edited, at the
  issue's base commit. Reported: file Acc@1/3/5/10 (a gold file among the top k) and
  MRR@10.
* SWE-QA (dev): question -> the repository files its reference answer cites (paths that
  exist at the pinned commit; cited paths that do not exist are dropped, questions left
  with no gold are skipped). Reported: file Recall@5/10.

For each repository the bare mirror is indexed as a ``git`` source with the real
pipeline (model, sparse encoder, EdgeStore, catalog) at one commit, then moved commit
by commit (``catalog.update_source(ref=...)``, commits in date order) so only changed
files are re-embedded. Only ``--include`` globs are indexed (default Python and docs).
At every commit the same indexed files are also ranked by a plain BM25 over whole files
(``rank_bm25.BM25Okapi``, identifier-aware tokenizer, path + content), in the same run.

Rankers (printed with the results):

* ``retriever``: ``assistant.retrieval.retriever.Retriever.rank_files`` (imported lazily,
  skipped with a note when it does not exist or fails), freshness computed as of the
  indexed commit's date; questions longer than 10 000 characters (its limit) are cut.
  ``--variants`` adds the same ranker with retrieval settings overridden, for tuning on
  these dev sets only.
* ``hybrid``: the floor ``HybridSearcher`` does (one ``store.query``: dense + sparse
  prefetches fused with RRF) for 100 chunks, aggregated per file by max score. The
  dense query is the first 2 000 characters of the question (the model reads 256
  tokens anyway); the sparse query uses the full text. ``HybridSearcher.search`` takes one
  string capped at 10 000 characters, so the bench makes its ``store.query`` call itself.
* ``bm25``: the baseline above.

Reproducibility while others edit the code: ``assistant/`` and ``indexers/`` are copied
aside at start and imported from the copy (``--live-code`` to skip); the report prints
the code's fingerprint. Indexes live under ``--cache`` (default
``bench/.cache/localization``, git-ignored), one per repo, file selection and code
fingerprint. Chunk vectors are cached by model + exact embedded text in
``--embed-cache`` (SQLite), so moving between commits or rebuilding after a code change
only runs the model on text it has not seen; the vectors are the model's own, so
rankings are unaffected. Fetch the mirrors first (``/work/.mirror/<owner>+<name>/repo``,
see ``--mirrors``; a ``--shared`` bare clone is made next to the indexes because the
fetched mirrors lack a ``config`` file). Prints numbers; asserts nothing.

    .venv/bin/python bench/localization.py --repos pytest --max-instances 5
"""

from __future__ import annotations

import argparse
import builtins
import json
import math
import os
import shutil
import sys
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import machine
from localization_rankers import (
    BM25Files,
    CachingEmbedder,
    hybrid_ranker,
    parse_variants,
    retriever_ranker,
)
from localization_tasks import Git, Question, load_questions, shared_clone, short

DEFAULT_INCLUDE = ("*.py", "*.rst", "*.md")
KS = (1, 3, 5, 10)


def log(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


# -- tasks ---------------------------------------------------------------------------


@dataclass
class Result:
    q: Question
    ranks: dict[str, list[str]] = field(default_factory=dict)  # ranker -> ranked paths
    seconds: dict[str, float] = field(default_factory=dict)


# -- metrics -------------------------------------------------------------------------


def first_rank(ranked: Sequence[str], gold: Iterable[str]) -> int | None:
    g = set(gold)
    for i, p in enumerate(ranked, 1):
        if p in g:
            return i
    return None


def loc_metrics(results: list[Result], ranker: str) -> dict[str, float]:
    n = len(results)
    out: dict[str, float] = {}
    ranks = [first_rank(r.ranks.get(ranker, [])[:10], r.q.gold) for r in results]
    for k in KS:
        out[f"Acc@{k}"] = 100 * sum(1 for x in ranks if x is not None and x <= k) / n
    out["MRR@10"] = 100 * sum(1 / x for x in ranks if x is not None) / n
    return out


def qa_metrics(results: list[Result], ranker: str) -> dict[str, float]:
    n = len(results)
    out = {}
    for k in (5, 10):
        out[f"R@{k}"] = 100 * sum(
            len(set(r.ranks.get(ranker, [])[:k]) & set(r.q.gold)) / len(r.q.gold) for r in results) / n
    return out


# -- main loop -----------------------------------------------------------------------


class LogProgress:
    """Pipeline progress to stderr, at most every 30 s (embedding a big repo takes minutes)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.done: dict[str, int] = {}
        self.total: dict[str, int] = {}
        self.last = time.perf_counter()

    def start(self, task: str, total: int) -> None:
        self.done[task], self.total[task] = 0, total

    def advance(self, task: str, amount: int = 1) -> None:
        self.done[task] = self.done.get(task, 0) + amount
        if task == "embed" and time.perf_counter() - self.last > 30:
            self.last = time.perf_counter()
            log(f"  {self.label}: embedded docs {self.done[task]}/{self.total.get(task, 0)}")

    def finish(self, task: str) -> None:
        pass


def index_commit(container: Any, settings: Any, name: str, commit: str,
                 embedder: Any) -> tuple[Any, float]:
    from indexers.pipeline import Pipeline
    from indexers.sources.factory import make_source

    row = container.catalog.get_source(name)
    if row.ref != commit:
        container.catalog.update_source(row.id, ref=commit)
        row = container.catalog.get_source(name)
    pipeline = Pipeline(container.catalog, container.store, embedder, container.sparse,
                        batch_docs=settings.indexing.docs_batch,
                        chunk_max_chars=settings.indexing.chunk_max_chars,
                        progress=LogProgress(f"{name}@{commit[:10]}"))
    t0 = time.perf_counter()
    report = pipeline.index(row, make_source(row, settings, container.catalog))
    return report, time.perf_counter() - t0


def index_home(cache: Path, name: str, include: list[str], exclude: list[str], code: str) -> Path:
    """One index per repo, file selection and code fingerprint.

    Payload fields come from the indexer code (a new ``role`` field, say) and the hash gate
    does not re-write unchanged files, so an index built by older code would silently lack
    them: a code change means a new index (cheap: vectors come from the chunk-text cache).
    Older indexes of the same repo and selection are removed.
    """
    import hashlib

    selection = hashlib.sha256(json.dumps([include, exclude]).encode()).hexdigest()[:8]
    home = cache / "indexes" / f"{name}-{selection}-{code}"
    for old in home.parent.glob(f"{name}-{selection}-*"):
        if old != home and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return home


def code_fingerprint(root: Path = ROOT) -> str:
    """Short hash of the ``assistant``/``indexers`` code the numbers came from."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted([*root.glob("assistant/**/*.py"), *root.glob("indexers/**/*.py")]):
        h.update(f.relative_to(root).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def snapshot_code(cache: Path) -> Path:
    """Copy ``assistant/`` and ``indexers/`` aside and import from the copy.

    Others edit those packages while a run takes an hour; a module imported lazily late
    in the run must come from the same code as the settings read at its start (a run here
    once mixed the two and failed). The snapshot is keyed by the code's fingerprint.
    """
    dest = cache / "code" / code_fingerprint()
    if not (dest / "assistant").exists():
        tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for pkg in ("assistant", "indexers"):
            shutil.copytree(ROOT / pkg, tmp / pkg, ignore=ignore, dirs_exist_ok=True)
        try:
            tmp.rename(dest)
        except OSError:  # another run made it first
            shutil.rmtree(tmp, ignore_errors=True)
    sys.path.insert(0, str(dest))
    return dest


def snapshot_index(container: Any, settings: Any, home: Path, commit: str) -> Any:
    """Copy the index as of ``commit`` aside (``snapshots/<index>/<commit>``) for
    ``bench/localization_tune.py``, which re-ranks the questions against these copies
    without re-indexing; returns a reopened container that keeps the loaded model."""
    from assistant.container import build

    dest = home.parent.parent / "snapshots" / home.name / commit
    if dest.exists():
        return container
    model = container.embedder
    container.close()
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(home, tmp)
    tmp.rename(dest)
    fresh = build(settings)
    fresh.__dict__["embedder"] = model
    return fresh


def run_repo(repo: str, questions: list[Question], git: Git, args: argparse.Namespace,
             rankers_wanted: set[str], out_log: Any) -> tuple[list[Result], dict[str, Any]]:
    from assistant.container import build
    from assistant.errors import ConfigError
    from assistant.settings import load_settings

    name = short(repo)
    include, exclude = list(args.include), list(args.exclude)
    home = index_home(Path(args.cache), name, include, exclude, args.code_fingerprint)
    if args.fresh and home.exists():
        shutil.rmtree(home)
    settings = load_settings(home=home)
    container = build(settings)
    info: dict[str, Any] = {"commits": 0, "index_s": 0.0, "embedded": 0, "chunks_now": 0,
                            "files_now": 0, "ranker_notes": {}}
    try:
        row = container.catalog.get_source(name)
        opts = row.options or {}
        if opts.get("include") != include or opts.get("exclude", []) != exclude:
            container.catalog.update_source(row.id, options={**opts, "include": include, "exclude": exclude})
        if row.location != str(git.path):
            container.catalog.update_source(row.id, location=str(git.path))
    except ConfigError:
        container.catalog.add_source(name, "git", str(git.path), ref=questions[0].commit,
                                     options={"include": include, "exclude": exclude})
    by_commit: dict[str, list[Question]] = defaultdict(list)
    for q in questions:
        by_commit[git.resolve(q.commit)].append(q)
    commits = sorted(by_commit, key=git.commit_ts)
    bm25 = BM25Files(git)
    embedder = container.embedder
    if not args.no_embed_cache:
        embedder = CachingEmbedder(container.embedder, Path(args.embed_cache))
    results: list[Result] = []
    retr_status = None
    t_repo = time.perf_counter()
    for ci, commit in enumerate(commits, 1):
        if args.time_budget and time.perf_counter() - args.started > args.time_budget:
            log(f"{name}: time budget reached, {len(commits) - ci + 1} commits left unrun")
            info["unrun_commits"] = len(commits) - ci + 1
            break
        hits0 = getattr(embedder, "hits", 0)
        report, wall = index_commit(container, settings, name, commit, embedder)
        model_n = report.embedded - (getattr(embedder, "hits", 0) - hits0)
        info["model_embedded"] = info.get("model_embedded", 0) + model_n
        info["commits"] += 1
        info["index_s"] += wall
        info["embedded"] += report.embedded
        log(f"{name} {ci}/{len(commits)} {commit[:10]} ({datetime.fromtimestamp(git.commit_ts(commit), UTC):%Y-%m-%d}): "
            f"{report.status} seen {report.seen} new {report.new} changed {report.changed} "
            f"deleted {report.deleted} chunks {report.chunks} embedded {report.embedded} "
            f"(model {model_n}, cache {report.embedded - model_n}) in {wall:.1f} s")
        if report.status != "ok":
            log(f"  index error: {report.error}; {len(by_commit[commit])} question(s) at this commit unrun")
            info["failed_commits"] = info.get("failed_commits", 0) + 1
            continue
        source_row = container.catalog.get_source(name)
        docs = container.catalog.documents(source_row.id)
        files = [(d.path, d.content_hash) for d in docs]
        info["files_now"] = len(files)
        info["chunks_now"] = sum(d.chunk_count for d in docs)
        indexed = {p for p, _ in files}
        t0 = time.perf_counter()
        bm25.build(files)
        info.setdefault("bm25_build_s", 0.0)
        info["bm25_build_s"] += time.perf_counter() - t0

        rankers: dict[str, Callable[[str, int], list[str]]] = {}
        if "retriever" in rankers_wanted:
            fn, why = retriever_ranker(container, name, float(git.commit_ts(commit)))
            if fn is not None:
                rankers["retriever"] = fn
                for vname, over in args.variants.items():
                    vfn, vwhy = retriever_ranker(container, name, float(git.commit_ts(commit)), over)
                    if vfn is not None:
                        rankers[f"retriever[{vname}]"] = vfn
                    else:
                        log(f"  variant {vname}: {vwhy}")
            if why != retr_status:
                log(f"  retriever: {why}")
                retr_status = why
            info["ranker_notes"]["retriever"] = why
        if "hybrid" in rankers_wanted:
            rankers["hybrid"] = hybrid_ranker(container, name)
        if "bm25" in rankers_wanted:
            rankers["bm25"] = bm25.rank
        for q in by_commit[commit]:
            res = Result(q)
            for rname, fn in rankers.items():
                t1 = time.perf_counter()
                try:
                    res.ranks[rname] = fn(q.text, 10)
                except Exception as exc:  # noqa: BLE001 — one failing question must not end the run
                    log(f"  {rname} failed on {q.qid}: {type(exc).__name__}: {exc}")
                    if args.verbose:
                        traceback.print_exc()
                    res.ranks[rname] = []
                    info["ranker_notes"][f"{rname}-errors"] = info["ranker_notes"].get(f"{rname}-errors", 0) + 1
                res.seconds[rname] = time.perf_counter() - t1
            results.append(res)
            out_log.write(json.dumps({
                "task": q.task, "id": q.qid, "repo": repo, "commit": commit, "gold": q.gold,
                "gold_indexed": [g for g in q.gold if g in indexed], "dropped": q.dropped,
                "ranks": res.ranks, "seconds": res.seconds,
            }) + "\n")
            out_log.flush()
        if args.snapshots:
            container = snapshot_index(container, settings, home, commit)
        summary = " ".join(
            f"{r}={first_rank(results[-1].ranks.get(r, []), results[-1].q.gold)}" for r in rankers
        ) if by_commit[commit] else ""
        log(f"  ranked {len(by_commit[commit])} question(s) at {commit[:10]} (last: {summary})")
    info["repo_s"] = time.perf_counter() - t_repo
    container.close()
    return results, info


def fmt(x: float) -> str:
    return f"{x:.1f}"


def print_report(all_results: list[Result], infos: dict[str, dict[str, Any]], qa_stats: dict[str, Any],
                 rankers: list[str], args: argparse.Namespace, out: Any = None,
                 from_log: Path | None = None) -> None:
    def print(*a: Any) -> None:  # the whole report goes to ``out``
        builtins.print(*a, file=out or sys.stdout, flush=True)

    print(f"\n## Sourcewise localization benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    if from_log is not None:  # this machine and these arguments are not the run's
        print(f"re-read from {from_log}: machine, file selection, code and settings are the "
              f"original run's (in its output); rankers: {', '.join(rankers)}")
    else:
        print(f"machine: {machine.describe()}; include {list(args.include)}; "
              f"exclude {list(args.exclude)}; rankers: {', '.join(rankers)}; assistant/indexers code "
              f"fingerprint {args.code_fingerprint} ({'snapshot' if not args.live_code else 'live tree'}); "
              f"settings.retrieval overrides per variant: {args.variants}")
    for name, info in infos.items():
        print(f"- {name}: {info['commits']} commit(s) indexed in {info['index_s']:.0f} s "
              f"({info['embedded']} chunks embedded, {info.get('model_embedded', 0)} by the model, the rest from "
              f"the chunk-text cache), last commit {info['files_now']} files / "
              f"{info['chunks_now']} chunks; BM25 build {info.get('bm25_build_s', 0):.1f} s; "
              f"repo wall {info['repo_s']:.0f} s; notes {info['ranker_notes']}"
              + (f"; UNRUN commits {info['unrun_commits']}" if info.get("unrun_commits") else ""))
    loc = [r for r in all_results if r.q.task == "loc"]
    if loc:
        print("\n### SWE-bench Lite localization (dev): file Acc@k and MRR@10, %")
        print("\n| repo | n | ranker | Acc@1 | Acc@3 | Acc@5 | Acc@10 | MRR@10 |")
        print("|---|---:|---|---:|---:|---:|---:|---:|")
        groups = sorted({short(r.q.repo) for r in loc}) + ["**all**"]
        for g in groups:
            rs = loc if g == "**all**" else [r for r in loc if short(r.q.repo) == g]
            for rk in rankers:
                m = loc_metrics(rs, rk)
                print(f"| {g} | {len(rs)} | {rk} | " + " | ".join(fmt(m[c]) for c in
                      ("Acc@1", "Acc@3", "Acc@5", "Acc@10", "MRR@10")) + " |")
    qa = [r for r in all_results if r.q.task == "qa"]
    if qa:
        print("\n### SWE-QA (dev): file Recall@5/10 of cited files, %")
        print("\n| repo | n | gold/q | ranker | R@5 | R@10 |")
        print("|---|---:|---:|---|---:|---:|")
        groups = sorted({short(r.q.repo) for r in qa}) + ["**all**"]
        for g in groups:
            rs = qa if g == "**all**" else [r for r in qa if short(r.q.repo) == g]
            gq = sum(len(r.q.gold) for r in rs) / len(rs)
            for rk in rankers:
                m = qa_metrics(rs, rk)
                print(f"| {g} | {len(rs)} | {gq:.2f} | {rk} | {fmt(m['R@5'])} | {fmt(m['R@10'])} |")
        for name, st in qa_stats.items():
            print(f"- swe-qa {name}: {st['questions']} questions, {st['skipped_no_gold']} skipped (no cited "
                  f"path exists), {st['cited_existing']} existing cited paths kept, "
                  f"{st['cited_dropped']} cited paths dropped (missing at the pinned commit)")
    lat = defaultdict(list)
    for r in all_results:
        for rk, s in r.seconds.items():
            lat[rk].append(s)
    if lat:
        print("\nper-question ranking time (s, p50/p95): " + ", ".join(
            f"{rk} {pct(v, 50):.3f}/{pct(v, 95):.3f}" for rk, v in lat.items()))


def rankers_in(results: list[Result]) -> list[str]:
    seen = list(dict.fromkeys(r for res in results for r in res.ranks))
    return [r for r in seen if any(res.ranks.get(r) for res in results)]


def report_from_log(path: Path, args: argparse.Namespace) -> None:
    """Tables again from a per-question log (a finished run, or one that was killed)."""
    results = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        q = Question(row["task"], row["id"], row["repo"], row["commit"], "", tuple(row["gold"]),
                     tuple(row.get("dropped", ())))
        results.append(Result(q, row["ranks"], row.get("seconds", {})))
    print(f"(from {path}; index and SWE-QA gold statistics are only in the original run's output)")
    print_report(results, {}, {}, rankers_in(results), args, from_log=path)


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    if not v:
        return math.nan
    i = min(len(v) - 1, max(0, math.ceil(p / 100 * len(v)) - 1))
    return v[i]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", default="pytest,sphinx,pylint,astropy",
                        help="short repo names (localization: pytest, sphinx, pylint, astropy; "
                             "SWE-QA also conan, sqlfluff, reflex, streamlink)")
    parser.add_argument("--max-instances", type=int, default=None, help="per repo and task")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--swe-qa-only", action="store_true")
    mode.add_argument("--localization-only", action="store_true")
    parser.add_argument("--cache", default=str(ROOT / "bench" / ".cache" / "localization"))
    parser.add_argument("--mirrors", default="/work/.mirror",
                        help="bare mirrors at MIRRORS/<owner>+<name>/repo (or MIRRORS/<name>.git)")
    parser.add_argument("--include", nargs="+", default=list(DEFAULT_INCLUDE), help="globs to index")
    parser.add_argument("--exclude", nargs="*", default=[], help="gitignore-style patterns not to index")
    parser.add_argument("--embed-cache", default=str(ROOT / "bench" / ".cache" / "embeddings.sqlite"),
                        help="chunk-text vector cache shared by all runs and file selections")
    parser.add_argument("--rankers", default="retriever,hybrid,bm25")
    parser.add_argument("--variants", default=None,
                        help='extra Retriever rankers with settings overrides, for tuning on the dev '
                             'sets: "name:key=val,key=val;name2:key=val"')
    parser.add_argument("--no-embed-cache", action="store_true",
                        help="embed every chunk with the model (no chunk-text vector cache)")
    parser.add_argument("--fresh", action="store_true", help="rebuild this run's indexes from scratch")
    parser.add_argument("--time-budget", type=float, default=None,
                        help="seconds; stop indexing new commits after this (results so far are reported)")
    parser.add_argument("--live-code", action="store_true",
                        help="import assistant/indexers from the work tree instead of a snapshot taken at start")
    parser.add_argument("--report-from", default=None, metavar="JSONL",
                        help="print the tables from a per-question log and exit")
    parser.add_argument("--snapshots", action="store_true",
                        help="copy the index aside after each commit (for bench/localization_tune.py)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    args.started = time.perf_counter()
    args.variants = parse_variants(args.variants)
    if args.report_from:
        args.code_fingerprint = "see the original run"
        report_from_log(Path(args.report_from), args)
        return
    if args.live_code:
        args.code_fingerprint = code_fingerprint()
    else:
        args.code_fingerprint = snapshot_code(Path(args.cache)).name
    import assistant

    log(f"assistant/indexers code from {Path(assistant.__file__).parent.parent} "
        f"(fingerprint {args.code_fingerprint})")

    repos = {r.strip() for r in args.repos.split(",") if r.strip()}
    gits: dict[str, Git | None] = {}

    def git_for(repo: str) -> Git | None:
        if repo not in gits:
            owner, name = repo.split("/")
            cands = [Path(args.mirrors) / f"{owner}+{name}" / "repo", Path(args.mirrors) / f"{name}.git"]
            path = next((c for c in cands if (c / "HEAD").exists()), None)
            if path is None:
                log(f"no mirror for {repo} under {args.mirrors}: skipped (fetch github:{repo})")
            gits[repo] = Git(shared_clone(path, Path(args.cache) / "mirrors" / f"{name}.git")) if path else None
        return gits[repo]

    questions, qa_stats = load_questions(repos, args.max_instances, not args.swe_qa_only,
                                         not args.localization_only, git_for)
    wanted = [r.strip() for r in args.rankers.split(",") if r.strip()]
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    out_path = Path(args.cache) / f"results-{datetime.now():%Y%m%d-%H%M%S}.jsonl"
    log(f"{len(questions)} questions over {len({q.repo for q in questions})} repos; per-question log {out_path}")
    all_results: list[Result] = []
    infos: dict[str, dict[str, Any]] = {}
    by_repo: dict[str, list[Question]] = defaultdict(list)
    for q in questions:
        by_repo[q.repo].append(q)
    order = [r for r in ("pytest-dev/pytest", "pylint-dev/pylint", "sphinx-doc/sphinx", "astropy/astropy")
             if r in by_repo] + sorted(r for r in by_repo if r not in
                                       ("pytest-dev/pytest", "pylint-dev/pylint", "sphinx-doc/sphinx", "astropy/astropy"))
    with out_path.open("w") as out_log:
        for repo in order:
            git = git_for(repo)
            assert git is not None
            log(f"== {repo}: {len(by_repo[repo])} questions")
            results, info = run_repo(repo, by_repo[repo], git, args, set(wanted), out_log)
            all_results += results
            infos[short(repo)] = info
            partial = out_path.with_suffix(".partial.md")
            with partial.open("w") as fh:  # survives a run killed before the end
                print_report(all_results, infos, {k: v for k, v in qa_stats.items() if k in infos},
                             rankers_in(all_results), args, fh)
            log(f"report so far in {partial}")
    print_report(all_results, infos, {k: v for k, v in qa_stats.items() if k in infos},
                 rankers_in(all_results), args)
    print(f"\nwall {time.perf_counter() - args.started:.0f} s; per-question ranks in {out_path}")
    for g in gits.values():
        if g is not None:
            g.close()


if __name__ == "__main__":
    main()
