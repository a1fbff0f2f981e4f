"""Git reads the staleness detector needs: trees and blobs at any commit, one file's
history between two commits, renames, the commit that names a change, and its hunk.

Read-only on the source's repository (a checkout, a bare repo, or the mirror a clone URL
was fetched into by the last index run; never fetched here), with small caches because
one detection run asks about the same commits and blobs many times.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import git

from indexers.sources.git import MISSING, is_clone_url, list_tree
from indexers.sources.text import decode_text

MAX_BLOB_BYTES = 2_000_000
MAX_HUNK_LINES = 40
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author: str
    date: str  # ISO 8601, committer date
    subject: str

    def as_json(self) -> dict[str, str]:
        return {"commit": self.sha, "author": self.author, "date": self.date, "subject": self.subject}


@dataclass(frozen=True)
class FileChange:
    """One commit in a file's history: the file's blob after it (``None``: gone)."""

    commit: str
    blob: str | None


def source_repo(row: Any, repos_dir: Path) -> git.Repo | None:
    """The repository behind a source row, or ``None`` for sources without one (a docs
    directory outside git, a MediaWiki or Confluence export)."""
    from indexers.sources.factory import enclosing_checkout

    opts = row.options or {}
    try:
        if row.kind == "git" or (row.kind == "wiki" and opts.get("format") == "git"):
            if is_clone_url(row.location):
                mirror = repos_dir / f"{row.name}.git"
                return git.Repo(mirror) if (mirror / "HEAD").exists() else None
            return git.Repo(Path(row.location).expanduser())
        if row.kind == "docs":
            inside = enclosing_checkout(Path(row.location))
            return git.Repo(inside[0]) if inside else None
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, OSError):
        return None
    return None


class GitReader:
    """Cached reads of one repository."""

    def __init__(self, repo: git.Repo) -> None:
        self.repo = repo
        self._trees: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._sizes: dict[str, int] = {}
        self._texts: OrderedDict[str, str | None] = OrderedDict()
        self._info: dict[str, CommitInfo] = {}

    # -- trees and blobs ---------------------------------------------------------------
    def tree(self, commit: str) -> dict[str, str]:
        """path -> blob sha of every file at ``commit`` (submodules and unreadable blobs left out)."""
        if commit in self._trees:
            self._trees.move_to_end(commit)
            return self._trees[commit]
        files = {}
        for e in list_tree(self.repo, commit):
            if e.kind == "blob" and e.size != MISSING and e.mode != "120000":
                files[e.path] = e.sha
                self._sizes[e.sha] = e.size
        self._trees[commit] = files
        if len(self._trees) > 64:
            self._trees.popitem(last=False)
        return files

    def text(self, blob: str) -> str | None:
        """A blob's text (``None`` when binary, too large or unreadable)."""
        if blob in self._texts:
            self._texts.move_to_end(blob)
            return self._texts[blob]
        try:
            data = self.repo.odb.stream(bytes.fromhex(blob)).read()
            text: str | None = decode_text(data, MAX_BLOB_BYTES)
        except Exception:  # noqa: BLE001 - binary, too large or missing: no text to check
            text = None
        self._texts[blob] = text
        if len(self._texts) > 512:
            self._texts.popitem(last=False)
        return text

    def blob_at(self, commit: str, path: str) -> str | None:
        return self.tree(commit).get(path)

    # -- commits -----------------------------------------------------------------------
    def commit_before(self, ref: str, when: datetime) -> str | None:
        """The last commit reachable from ``ref`` committed at or before ``when``."""
        out = self.repo.git.rev_list("-1", f"--before={int(when.timestamp())}", ref)
        return out.strip() or None

    def is_ancestor(self, older: str, newer: str) -> bool:
        try:
            self.repo.git.merge_base("--is-ancestor", older, newer)
            return True
        except git.GitCommandError:
            return False

    def info(self, sha: str) -> CommitInfo:
        if sha not in self._info:
            out = self.repo.git.show("-s", "--format=%H%x1f%an <%ae>%x1f%cI%x1f%s", sha)
            full, author, date, subject = (out.split("\x1f") + ["", "", ""])[:4]
            self._info[sha] = CommitInfo(full, author, date, subject[:200])
        return self._info[sha]

    def file_log(self, start: str, end: str, path: str, limit: int) -> list[FileChange]:
        """Commits in ``start..end`` that touched ``path``, oldest first, with the file's
        blob after each (``None`` when the commit deleted or renamed it away)."""
        if start == end:
            return []
        out = self.repo.git.log(
            "--reverse", "--no-renames", "--raw", "--no-abbrev", "--format=%x1e%H",
            f"{start}..{end}", "--", path)
        changes: list[FileChange] = []
        for record in out.split("\x1e")[1:]:
            lines = record.strip().splitlines()
            if not lines:
                continue
            sha, found, blob = lines[0].strip(), False, None
            for line in lines[1:]:
                if not line.startswith(":") or "\t" not in line:
                    continue
                meta, name = line.split("\t", 1)
                if name != path:
                    continue
                fields = meta.split()
                found, blob = True, None if fields[4].startswith("D") else fields[3]
            if not found:
                continue  # a merge (git prints no diff for it): the change is in a commit it merged
            changes.append(FileChange(sha, blob))
            if len(changes) >= limit:
                break
        return changes

    def renamed_to(self, commit: str, path: str) -> str | None:
        """Where ``commit`` moved ``path`` (git's rename detection against its first parent)."""
        parents = self.repo.git.rev_list("--parents", "-n", "1", commit).split()
        if len(parents) < 2:
            return None
        try:
            out = self.repo.git.diff("-M", "--name-status", "--diff-filter=R", "-z", parents[1], commit)
        except git.GitCommandError:  # a blob missing from a partial clone: no rename known
            return None
        fields = out.split("\0")
        i = 0
        while i + 2 < len(fields):
            status, old, new = fields[i], fields[i + 1], fields[i + 2]
            if status.startswith("R") and old == path:
                return new
            i += 3
        return None

    def hunk(self, commit: str, old_path: str, new_path: str | None, old_line: int | None) -> str:
        """The diff hunk of ``commit`` around ``old_line`` of ``old_path`` (the whole first
        hunk when the line is unknown), clipped to ``MAX_HUNK_LINES`` lines."""
        parents = self.repo.git.rev_list("--parents", "-n", "1", commit).split()
        if len(parents) < 2:
            return ""
        paths = [old_path] + ([new_path] if new_path and new_path != old_path else [])
        try:
            diff = self.repo.git.diff("-M", "-U3", "--no-color", parents[1], commit, "--", *paths)
        except git.GitCommandError:
            return ""
        return pick_hunk(diff, old_line)

    def parent(self, commit: str) -> str | None:
        """The first parent (``None`` for a root commit)."""
        try:
            return self.repo.git.rev_parse("--verify", "-q", f"{commit}^") or None
        except git.GitCommandError:
            return None

    def added_or_modified(self, commit: str) -> list[str]:
        """Paths a commit added or modified against its first parent (none for a merge)."""
        try:
            out = self.repo.git.diff_tree("-r", "--no-commit-id", "--name-only", "-z", "--no-renames",
                                          "--diff-filter=AM", "--root", commit)
        except git.GitCommandError:
            return []
        return [p for p in out.split("\0") if p]

    def changed_paths(self, base: str, head: str) -> set[str]:
        """Paths changed on ``head``'s side since it forked from ``base`` (``base...head``)."""
        if base.startswith("-") or not base.strip():
            raise ValueError(f"not a git revision: {base!r}")
        out = self.repo.git.diff("--name-only", "--no-renames", "-z", f"{base}...{head}")
        return {p for p in out.split("\0") if p}


def pick_hunk(diff: str, old_line: int | None) -> str:
    """The hunk whose old range holds ``old_line`` (else the first), headers dropped."""
    hunks: list[tuple[int, int, list[str]]] = []
    for line in diff.splitlines():
        m = _HUNK.match(line)
        if m:
            start, count = int(m.group(1)), int(m.group(2) or 1)
            hunks.append((start, count, [line]))
        elif hunks and not line.startswith(("diff --git", "index ", "--- ", "+++ ", "similarity", "rename ")):
            hunks[-1][2].append(line)
    if not hunks:
        return ""
    chosen = hunks[0]
    if old_line is not None:
        for h in hunks:
            if h[0] <= old_line <= h[0] + max(h[1], 1):
                chosen = h
                break
    lines = chosen[2]
    if len(lines) > MAX_HUNK_LINES:
        lines = lines[:MAX_HUNK_LINES] + [f"... ({len(chosen[2]) - MAX_HUNK_LINES} more lines)"]
    return "\n".join(lines)
