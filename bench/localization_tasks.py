"""Benchmark tasks for ``bench/localization.py``: questions, gold files, bare-mirror reads.

SWE-bench Lite localization rows give gold files directly; SWE-QA gold files are the
repository paths cited in a reference answer that exist at the pinned commit (checked
with ``git cat-file``), cited paths that do not exist are dropped, not counted as misses.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(os.environ.get("SOURCEWISE_BENCHMARKS", Path(__file__).resolve().parents[2] / "shared" / "benchmarks"))
LOC_FILE = "swebench-lite-localization-dev.jsonl"


@dataclass
class Question:
    task: str  # loc | qa
    qid: str
    repo: str  # owner/name
    commit: str
    text: str
    gold: tuple[str, ...]
    dropped: tuple[str, ...] = ()  # cited paths that do not exist at the commit (qa only)


def short(repo: str) -> str:
    return repo.split("/")[-1]


class Git:
    """A bare mirror read through ``git`` subprocesses (batch cat-file for blobs)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._batch: subprocess.Popen[bytes] | None = None
        self._check: subprocess.Popen[bytes] | None = None

    def run(self, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.path), *args], check=True,
                              capture_output=True, text=True).stdout

    def resolve(self, rev: str) -> str:
        return self.run("rev-parse", f"{rev}^{{commit}}").strip()

    def commit_ts(self, commit: str) -> int:
        return int(self.run("show", "-s", "--format=%ct", commit).strip())

    def blob_type(self, spec: str) -> str | None:
        """``blob``/``tree``/... for ``COMMIT:path``, ``None`` when it does not exist."""
        if self._check is None:
            self._check = subprocess.Popen(["git", "-C", str(self.path), "cat-file", "--batch-check"],
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._check.stdin and self._check.stdout
        self._check.stdin.write(spec.encode() + b"\n")
        self._check.stdin.flush()
        line = self._check.stdout.readline().decode().split()
        return line[1] if len(line) >= 2 and line[-1] != "missing" else None

    def blob(self, sha: str) -> bytes:
        if self._batch is None:
            self._batch = subprocess.Popen(["git", "-C", str(self.path), "cat-file", "--batch"],
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._batch.stdin and self._batch.stdout
        self._batch.stdin.write(sha.encode() + b"\n")
        self._batch.stdin.flush()
        header = self._batch.stdout.readline().split()
        if len(header) < 3:
            return b""
        size = int(header[2])
        data = self._batch.stdout.read(size)
        self._batch.stdout.read(1)
        return data

    def close(self) -> None:
        for proc in (self._batch, self._check):
            if proc is not None:
                proc.stdin.close()  # type: ignore[union-attr]
                proc.wait()


def shared_clone(src: Path, dest: Path) -> Path:
    """A bare clone borrowing ``src``'s objects (``--shared``): no copy, and a real ``config``.

    The fetched mirrors have no ``config`` file, so GitPython takes them for work trees
    (``core.bare`` unset) and fails; a shared clone costs a few MB of refs.
    """
    if not (dest / "HEAD").exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--mirror", "--shared", str(src), str(dest)], check=True)
    return dest


_CITED = re.compile(r"[A-Za-z0-9_][\w\-./]*\.[A-Za-z0-9_]+")


def cited_paths(answer: str) -> list[str]:
    """Path-looking tokens of an answer, in order, without duplicates (existence checked later)."""
    out: dict[str, None] = {}
    for m in _CITED.finditer(answer):
        token = m.group(0).rstrip(".").lstrip("./")
        if "/" in token or re.search(r"\.(py|pyi|rst|md|txt|cfg|toml|ini|ya?ml|json)$", token):
            out[token] = None
    return list(out)


def load_questions(repos: set[str], max_instances: int | None, loc: bool, qa: bool,
                   git_for: Callable[[str], Git | None]) -> tuple[list[Question], dict[str, Any]]:
    questions: list[Question] = []
    stats: dict[str, Any] = defaultdict(lambda: defaultdict(int))
    if loc:
        per_repo: dict[str, int] = defaultdict(int)
        for line in (BENCH_DIR / LOC_FILE).read_text().splitlines():
            row = json.loads(line)
            repo = row["repo"]
            if short(repo) not in repos or git_for(repo) is None:
                continue
            if max_instances is not None and per_repo[repo] >= max_instances:
                continue
            per_repo[repo] += 1
            questions.append(Question("loc", row["instance_id"], repo, row["base_commit"],
                                      row["question"], tuple(row["gold_files"])))
    if qa:
        pins = {}
        for line in (BENCH_DIR / "swe-qa" / "repo_commit.txt").read_text().splitlines():
            if line.strip():
                url, commit = line.split()
                pins[url.split("github.com/")[1].strip("/")] = commit
        for repo, commit in sorted(pins.items()):
            g = git_for(repo) if short(repo) in repos else None
            if g is None:
                continue
            try:
                full = g.resolve(commit)
            except subprocess.CalledProcessError:
                stats[short(repo)]["missing_commit"] = 1  # reported; the other repos still run
                print(f"swe-qa {repo}: pinned commit {commit} is not in the mirror; skipped", flush=True)
                continue
            rows = [json.loads(x) for x in (BENCH_DIR / "swe-qa" / f"{short(repo)}.jsonl").read_text().splitlines() if x.strip()]
            kept = 0
            for i, row in enumerate(rows):
                if max_instances is not None and kept >= max_instances:
                    break
                cited = cited_paths(row.get("answer", ""))
                gold = tuple(p for p in cited if g.blob_type(f"{full}:{p}") == "blob")
                dropped = tuple(p for p in cited if p not in gold and "/" in p)
                st = stats[short(repo)]
                st["questions"] += 1
                st["cited_existing"] += len(gold)
                st["cited_dropped"] += len(dropped)
                if not gold:
                    st["skipped_no_gold"] += 1
                    continue
                kept += 1
                questions.append(Question("qa", f"{short(repo)}-qa-{i}", repo, full, row["question"],
                                          gold, dropped))
    return questions, stats
