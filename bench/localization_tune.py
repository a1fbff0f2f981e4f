"""Re-rank the localization questions against per-commit index copies, for tuning.

``bench/localization.py --snapshots`` keeps a copy of each repository's index as of every
base commit it indexed (``<cache>/snapshots/<index>/<commit>``). This script opens those
copies with the *live* ``assistant`` code and ranks every question again, once per
variant (retrieval-settings overrides, as in ``localization.py --variants``), so a
query-side change is measured in seconds instead of an hour of re-indexing. Index-side
changes (new payload fields, other chunks) still need ``localization.py``.

Tune on the dev sets only. Prints numbers; asserts nothing.

    .venv/bin/python bench/localization_tune.py --repos pytest --variants "strong_tests:test_penalty=0.6"
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from localization import KS, Result, first_rank, loc_metrics, qa_metrics
from localization_rankers import parse_variants, retriever_ranker
from localization_tasks import Git, load_questions, shared_clone, short


def snapshot_dirs(cache: Path, name: str) -> dict[str, Path]:
    """commit -> newest snapshot of that commit among ``name``'s indexes."""
    found: dict[str, Path] = {}
    for index in sorted((cache / "snapshots").glob(f"{name}-*"), key=lambda p: p.stat().st_mtime):
        for snap in index.iterdir():
            if snap.is_dir() and not snap.name.endswith(".tmp"):
                found[snap.name] = snap
    return found


class Opened:
    """One snapshot's container at a time (each holds its store's lock), one model for all."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self.container: Any = None
        self.model: Any = None

    def get(self, path: Path) -> Any:
        from assistant.container import build
        from assistant.settings import load_settings

        if path != self.path:
            self.close()
            self.container = build(load_settings(home=path))
            if self.model is not None:
                self.container.__dict__["embedder"] = self.model
            self.model = self.container.embedder
            self.path = path
        return self.container

    def close(self) -> None:
        if self.container is not None:
            self.container.close()
        self.container = self.path = None


_BM25: dict[tuple[str, str], Any] = {}


def bm25_for(container: Any, git: Git, name: str, commit: str) -> Any:
    """BM25 over the snapshot's indexed files (``localization.py``'s baseline), per commit."""
    from localization_rankers import BM25Files

    key = (name, commit)
    if key not in _BM25:
        _BM25.clear()
        row = container.catalog.get_source(name)
        bm = BM25Files(git)
        bm.build([(d.path, d.content_hash) for d in container.catalog.documents(row.id)])
        _BM25[key] = bm
    return _BM25[key]


def fuse(a: list[str], b: list[str], wb: float, k: float) -> list[str]:
    """Reciprocal-rank fusion of two file rankings, ``b`` weighted ``wb``."""
    score: dict[str, float] = defaultdict(float)
    for i, p in enumerate(a, 1):
        score[p] += 1 / (k + i)
    for i, p in enumerate(b, 1):
        score[p] += wb / (k + i)
    return sorted(score, key=lambda p: -score[p])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", default="pytest,sphinx,pylint,astropy")
    parser.add_argument("--cache", default=str(ROOT / "bench" / ".cache" / "localization"))
    parser.add_argument("--mirrors", default="/work/.mirror")
    parser.add_argument("--variants", default=None, help='"name:key=val,...;name2:..." (base is always run)')
    parser.add_argument("--qa", action="store_true", help="SWE-QA questions instead of SWE-bench localization")
    parser.add_argument("--misses", type=int, default=0,
                        help="print the top N files of questions the base ranks below 5")
    args = parser.parse_args()
    cache = Path(args.cache)
    variants = {"base": {}, **parse_variants(args.variants)}
    repos = {r.strip() for r in args.repos.split(",") if r.strip()}
    gits: dict[str, Git] = {}

    def git_for(repo: str) -> Git | None:
        owner, name = repo.split("/")
        src = Path(args.mirrors) / f"{owner}+{name}" / "repo"
        if not (src / "HEAD").exists():
            return None
        if repo not in gits:
            gits[repo] = Git(shared_clone(src, cache / "mirrors" / f"{name}.git"))
        return gits[repo]

    questions, _ = load_questions(repos, None, not args.qa, args.qa, git_for)
    opened = Opened()
    results: dict[str, list[Result]] = defaultdict(list)
    skipped = 0
    t0 = time.perf_counter()
    by_repo: dict[str, list[Any]] = defaultdict(list)
    for q in questions:
        by_repo[q.repo].append(q)
    for repo, qs in sorted(by_repo.items()):
        git = gits[repo]
        snaps = snapshot_dirs(cache, short(repo))
        for q in sorted(qs, key=lambda q: git.resolve(q.commit)):
            commit = git.resolve(q.commit)
            if commit not in snaps:
                skipped += 1
                continue
            container = opened.get(snaps[commit])
            for vname, over in variants.items():
                over = dict(over)
                bm25_w = float(over.pop("_bm25", 0) or 0)
                fuse_k = float(over.pop("_fusek", 10) or 10)
                fn, why = retriever_ranker(container, short(repo), float(git.commit_ts(commit)), over)
                if fn is None:
                    raise SystemExit(f"variant {vname}: {why}")
                res = Result(q)
                ranked = fn(q.text, 100 if bm25_w else 50)  # metrics cut at 10; ranks beyond for reading
                if bm25_w:  # what-if: file-level BM25 fused with the retriever's file ranking
                    ranked = fuse(ranked, bm25_for(container, git, short(repo), commit).rank(q.text, 100),
                                  bm25_w, fuse_k)
                res.ranks[vname] = ranked[:50]
                results[vname].append(res)
    opened.close()
    metric = qa_metrics if args.qa else loc_metrics
    cols = ["R@5", "R@10"] if args.qa else [f"Acc@{k}" for k in KS] + ["MRR@10"]
    print(f"{len(questions) - skipped} questions ranked ({skipped} without a snapshot) "
          f"in {time.perf_counter() - t0:.0f} s")
    print("| variant | repo | n | " + " | ".join(cols) + " |")
    print("|---|---|---:|" + "---:|" * len(cols))
    for vname, rs in results.items():
        for g in sorted({short(r.q.repo) for r in rs}) + ["all"]:
            sub = [r for r in rs if g == "all" or short(r.q.repo) == g]
            m = metric(sub, vname)
            print(f"| {vname} | {g} | {len(sub)} | " + " | ".join(f"{m[c]:.1f}" for c in cols) + " |")
    if not args.qa:
        print("\nfirst gold rank per question in the top 50 (- = not there):")
        names = list(results)
        print("| id | " + " | ".join(names) + " |")
        for i, r in enumerate(results["base"]):
            ranks = [first_rank(results[v][i].ranks[v], r.q.gold) for v in names]
            print(f"| {r.q.qid} | " + " | ".join(str(x) if x else "-" for x in ranks) + " |")
    if args.misses:
        for r in results["base"]:
            fr = first_rank(r.ranks["base"], r.q.gold)
            if fr is None or fr > 5:
                print(f"\n{r.q.qid} gold {list(r.q.gold)} rank {fr}: {r.q.text[:160]!r}")
                for p in r.ranks["base"][: args.misses]:
                    print(f"    {p}")


if __name__ == "__main__":
    main()
