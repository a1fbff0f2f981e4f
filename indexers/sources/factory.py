"""Build the ``Source`` object for a catalog source row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import git

from assistant.catalog.repo import Catalog
from assistant.catalog.schema import SourceRow
from assistant.errors import ConfigError, SourceError
from assistant.models import Document, ItemFailure
from assistant.settings import Settings
from indexers.sources.base import Source
from indexers.sources.docs import LANGUAGES as DOC_EXTENSIONS
from indexers.sources.docs import DocsSource
from indexers.sources.fetch_guard import FetchPolicy
from indexers.sources.git import GitSource, is_clone_url
from indexers.sources.git_history import FileVersion, History
from indexers.sources.locations import check_local_path, door_of, roots_for
from indexers.sources.wiki import ConfluenceSource, MediaWikiSource

WIKI_FORMATS = ("git", "mediawiki", "confluence")


def detect_wiki_format(path: str) -> str:
    """``git`` for a repo or clone URL, ``mediawiki`` for an XML export, else ``confluence``."""
    p = Path(path).expanduser()
    if p.is_file() and p.suffix.lower() == ".xml":
        return "mediawiki"
    if p.is_file() and p.suffix.lower() == ".zip":
        return "confluence"
    if p.is_dir() and not ((p / ".git").exists() or (p / "HEAD").is_file()):
        return "confluence"
    return "git"


class RefusedSource:
    """A source whose location is no longer allowed: its scan fails with the reason, so the
    run is recorded as failed (and other sources still index) instead of reading it."""

    def __init__(self, name: str, reason: str) -> None:
        self.name, self._reason = name, reason

    @property
    def version(self) -> str:
        return ""

    def scan(self) -> Iterator[Document | ItemFailure]:
        raise SourceError(self._reason)


def make_source(row: SourceRow, settings: Settings, catalog: Catalog) -> Source:
    """The source for a catalog row, its location checked again (paths resolve anew, URLs are
    checked by ``GitSource`` before each fetch)."""
    opts = row.options or {}
    is_git = row.kind == "git" or (row.kind == "wiki" and opts.get("format") == "git")
    if not is_clone_url(row.location):
        try:
            check_local_path(row.location, home=settings.home, roots=roots_for(settings, door_of(opts)), git=is_git)
        except ConfigError as exc:
            return RefusedSource(row.name, f"source {row.name}: {exc}")
    policy = FetchPolicy.from_settings(settings.indexing)
    include, exclude = opts.get("include", []), opts.get("exclude", [])
    max_bytes = settings.indexing.max_file_bytes
    wiki_format = opts.get("format")
    if row.kind == "git" or (row.kind == "wiki" and wiki_format == "git"):
        return GitSource(
            row.name, row.location, ref=row.ref,
            mirror_dir=settings.repos_dir / f"{row.name}.git",
            include=include, exclude=exclude, max_bytes=max_bytes,
            history=_history(row, catalog), wiki=row.kind == "wiki",
            browse_url=opts.get("browse_url"), fetch_policy=policy,
        )
    if row.kind == "docs" and (inside := enclosing_checkout(Path(row.location))):
        # Committed docs in a checkout: freshness from git history, not checkout mtimes.
        top, rel = inside
        prefix = "" if rel == "." else f"{rel}/"
        patterns = [f"{prefix}{g}" for g in include] or [f"{prefix}**/*{ext}" for ext in DOC_EXTENSIONS]
        return GitSource(
            row.name, str(top), mirror_dir=settings.repos_dir / f"{row.name}.git",
            include=patterns, exclude=[f"{prefix}{g}" for g in exclude], max_bytes=max_bytes,
            history=_history(row, catalog), browse_url=opts.get("browse_url"), fetch_policy=policy,
        )
    if row.kind == "docs":
        return DocsSource(row.name, Path(row.location), include=include, exclude=exclude,
                          max_bytes=max_bytes, base_url=opts.get("browse_url"))
    if row.kind == "wiki" and wiki_format == "mediawiki":
        return MediaWikiSource(row.name, Path(row.location), base_url=opts.get("browse_url"))
    if row.kind == "wiki" and wiki_format == "confluence":
        return ConfluenceSource(row.name, Path(row.location), base_url=opts.get("browse_url"))
    raise ConfigError(f"source {row.name!r} has unknown kind {row.kind!r}/{wiki_format!r}")


def _history(row: SourceRow, catalog: Catalog) -> History | None:
    commit = (row.options or {}).get("history_commit")
    if not commit:
        return None
    files = {
        h.path: FileVersion(h.commit, h.committed_at, h.author) for h in catalog.load_history(row.id)
    }
    return History(commit, files)


def enclosing_checkout(path: Path) -> tuple[Path, str] | None:
    """The work tree a directory lives in and its repo-relative path, or ``None``."""
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    if repo.bare or not repo.working_tree_dir or not repo.head.is_valid():
        return None
    top = Path(repo.working_tree_dir).resolve()
    return top, path.resolve().relative_to(top).as_posix()
