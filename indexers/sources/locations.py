"""Where a source may live, checked when it is added (so nothing unusable or forbidden
reaches the catalog) and again before every scan (a symlink or DNS answer can change).

Local paths resolve symlinks and ``..`` first, and are never the data directory
(``settings.home``: the catalog, the index, the secret key, other sources' mirrors), a
directory inside it or one of its parents. The admin pages (``door="web"``) may add them
only under ``indexing.allowed_roots``; the CLI (``door="cli"``) acts as a local admin
and may add any path its user can read. Clone URLs go through ``fetch_guard`` from
every door alike, because the server fetches them either way.

When git refuses, its own reason is shown (an unreachable host, failed authentication,
"detected dubious ownership" for a repository owned by another user), not a guess.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import git

from assistant.errors import ConfigError, SourceError
from assistant.settings import Settings
from indexers.sources.fetch_guard import FetchPolicy, Resolver, check_url, git_env, looks_like_url
from indexers.sources.git import git_reason

Door = Literal["cli", "web"]
LS_REMOTE_TIMEOUT_S = 60
_HEX = re.compile(r"^[0-9a-f]{7,64}$")


def check_local_path(location: str, *, home: Path, roots: list[Path] | None, git: bool = False) -> Path:
    """``location`` resolved (symlinks, ``..``), if it may be indexed; ``ConfigError`` if not.

    ``roots=None``: anywhere but the data directory (the CLI); a list: only under one of
    them (the admin pages; an empty list allows no local path at all). A directory that
    contains the data directory is refused too, except a git repository (``git=True``):
    only its committed objects are read, never its work tree, which is how ``make run``
    indexes the checkout that holds ``.sourcewise``.
    """
    path = Path(location).expanduser()
    if not path.is_absolute():
        raise ConfigError(f"{location}: give an absolute path")
    resolved = path.resolve()
    data = Path(home).expanduser().resolve()
    if resolved == data or data in resolved.parents:
        raise ConfigError(f"{location} is inside the data directory ({data}); sources cannot be read from there")
    if resolved in data.parents and not git:
        raise ConfigError(f"{location} contains the data directory ({data}); give the directory of the source itself")
    if roots is not None:
        allowed = [Path(r).expanduser().resolve() for r in roots]
        if not allowed:
            raise ConfigError(f"{location}: the admin pages add local paths only under "
                              "SOURCEWISE_INDEXING__ALLOWED_ROOTS, and none is set; set it, give a clone URL, "
                              "or add the source with `sourcewise source add` on the server")
        if not any(resolved == r or r in resolved.parents for r in allowed):
            shown = ", ".join(str(r) for r in allowed)
            raise ConfigError(f"{location} is outside the allowed roots ({shown}); "
                              "SOURCEWISE_INDEXING__ALLOWED_ROOTS lists where local sources may live")
    return resolved


def roots_for(settings: Settings, door: Door) -> list[Path] | None:
    return None if door == "cli" else list(settings.indexing.allowed_roots)


def validate_location(settings: Settings, kind: str, location: str, ref: str | None, *, door: Door,
                      wiki_format: str | None = None, resolver: Resolver | None = None) -> str:
    """The location to store (a resolved path or the URL) once it is allowed, exists, and,
    for git, is a repository whose ``ref`` (or HEAD) resolves. Raises with the reason."""
    if ref is not None and ref.startswith("-"):
        raise ConfigError(f"ref {ref!r}: a ref cannot start with '-'")
    is_git = kind == "git" or (kind == "wiki" and wiki_format == "git")
    if looks_like_url(location):
        if not is_git:
            raise ConfigError(f"{location}: a {kind} source is read from a local path; only git sources are cloned")
        checked = check_url(location, FetchPolicy.from_settings(settings.indexing, resolver))
        _check_remote(checked.url, ref, git_env(checked))
        return checked.url
    if door == "cli":
        location = str(Path(location).expanduser().absolute())  # relative to where the command runs
    path = check_local_path(location, home=settings.home, roots=roots_for(settings, door), git=is_git)
    if not path.exists():
        raise ConfigError(f"{path} does not exist")
    if kind == "docs" and not path.is_dir():
        raise ConfigError(f"{path} is not a directory")
    if is_git:
        _check_local_repo(path, ref, settings.home)
    return str(path)


def _check_local_repo(path: Path, ref: str | None, home: Path) -> None:
    try:
        repo = git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise ConfigError(f"{path} is not a git repository: run `git init` there, or add it with --docs") from None
    try:
        git_dir = Path(repo.git.rev_parse("--absolute-git-dir")).resolve()
    except git.GitCommandError as exc:
        raise SourceError(f"git cannot read {path}: {git_reason(exc)}") from None
    check_local_path(str(git_dir), home=home, roots=None)  # a .git file pointing into the data dir
    target = f"{ref}^{{commit}}" if ref else "HEAD^{commit}"
    try:
        repo.git.rev_parse("--verify", "--quiet", "--end-of-options", target)
    except git.GitCommandError as exc:
        if ref is None:
            raise SourceError(f"repository {path} has no commits yet: commit something, or pick a ref with "
                              "--ref") from None
        branches = ", ".join(sorted(h.name for h in repo.heads)[:10]) or "none"
        said = git_reason(exc) if (exc.stderr or "").strip() else ""
        raise SourceError(f"ref {ref!r} not found in {path}" + (f" (git: {said})" if said else "")
                          + f"; branches: {branches}") from None
    finally:
        repo.close()


def _check_remote(url: str, ref: str | None, env: dict[str, str]) -> None:
    """``git ls-remote``: the remote answers (network, credentials) and has ``ref``."""
    try:
        out = git.Git().ls_remote("--end-of-options", url, env=env, kill_after_timeout=LS_REMOTE_TIMEOUT_S)
    except git.GitCommandError as exc:
        raise SourceError(f"cannot reach {url}: {git_reason(exc)}. Check the URL, the server's network and "
                          "its git credentials") from None
    refs: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, name = line.partition("\t")
        refs[name.strip()] = sha.strip()
    if ref is None:
        if "HEAD" not in refs:
            raise SourceError(f"{url} has no commits (no HEAD): push something, or pick a ref with --ref")
        return
    names = {ref, f"refs/heads/{ref}", f"refs/tags/{ref}"}
    if names & refs.keys() or (_HEX.match(ref) and any(sha.startswith(ref) for sha in refs.values())):
        return
    if _HEX.match(ref):
        return  # a commit no ref points at: only a fetch can tell; the first index run checks it
    branches = ", ".join(sorted(n.removeprefix("refs/heads/") for n in refs if n.startswith("refs/heads/"))[:10])
    raise SourceError(f"ref {ref!r} not found at {url}; branches: {branches or 'none'}")


def door_of(row_options: dict[str, Any] | None) -> Door:
    """The door a catalog row was added through; rows from before this check count as the CLI's."""
    return "web" if (row_options or {}).get("added_via") == "web" else "cli"
