"""Per-file freshness from one pass over git history, updated incrementally.

``git log --name-only`` lists, newest first, the paths each commit touched; the first
time a path appears is the last commit that touched it. A later run on a descendant
commit only walks the new commits (``old..new``); anything else recomputes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import git

_MARK = "\x1e"
_SEP = "\x1f"


@dataclass(frozen=True)
class FileVersion:
    commit: str
    committed_at: datetime
    author: str | None


@dataclass
class History:
    """Last touching commit per path, valid for the history reachable from ``commit``."""

    commit: str
    files: dict[str, FileVersion] = field(default_factory=dict)
    walked: int = 0  # commits read to build this (for the run report)


def _walk(repo: git.Repo, rev_range: str, into: dict[str, FileVersion]) -> int:
    """Add first-seen paths from ``git log rev_range`` to ``into``; returns commits read."""
    fmt = f"{_MARK}%H{_SEP}%ct{_SEP}%an <%ae>"
    # -z prints paths verbatim (no C-quoting), NUL-terminated.
    proc = repo.git.log(rev_range, "--name-only", "--no-renames", f"--format={fmt}", "-z", as_process=True)
    commits = 0
    current: FileVersion | None = None
    buf = b""
    stream = proc.proc.stdout
    try:
        while True:
            data = stream.read(1 << 16)
            if not data:
                break
            buf += data
            *records, buf = buf.split(b"\0")
            for record in records:
                current, commits = _consume(record, current, into, commits)
        if buf:
            current, commits = _consume(buf, current, into, commits)
    finally:
        proc.proc.wait()
    return commits


def _consume(
    record: bytes, current: FileVersion | None, into: dict[str, FileVersion], commits: int
) -> tuple[FileVersion | None, int]:
    text = record.decode("utf-8", "surrogateescape").lstrip("\n")
    if not text:
        return current, commits
    if text.startswith(_MARK):
        header, _, first_path = text[1:].partition("\n")
        sha, ts, author = header.split(_SEP, 2)
        current = FileVersion(sha, datetime.fromtimestamp(int(ts), UTC), author)
        commits += 1
        text = first_path
        if not text:
            return current, commits
    if current is not None and text not in into:
        into[text] = current
    return current, commits


def update_history(repo: git.Repo, commit: str, prior: History | None) -> History:
    """History for ``commit``, reusing ``prior`` when ``commit`` descends from it."""
    if prior is not None and prior.commit == commit:
        return History(commit, dict(prior.files), 0)
    if prior is not None and prior.files and _is_ancestor(repo, prior.commit, commit):
        newer: dict[str, FileVersion] = {}
        walked = _walk(repo, f"{prior.commit}..{commit}", newer)
        files = dict(prior.files)
        files.update(newer)
        return History(commit, files, walked)
    files: dict[str, FileVersion] = {}
    walked = _walk(repo, commit, files)
    return History(commit, files, walked)


def _is_ancestor(repo: git.Repo, older: str, newer: str) -> bool:
    try:
        repo.git.merge_base("--is-ancestor", older, newer)
        return True
    except git.GitCommandError:
        return False
