"""Helpers for ``bench/eval_benchmarks.py``: mirrors, benchmark cases as per-commit eval
sets, and scoring of ranked file lists with ``eval.metrics``.

The cases come from the project's own importers (``sourcewise eval import``); this module
only narrows them to what the bench indexes (``--include``), cuts questions to the
retriever's limit, groups them by commit and writes the set files ``eval run`` reads.
"""

from __future__ import annotations

import subprocess
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pathspec

from eval import metrics as m
from eval.cases import EvalCase, load_set
from eval.sets import export_set

# Retriever.rank_files refuses longer questions (assistant/retrieval/query.py); the eval
# runner would then score the case as a miss with an empty ranking. Cut here, for both
# rankers alike, as bench/localization.py does.
MAX_QUESTION_CHARS = 10_000
KS = (1, 3, 5, 10)


# -- mirrors ---------------------------------------------------------------------------------

def git(path: Path, *args: str, timeout: float = 300) -> str:
    return subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True, text=True,
                          timeout=timeout).stdout


def find_mirror(repo: str, mirrors: Path, cache: Path, log: Any) -> Path | None:
    """A bare repository with full history that GitPython opens, for ``owner/name``.

    Order: a ``--shared`` bare clone (kept in ``cache``) of ``mirrors/<owner>+<name>/repo``
    (the fetched mirrors have no ``config`` file, which GitPython needs); an existing
    ``bench/.cache/localization/mirrors/<name>.git``; else ``git clone --mirror`` from
    GitHub into ``cache`` (git-ignored, never committed).
    """
    owner, name = repo.split("/")
    dest = cache / f"{name}.git"
    if (dest / "HEAD").exists() and (dest / "config").exists():
        return dest
    fetched = mirrors / f"{owner}+{name}" / "repo"
    if (fetched / "HEAD").exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--mirror", "--shared", str(fetched), str(dest)], check=True,
                       timeout=600)
        return dest
    other = Path(__file__).resolve().parent / ".cache" / "localization" / "mirrors" / f"{name}.git"
    if (other / "HEAD").exists() and (other / "config").exists():
        return other
    url = f"https://github.com/{repo}.git"
    log(f"no local mirror of {repo}: cloning {url} (full history) into {dest}")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--mirror", url, str(dest)], check=True, timeout=1800)
        return dest
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log(f"cannot fetch {repo}: {exc}; skipped")
        return None


def resolve(mirror: Path, rev: str) -> str | None:
    try:
        return git(mirror, "rev-parse", "--verify", "-q", f"{rev}^{{commit}}").strip()
    except subprocess.CalledProcessError:
        return None


def commit_ts(mirror: Path, commit: str) -> int:
    return int(git(mirror, "show", "-s", "--format=%ct", commit).strip())


# -- cases -----------------------------------------------------------------------------------

@dataclass
class Prepared:
    """One repo's cases for one task, narrowed to the indexed file types, by commit."""

    task: str  # sweqa | swebench
    repo: str
    by_commit: dict[str, list[EvalCase]] = field(default_factory=dict)  # full sha -> cases
    notes: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def cases(self) -> int:
        return sum(len(v) for v in self.by_commit.values())


def include_spec(include: Sequence[str]) -> pathspec.GitIgnoreSpec:
    """The same matcher ``GitSource`` applies to ``--include``."""
    return pathspec.GitIgnoreSpec.from_lines(list(include))


def narrow(cases: Iterable[EvalCase], spec: pathspec.GitIgnoreSpec, stats: dict[str, int],
           notes: list[str]) -> list[EvalCase]:
    """Keep gold the index can hold (``--include``); cut over-long questions.

    A gold file the include globs leave out (``doc/en/how-to.rst`` under ``*.py``) would
    make the runner skip the whole case as "gold path missing"; dropping it keeps the
    rest of the case, and a case left with no gold is not run (both counted).
    """
    out = []
    for case in cases:
        gold = tuple(g for g in case.gold if spec.match_file(g.path))
        stats["gold_files"] += len(case.gold)
        if len(gold) < len(case.gold):
            stats["gold_outside_include"] += len(case.gold) - len(gold)
        if not gold:
            stats["cases_without_indexable_gold"] += 1
            notes.append(f"{case.id}: not run, its gold {[g.path for g in case.gold]} is outside --include")
            continue
        question = case.question
        if len(question) > MAX_QUESTION_CHARS:
            stats["questions_cut"] += 1
            notes.append(f"{case.id}: question cut from {len(question)} to {MAX_QUESTION_CHARS} characters")
            question = question[:MAX_QUESTION_CHARS]
        out.append(replace(case, question=question, gold=gold))
    return out


def prepare(task: str, repo: str, raw_set: Path, mirror: Path, include: Sequence[str],
            max_instances: int | None, import_notes: Sequence[str] = ()) -> Prepared:
    """Cases of ``raw_set`` (written by ``sourcewise eval import``) grouped by full commit sha."""
    prep = Prepared(task, repo, notes=list(import_notes))
    cases = list(load_set(raw_set).cases)
    if max_instances is not None:
        cases = cases[:max_instances]
    prep.stats["imported"] = len(cases)
    prep.stats["import_dropped_paths"] = sum(1 for n in import_notes if ": dropped cited path" in n)
    prep.stats["import_skipped"] = sum(1 for n in import_notes if ": skipped," in n)
    kept = narrow(cases, include_spec(include), prep.stats, prep.notes)
    for case in kept:
        rev = str(case.meta.get("base_commit") or "")
        full = resolve(mirror, rev) if rev else None
        if full is None:
            prep.stats["commit_missing"] += 1
            prep.notes.append(f"{case.id}: commit {rev!r} not in {mirror}; not run")
            continue
        prep.by_commit.setdefault(full, []).append(case)
    return prep


def write_set(cases: Sequence[EvalCase], path: Path) -> Path:
    return export_set(list(cases), path)


# -- scoring ---------------------------------------------------------------------------------

@dataclass
class Scored:
    """One case as both rankers saw it (keys ``source:path``, as the eval runner makes them)."""

    task: str
    repo: str
    commit: str
    case_id: str
    gold: tuple[str, ...]
    ranked: dict[str, list[str]]  # ranker -> top files
    error: str | None = None


def metrics_for(rows: Sequence[Scored], ranker: str) -> dict[str, float]:
    """Acc@k, MRR@10 and Recall@5/10 (x100) with ``eval.metrics``, over cases with gold."""
    rows = [r for r in rows if r.gold]
    n = len(rows)
    out: dict[str, float] = {"n": n}
    if not n:
        return out
    for k in KS:
        out[f"Acc@{k}"] = 100 * sum(m.hit_at_k(r.ranked[ranker], r.gold, k) for r in rows) / n
    out["MRR@10"] = 100 * sum(m.reciprocal_rank(r.ranked[ranker], r.gold, 10) for r in rows) / n
    for k in (5, 10):
        out[f"Recall@{k}"] = 100 * sum(m.recall_at_k(r.ranked[ranker], r.gold, k) for r in rows) / n
    return out


def first_rank(ranked: Sequence[str], gold: Iterable[str]) -> int | None:
    g = set(gold)
    return next((i for i, p in enumerate(ranked, 1) if p in g), None)


def group_cases(prepared: Iterable[Prepared]) -> dict[str, dict[str, list[EvalCase]]]:
    """commit -> task -> cases, over the tasks of one repo."""
    out: dict[str, dict[str, list[EvalCase]]] = defaultdict(dict)
    for prep in prepared:
        for commit, cases in prep.by_commit.items():
            out[commit][prep.task] = cases
    return out
