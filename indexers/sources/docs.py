"""``DocsSource``: a directory of Markdown, reStructuredText, AsciiDoc, text and HTML.

Sources yield, the pipeline writes: this module only reads the tree and turns each
file into a ``Document`` (or an ``ItemFailure`` saying why it was skipped).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pathspec

from assistant.errors import ItemError, SourceError
from assistant.models import Document, ItemFailure, sha256_text
from indexers.sources.base import make_doc_id, scan_version
from indexers.sources.frontmatter import (
    decode_html,
    front_matter_fields,
    html_to_text,
    split_front_matter,
)
from indexers.sources.text import decode_text

IGNORE_FILE = ".sourcewiseignore"

LANGUAGES = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdx": "markdown",
    ".rst": "rst",
    ".adoc": "asciidoc",
    ".asciidoc": "asciidoc",
    ".txt": "text",
    ".html": "html",
    ".htm": "html",
}
# Extensionless files that are prose by convention.
README_LIKE = {
    "readme", "changelog", "changes", "contributing", "authors", "license", "copying",
    "notice", "install", "hacking", "todo", "news", "history", "maintainers",
}  # fmt: skip
_FRONT_MATTER_LANGUAGES = {"markdown", "asciidoc"}


def language_for(name: str) -> str | None:
    """The prose language of a file name, or None for files this source ignores."""
    suffix = os.path.splitext(name)[1].lower()
    if suffix:
        return LANGUAGES.get(suffix)
    return "text" if name.lower() in README_LIKE else None


# --- titles -----------------------------------------------------------------------

_MD_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_MD_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_MD_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_RST_ADORN = re.compile(r"^([=\-`:'\"~^_*+#<>.])\1{2,}\s*$")
_ADOC = re.compile(r"^(?:={1,6}|#{1,6})[ \t]+(.+?)[ \t]*$")


def _markdown_title(lines: list[str]) -> str | None:
    fence: str | None = None
    for i, line in enumerate(lines):
        opened = _MD_FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1)[0] == fence:
                fence = None
            continue
        if opened:
            fence = opened.group(1)[0]
            continue
        atx = _MD_ATX.match(line)
        if atx:
            return atx.group(2).strip()
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and not line.startswith(("-", "*", ">", " " * 4)) and _MD_SETEXT.match(nxt):
            return line.strip()
    return None


def _rst_title(lines: list[str]) -> str | None:
    for i, line in enumerate(lines[:-1]):
        text, under = line.rstrip(), lines[i + 1].rstrip()
        if _RST_ADORN.match(text) and i + 2 < len(lines) and lines[i + 2].rstrip() == text:
            return under.strip() or None  # overline + title + underline
        if (
            text.strip()
            and not _RST_ADORN.match(text)
            and not text.startswith(("..", " "))
            and _RST_ADORN.match(under)
            and len(under) >= len(text)
        ):
            return text.strip()
    return None


def _asciidoc_title(lines: list[str]) -> str | None:
    for line in lines:
        match = _ADOC.match(line)
        if match:
            return match.group(1)
    return None


def first_heading(text: str, language: str) -> str | None:
    """The first heading of a prose text: the title a reader would give the page."""
    lines = text.split("\n")
    if language in {"markdown", "html"}:
        return _markdown_title(lines)
    if language == "rst":
        return _rst_title(lines)
    if language == "asciidoc":
        return _asciidoc_title(lines)
    return None


def render_text(text: str, language: str) -> str:
    """The text the chunker sees.

    Front matter is blanked rather than removed so line numbers in citations still
    match the file; HTML becomes Markdown-ish text (its lines cannot be cited anyway).
    """
    if language == "html":
        return html_to_text(text)[0]
    if language in _FRONT_MATTER_LANGUAGES:
        meta, body = split_front_matter(text)
        if meta:
            head = text[: len(text) - len(body)]
            return "\n" * head.count("\n") + body
    return text


# --- walking ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Rules:
    include: pathspec.PathSpec | None
    exclude: pathspec.PathSpec

    def skip_dir(self, rel: str) -> bool:
        return self.exclude.match_file(rel + "/")

    def wants_file(self, rel: str) -> bool:
        if language_for(rel.rsplit("/", 1)[-1]) is None or self.exclude.match_file(rel):
            return False
        return self.include is None or self.include.match_file(rel)


@dataclass(frozen=True)
class _Candidate:
    rel: str
    path: Path


class DocsSource:
    """A documentation tree on disk.

    Symlinks are followed only inside the root (and each directory is walked once, so
    link loops end); a link that leads outside is reported, never read, so a docs
    tree cannot pull in ``/etc`` or a home directory. A file reachable by several
    paths is yielded once, preferring a path without links.
    """

    def __init__(
        self,
        name: str,
        root: Path,
        *,
        include: Iterable[str] = (),
        exclude: Iterable[str] = (),
        max_bytes: int = 1_000_000,
        base_url: str | None = None,
    ) -> None:
        self.name = name
        self.root = Path(root)
        self.include = list(include)
        self.exclude = list(exclude)
        self.max_bytes = max_bytes
        self.base_url = base_url
        self._version = ""

    @property
    def version(self) -> str:
        """Hash over every (path, content_hash) of the last complete scan."""
        return self._version

    def scan(self) -> Iterator[Document | ItemFailure]:
        """Every doc file under the root, in path order, or a failure per bad file."""
        root = self._checked_root()
        seen: list[tuple[str, str]] = []
        candidates, failures = self._walk(root, self._rules(root))
        results: list[tuple[str, Iterator[Document | ItemFailure]]] = [
            (c.rel, self._item(c)) for c in candidates
        ]
        results += [(f.path, iter([f])) for f in failures]
        for _, items in sorted(results, key=lambda pair: pair[0]):
            for item in items:
                if isinstance(item, Document):
                    seen.append((item.path, item.content_hash))
                yield item
        self._version = scan_version(seen)

    # -- setup

    def _checked_root(self) -> Path:
        hint = f"check the path given to `sourcewise source add {self.name} --docs DIR`"
        if not self.root.exists():
            raise SourceError(f"docs directory {self.root} does not exist: {hint}")
        if not self.root.is_dir():
            raise SourceError(f"docs directory {self.root} is not a directory: {hint}")
        return self.root.resolve()

    def _rules(self, root: Path) -> _Rules:
        lines = list(self.exclude)
        ignore_file = root / IGNORE_FILE
        if ignore_file.is_file():
            try:
                lines += ignore_file.read_text("utf-8", errors="replace").splitlines()
            except OSError as exc:
                raise SourceError(
                    f"cannot read {ignore_file}: {exc.strerror}; fix its permissions"
                ) from None
        include = pathspec.GitIgnoreSpec.from_lines(self.include) if self.include else None
        return _Rules(include, pathspec.GitIgnoreSpec.from_lines(lines))

    def _walk(self, root: Path, rules: _Rules) -> tuple[list[_Candidate], list[ItemFailure]]:
        """Real directories first, then in-root directory links not already walked."""
        candidates: list[_Candidate] = []
        failures: list[ItemFailure] = []
        linked_files: list[_Candidate] = []
        dir_links: list[tuple[str, Path]] = []
        visited: set[Path] = {root}
        real_files: set[Path] = set()

        def walk(directory: Path, prefix: str) -> None:
            try:
                entries = sorted(os.scandir(directory), key=lambda e: e.name)
            except OSError as exc:
                failures.append(ItemFailure(prefix.rstrip("/") or ".", "unreadable", str(exc)))
                return
            for entry in entries:
                if entry.name.startswith("."):
                    continue  # .git, .venv, editor files, the ignore file itself
                rel, path = prefix + entry.name, Path(entry.path)
                if entry.is_symlink():
                    self._link(rel, path, root, rules, failures, linked_files, dir_links)
                elif entry.is_dir(follow_symlinks=False):
                    real = path.resolve()
                    if not rules.skip_dir(rel) and real not in visited:
                        visited.add(real)
                        walk(path, rel + "/")
                elif entry.is_file(follow_symlinks=False) and rules.wants_file(rel):
                    real = path.resolve()
                    if real not in real_files:
                        real_files.add(real)
                        candidates.append(_Candidate(rel, path))

        walk(root, "")
        while dir_links:  # walking a linked directory may find more links
            rel, target = dir_links.pop(0)
            if target not in visited:
                visited.add(target)
                walk(root / rel, rel + "/")
        for link in linked_files:
            target = link.path.resolve()
            if target not in real_files:
                real_files.add(target)
                candidates.append(link)
        return candidates, failures

    @staticmethod
    def _link(
        rel: str,
        path: Path,
        root: Path,
        rules: _Rules,
        failures: list[ItemFailure],
        linked_files: list[_Candidate],
        dir_links: list[tuple[str, Path]],
    ) -> None:
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            if rules.wants_file(rel):
                failures.append(ItemFailure(rel, "broken-symlink", f"{rel} points nowhere"))
            return
        is_dir = target.is_dir()
        if (is_dir and rules.skip_dir(rel)) or (not is_dir and not rules.wants_file(rel)):
            return
        if not target.is_relative_to(root):
            failures.append(
                ItemFailure(
                    rel,
                    "symlink-outside",
                    f"{rel} links to {target}, outside the docs root; not followed",
                )
            )
        elif is_dir:
            dir_links.append((rel, target))
        elif target.is_file():
            linked_files.append(_Candidate(rel, path))

    # -- items

    def _item(self, cand: _Candidate) -> Iterator[Document | ItemFailure]:
        rel, path = cand.rel, cand.path
        language = language_for(rel.rsplit("/", 1)[-1]) or "text"
        try:
            size = path.stat().st_size
            if size > self.max_bytes:
                yield ItemFailure(
                    rel,
                    "too-large",
                    f"{size} bytes is over the {self.max_bytes}-byte cap; "
                    "exclude it or raise max_bytes",
                )
                return
            data = path.read_bytes()
            mtime = path.stat().st_mtime
        except OSError as exc:
            yield ItemFailure(rel, "unreadable", exc.strerror or str(exc))
            return
        content_hash = sha256_text(data)
        html_title: str | None = None
        try:
            text = self._decode(data, language)
            if language == "html":
                rendered, html_title = html_to_text(text)
            else:
                rendered = render_text(text, language)
        except ItemError as exc:
            yield ItemFailure(rel, exc.reason, str(exc))
            return
        meta = split_front_matter(text)[0] if language in _FRONT_MATTER_LANGUAGES else {}
        fields = front_matter_fields(meta)
        if not rendered.strip():
            yield ItemFailure(rel, "empty", "no text besides front matter or markup")
            return
        extra: dict[str, object] = {}
        if fields["last_reviewed"] is not None:
            extra["last_reviewed"] = fields["last_reviewed"].isoformat()
        if fields["deprecated"]:
            extra["deprecated"] = True
        if str(meta.get("stale_check", "")).strip().lower() in ("false", "no", "off"):
            extra["stale_check"] = False  # the blanked front matter opts out of staleness checks
        yield Document(
            doc_id=make_doc_id(self.name, rel),
            source=self.name,
            path=rel,
            kind="docs",
            content_hash=content_hash,
            updated_at=datetime.fromtimestamp(mtime, UTC),
            version=content_hash[:12],
            loader=lambda: self._load(path, language, content_hash),
            url=self._url(rel, path),
            title=fields["title"] or html_title or first_heading(rendered, language),
            owner=fields["owner"],
            language=language,
            size=len(data),
            extra=extra,
        )

    def _url(self, rel: str, path: Path) -> str:
        if self.base_url:
            return f"{self.base_url.rstrip('/')}/{quote(rel)}"
        return path.absolute().as_uri()

    def _load(self, path: Path, language: str, content_hash: str) -> str:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ItemError("unreadable", exc.strerror or str(exc)) from None
        if sha256_text(data) != content_hash:
            raise ItemError("changed", "the file changed after the scan; the next run picks it up")
        return render_text(self._decode(data, language), language)

    def _decode(self, data: bytes, language: str) -> str:
        if language == "html":
            return decode_html(data, self.max_bytes)
        return decode_text(data, self.max_bytes)
