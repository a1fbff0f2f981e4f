"""Benchmark rows to ``EvalCase``s (origin ``benchmark``), so public benchmarks run through
the same runner, metrics and reports as curated and feedback cases.

- SWE-bench Lite localization (``/work/shared/benchmarks/swebench-lite-localization-dev.jsonl``):
  the issue text is the question; the files its merged fix edited are the gold.
- SWE-QA-Bench (``swe-qa/<repo>.jsonl``): gold files are the repository paths cited in the
  reference answer that exist at the pinned commit. Cited paths that do not exist are
  dropped and reported, never counted as misses (a reference answer may cite a file that
  moved or was invented); a question left with no gold is skipped and reported.

The path extraction follows ``bench/localization_tasks.py`` (``cited_paths``), so the two
agree on the gold files; it also ignores URLs, which that version read as paths.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

from eval.cases import EvalCase, EvalFormatError, Gold

SWEBENCH_TAG = "swebench"
SWEQA_TAG = "swe-qa"


def repo_short_name(repo: str) -> str:
    """``pytest-dev/pytest`` -> ``pytest``: the default Sourcewise source name for a GitHub repo."""
    return repo.rstrip("/").split("/")[-1]


def _rows(path: Path, required: Collection[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) for each non-blank JSONL line; a broken line names file and line."""
    path = Path(path)
    if not path.is_file():
        raise EvalFormatError(f"{path}: no such benchmark file")
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalFormatError(f"{path}:{n}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict):
            raise EvalFormatError(f"{path}:{n}: expected a JSON object")
        missing = [f for f in required if not row.get(f)]
        if missing:
            raise EvalFormatError(f"{path}:{n}: missing field(s) {missing}")
        yield n, row


# -- SWE-bench Lite localization -----------------------------------------------------------

def import_swebench(path: Path, *, repos: Collection[str] | None = None,
                    source_name: Callable[[str], str] = repo_short_name) -> list[EvalCase]:
    """One case per row: id = ``instance_id``, gold = ``gold_files`` in ``source_name(repo)``.

    ``repos`` keeps only rows of those repositories (``owner/name`` or the short name).
    Each case is filtered to its own source (``filters.repos``), tagged with the repo's short
    name and ``swebench``, and keeps ``repo`` and ``base_commit`` in ``meta``: the gold is
    only right at that commit, so the source must be indexed there (``--ref``).
    """
    wanted = None if repos is None else {r.strip("/") for r in repos}
    cases: list[EvalCase] = []
    for n, row in _rows(path, ("instance_id", "repo", "question", "gold_files")):
        repo = str(row["repo"])
        if wanted is not None and repo not in wanted and repo_short_name(repo) not in wanted:
            continue
        gold_files = row["gold_files"]
        if not isinstance(gold_files, list) or not all(isinstance(g, str) and g.strip() for g in gold_files):
            raise EvalFormatError(f"{path}:{n}: field 'gold_files' must be a list of paths")
        source = source_name(repo)
        cases.append(EvalCase(
            id=str(row["instance_id"]), question=str(row["question"]).strip(),
            gold=tuple(Gold(g.strip().lstrip("/"), source) for g in dict.fromkeys(gold_files)),
            tags=(repo_short_name(repo), SWEBENCH_TAG), origin="benchmark",
            filters={"repos": (source,)},
            meta={"benchmark": "swebench-lite-localization", "repo": repo,
                  "base_commit": row.get("base_commit")},
        ))
    return cases


# -- SWE-QA-Bench --------------------------------------------------------------------------

_URL = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+")
_CITED = re.compile(r"\.?[A-Za-z0-9_][\w\-./]*\.[A-Za-z0-9_]+")
_DOC_EXT = re.compile(r"\.(py|pyi|pyx|rst|md|txt|cfg|toml|ini|ya?ml|json|js|ts|tsx|jsx|html|css)$")


def cited_paths(answer: str) -> list[str]:
    """Path-looking tokens of an answer, in order, without duplicates (existence is checked later).

    A token counts when it has a ``/`` or a source/doc extension (``iers.py``, ``tox.ini``);
    dotted names (``self.expires``, ``os.path``) and URLs do not.
    """
    out: dict[str, None] = {}
    for m in _CITED.finditer(_URL.sub(" ", answer)):
        token = m.group(0).rstrip(".").removeprefix("./")
        if "/" in token or _DOC_EXT.search(token):
            out[token] = None
    return list(out)


def _resolve(cited: str, paths: Collection[str]) -> str | None:
    """The one repository path ``cited`` is a trailing part of (``iers.py`` ->
    ``astropy/utils/iers/iers.py``), or None when there is none or several."""
    suffix = "/" + cited.lstrip("/")
    found = [p for p in paths if p.endswith(suffix)]
    return found[0] if len(found) == 1 else None


def import_sweqa(path: Path, *, repo: str, path_exists: Callable[[str], bool], source_name: str,
                 paths: Collection[str] | None = None, commit: str | None = None,
                 ) -> tuple[list[EvalCase], list[str]]:
    """Cases from one SWE-QA repository file, and a report of what was dropped or skipped.

    Gold = the paths ``cited_paths`` finds in ``answer`` for which ``path_exists(path)`` is
    true at the pinned commit. A cited path with a ``/`` that does not exist is dropped and
    reported; a bare file name that does not exist is ignored (it is often just a word,
    ``setup.py``), as in ``bench/localization_tasks.py``. With ``paths`` (every file at the
    commit), a cited path that is not a repository path is resolved to the single path it
    is a suffix of — off by default so the gold matches the bench's.

    Ids are ``<repo short name>-qa-<row index from 0>``, as the bench prints them.
    """
    short = repo_short_name(repo)
    cases: list[EvalCase] = []
    report: list[str] = []
    index = -1
    for _n, row in _rows(path, ("question",)):
        index += 1
        case_id = f"{short}-qa-{index}"
        answer = str(row.get("answer") or "")
        gold: dict[str, None] = {}
        dropped: list[str] = []
        for cited in cited_paths(answer):
            if path_exists(cited):
                gold[cited] = None
                continue
            resolved = _resolve(cited, paths) if paths is not None else None
            if resolved is not None:
                gold[resolved] = None
            elif "/" in cited:
                dropped.append(cited)
        for cited in dropped:
            report.append(f"{case_id}: dropped cited path {cited!r} (not in {repo} at the pinned commit)")
        if not gold:
            report.append(f"{case_id}: skipped, no cited path exists in {repo} at the pinned commit")
            continue
        meta: dict[str, Any] = {"benchmark": "swe-qa", "repo": repo, "reference_answer": answer}
        if commit:
            meta["base_commit"] = commit
        if dropped:
            meta["dropped_paths"] = dropped
        cases.append(EvalCase(
            id=case_id, question=str(row["question"]).strip(),
            gold=tuple(Gold(p, source_name) for p in gold), tags=(short, SWEQA_TAG),
            origin="benchmark", filters={"repos": (source_name,)}, meta=meta,
        ))
    return cases, report


def read_sweqa_pins(path: Path) -> dict[str, str]:
    """``repo_commit.txt`` (``https://github.com/owner/name COMMIT`` per line) -> {owner/name: commit}."""
    pins: dict[str, str] = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise EvalFormatError(f"{path}:{n}: expected 'URL COMMIT'")
        url, commit = parts
        pins[url.split("github.com/")[-1].strip("/").removesuffix(".git")] = commit
    return pins


def git_paths(git_dir: Path, commit: str) -> frozenset[str]:
    """Every file path at ``commit`` of a git repository (bare or not): a ready ``path_exists``
    (``git_paths(d, c).__contains__``) and the ``paths`` for suffix resolution."""
    try:
        out = subprocess.run(["git", "-C", str(git_dir), "ls-tree", "-r", "-z", "--name-only", commit],
                             check=True, capture_output=True).stdout
    except subprocess.CalledProcessError as exc:
        raise EvalFormatError(f"{git_dir}: cannot list files at {commit}: "
                              f"{exc.stderr.decode(errors='replace').strip()}") from None
    return frozenset(p for p in out.decode("utf-8", errors="surrogateescape").split("\0") if p)
