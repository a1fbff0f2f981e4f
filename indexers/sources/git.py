"""Git source: index one ref of a repository by reading git objects, not a work tree.

Works the same on a checkout, a bare mirror or a clone URL (mirrored into the data
dir). Per-file freshness comes from one pass over history: the last commit reachable
from the indexed ref that touched each path, reused incrementally between runs.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import git
import pathspec

from assistant.errors import SourceError
from assistant.models import Document, ItemFailure
from indexers.chunking.languages import detect_language, is_prose
from indexers.sources.base import make_doc_id
from indexers.sources.codeowners import CODEOWNERS_PATHS, CodeOwners
from indexers.sources.fetch_guard import FetchPolicy, check_url, git_env, looks_like_url
from indexers.sources.git_history import FileVersion, History, update_history
from indexers.sources.text import decode_text

IGNORE_FILE = ".sourcewiseignore"


def is_clone_url(location: str) -> bool:
    """A remote for git (URL, ``user@host:path``, ``transport::address``), not a local path."""
    return looks_like_url(location) and not Path(location).exists()


def browse_url_template(remote: str | None) -> str | None:
    """A web URL template for files of a GitHub/GitLab-style remote, or ``None``."""
    if not remote:
        return None
    m = re.match(r"^(?:https?://(?:[^@/]+@)?|git@|ssh://git@)([^/:]+)[/:](.+?)(?:\.git)?/?$", remote)
    if not m:
        return None
    host, repo = m.groups()
    blob = "-/blob" if "gitlab" in host else "blob"
    return f"https://{host}/{repo}/{blob}/{{commit}}/{{path}}"


@dataclass(frozen=True)
class TreeEntry:
    path: str
    mode: str
    kind: str  # blob | commit (submodule)
    sha: str
    size: int  # MISSING when git cannot read the object (a partial clone, a damaged mirror)


def git_reason(exc: git.GitCommandError) -> str:
    """git's own words from a failed command: its ``fatal:``/``error:`` lines and any hint
    (``git config --global --add safe.directory ...``), not a guess at the cause."""
    text = exc.stderr if isinstance(exc.stderr, str) and exc.stderr.strip() else str(exc)
    text = re.sub(r"^\s*stderr: '", "", text.strip()).rstrip("'").strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    keep = [ln for ln in lines if ln.startswith(("fatal:", "error:", "remote:", "ERROR"))] or lines[-1:]
    hints = [ln for ln in lines if ln.startswith("git config")]
    reason = " ".join(keep) + (f" (git suggests: {'; '.join(hints)})" if hints else "")
    return (reason[:500] + "...") if len(reason) > 500 else reason or "git failed without saying why"


def open_repo(location: str, mirror_dir: Path, policy: FetchPolicy | None = None) -> git.Repo:
    """Open a local repo, or mirror a clone URL into ``mirror_dir`` and fetch it.

    A URL is checked by ``fetch_guard`` before every clone and fetch (``policy``; default:
    https only, public addresses), the mirror's origin is pointed back at it, and git runs
    with only that transport allowed. A local repo is probed once, so a repository git
    refuses (another user's: "dubious ownership") fails with git's reason.
    """
    if is_clone_url(location):
        checked = check_url(location, policy or FetchPolicy())
        env = git_env(checked)
        try:
            if (mirror_dir / "HEAD").exists():
                repo = git.Repo(mirror_dir)
                with repo.config_reader() as cfg:
                    origin = cfg.get_value('remote "origin"', "url", default=None)
                if origin != checked.url:
                    repo.git.remote("set-url", "origin", checked.url)
                repo.git.fetch("--prune", "origin", env=env)
            else:
                mirror_dir.parent.mkdir(parents=True, exist_ok=True)
                repo = git.Repo.clone_from(checked.url, mirror_dir, mirror=True, env=env)
        except git.GitCommandError as exc:
            raise SourceError(
                f"cannot clone or fetch {location}: {git_reason(exc)}. "
                "Check the URL, your network and credentials."
            ) from None
        return repo
    path = Path(location).expanduser()
    if not path.exists():
        raise SourceError(f"{location} does not exist: give a git checkout, a bare repo or a clone URL")
    try:
        repo = git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise SourceError(
            f"{location} is not a git repository: run `git init` there, or add it with --docs"
        ) from None
    try:
        repo.git.rev_parse("--absolute-git-dir")
    except git.GitCommandError as exc:
        raise SourceError(f"git cannot read {location}: {git_reason(exc)}") from None
    return repo


def resolve_commit(repo: git.Repo, ref: str | None) -> git.Commit:
    """The commit to index: ``ref``, or the branch HEAD; git's reason when git refuses."""
    try:
        if ref:
            return repo.commit(ref)
        if not repo.head.is_valid():
            raise SourceError(
                f"repository {repo.git_dir} has no commits yet: commit something, or pick a ref with --ref"
            )
        return repo.head.commit
    except (git.BadName, ValueError, git.GitCommandError) as exc:
        try:
            repo.git.rev_parse("--absolute-git-dir")
        except git.GitCommandError as refused:
            raise SourceError(f"git cannot read {repo.git_dir}: {git_reason(refused)}") from None
        said = f" (git: {git_reason(exc)})" if isinstance(exc, git.GitCommandError) else ""
        branches = ", ".join(sorted(h.name for h in repo.heads)[:10]) or "none"
        raise SourceError(
            f"ref {ref!r} not found in {repo.git_dir}{said}; branches: {branches}. "
            "Use `sourcewise source update NAME --ref REF`."
        ) from None


MISSING = -1  # ``TreeEntry.size`` of an object git cannot read


def list_tree(repo: git.Repo, commit: str) -> list[TreeEntry]:
    """Every entry of ``commit``'s tree. ``git ls-tree -l`` prints ``BAD`` as the size of
    a blob the object store lacks; that file becomes a per-file failure, not a crash."""
    out = repo.git.ls_tree("-r", "-l", "-z", "--full-tree", commit)
    entries = []
    for record in out.split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, kind, sha, size = meta.split()
        entries.append(TreeEntry(path, mode, kind, sha, 0 if size == "-" else int(size) if size.isdigit() else MISSING))
    return entries


def _ignore_lines(base: str, text: str) -> list[str]:
    """Rewrite a nested .gitignore's patterns to repo-root-relative ones."""
    lines = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        neg = line.startswith("!")
        pat = line[1:] if neg else line
        if base:
            anchored = "/" in pat.rstrip("/")
            pat = f"{base}/{pat.lstrip('/')}" if anchored else f"{base}/**/{pat}"
        lines.append(("!" if neg else "") + pat)
    return lines


class GitSource:
    """Yields the files of one ref as ``Document``s (kind ``code``, ``docs`` or ``wiki``)."""

    def __init__(
        self,
        name: str,
        location: str,
        *,
        ref: str | None = None,
        mirror_dir: Path,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        max_bytes: int = 1_000_000,
        history: History | None = None,
        wiki: bool = False,
        browse_url: str | None = None,
        fetch_policy: FetchPolicy | None = None,
    ) -> None:
        self.name = name
        self._fetch_policy = fetch_policy
        self.location = location
        self.ref = ref
        self._mirror_dir = mirror_dir
        self._include = pathspec.GitIgnoreSpec.from_lines(include) if include else None
        self._exclude = list(exclude)
        self._max_bytes = max_bytes
        self._prior = history
        self._wiki = wiki
        self._browse_url = browse_url
        self.history: History | None = None
        self._commit: str | None = None

    @property
    def version(self) -> str:
        if self._commit is None:
            raise RuntimeError("version is known after scan()")
        return self._commit

    def scan(self) -> Iterator[Document | ItemFailure]:
        repo = open_repo(self.location, self._mirror_dir, self._fetch_policy)
        commit = resolve_commit(repo, self.ref)
        self._commit = commit.hexsha
        entries = list_tree(repo, commit.hexsha)
        self.history = update_history(repo, commit.hexsha, self._prior)
        template = self._browse_url or browse_url_template(_origin_url(repo, self.location))
        blobs = {e.path: e for e in entries if e.kind == "blob"}
        ignore = self._ignore_spec(repo, blobs)
        owners = self._codeowners(repo, blobs)

        for entry in entries:
            path = entry.path
            if ignore.match_file(path) or (self._include and not self._include.match_file(path)):
                continue
            if entry.kind == "commit":
                yield ItemFailure(path, "submodule", "submodule not indexed; add its repository as its own source")
                continue
            if entry.size == MISSING:
                yield ItemFailure(path, "missing-object", f"git cannot read blob {entry.sha[:12]} (a partial or "
                                  "damaged clone?); fetch the repository again with full history")
                continue
            if entry.mode == "120000":
                failure = self._symlink_failure(repo, entry)
                if failure:
                    yield failure
                continue
            if entry.size > self._max_bytes:
                yield ItemFailure(path, "too-large", f"{entry.size} bytes is over the {self._max_bytes}-byte cap")
                continue
            version = self.history.files.get(path) or FileVersion(
                commit.hexsha, commit.committed_datetime, _author(commit)
            )
            yield self._document(repo, entry, version, owners, template)

    def _document(
        self,
        repo: git.Repo,
        entry: TreeEntry,
        version: FileVersion,
        owners: CodeOwners,
        template: str | None,
    ) -> Document:
        language = detect_language(entry.path)
        kind = "wiki" if self._wiki else ("docs" if is_prose(language) else "code")
        title = posixpath.splitext(posixpath.basename(entry.path))[0].replace("-", " ") if self._wiki else None
        binsha = bytes.fromhex(entry.sha)
        max_bytes = self._max_bytes

        def load() -> str:
            return decode_text(repo.odb.stream(binsha).read(), max_bytes)

        return Document(
            doc_id=make_doc_id(self.name, entry.path),
            source=self.name,
            path=entry.path,
            kind=kind,
            content_hash=entry.sha,
            updated_at=version.committed_at,
            version=version.commit,
            loader=load,
            url=template.format(commit=version.commit, path=entry.path) if template else None,
            title=title,
            author=version.author,
            owner=owners.owner_of(entry.path) if owners else None,
            language=language,
            size=entry.size,
        )

    def _ignore_spec(self, repo: git.Repo, blobs: dict[str, TreeEntry]) -> pathspec.GitIgnoreSpec:
        lines: list[str] = []
        for path in sorted(blobs, key=lambda p: p.count("/")):
            name = posixpath.basename(path)
            if name == ".gitignore" or (name == IGNORE_FILE and "/" not in path):
                text = self._read_small(repo, blobs[path])
                lines += _ignore_lines(posixpath.dirname(path), text)
        lines += self._exclude
        return pathspec.GitIgnoreSpec.from_lines(lines)

    def _codeowners(self, repo: git.Repo, blobs: dict[str, TreeEntry]) -> CodeOwners:
        for candidate in CODEOWNERS_PATHS:
            if candidate in blobs:
                return CodeOwners(self._read_small(repo, blobs[candidate]))
        return CodeOwners("")

    def _symlink_failure(self, repo: git.Repo, entry: TreeEntry) -> ItemFailure:
        target = repo.odb.stream(bytes.fromhex(entry.sha)).read().decode("utf-8", "replace")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(entry.path), target))
        if target.startswith("/") or resolved.startswith("../") or resolved == "..":
            return ItemFailure(entry.path, "symlink-outside", f"symlink to {target} points outside the repository")
        return ItemFailure(entry.path, "symlink", f"symlink to {resolved}; the target is indexed itself")

    @staticmethod
    def _read_small(repo: git.Repo, entry: TreeEntry) -> str:
        if entry.size > 1_000_000 or entry.size == MISSING:
            return ""
        return repo.odb.stream(bytes.fromhex(entry.sha)).read().decode("utf-8", "replace")


def _author(commit: git.Commit) -> str:
    return f"{commit.author.name} <{commit.author.email}>"


def _origin_url(repo: git.Repo, location: str) -> str | None:
    if is_clone_url(location):
        return location
    try:
        return repo.remotes.origin.url if "origin" in [r.name for r in repo.remotes] else None
    except (ValueError, git.GitCommandError):
        return None
