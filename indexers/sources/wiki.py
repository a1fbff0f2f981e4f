"""Wiki export readers: a MediaWiki XML dump and a Confluence space HTML export.

A git-backed wiki (GitHub/GitLab wikis) is a git repository and is read by the git
source. Sources yield, the pipeline writes: nothing here touches the store.
"""

from __future__ import annotations

import bz2
import gzip
import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO
from urllib.parse import quote
from xml.etree import ElementTree as ET

from bs4 import BeautifulSoup, Tag

from assistant.errors import ItemError, SourceError
from assistant.models import Document, ItemFailure, sha256_text
from indexers.sources.base import make_doc_id, scan_version
from indexers.sources.frontmatter import decode_html, html_to_text

# Main, Project and Help: the namespaces that hold documentation. Talk, User,
# Template, File, Category and the rest are noise for answering questions.
INDEXED_NAMESPACES = frozenset({0, 4, 12})
_WIKI_HEADING = re.compile(r"^(={1,6})[ \t]*(.+?)[ \t]*\1[ \t]*$")
_WIKI_NUMBERED = re.compile(r"^(#[#*:;]*)[ \t]*(.*)$")
_REDIRECT = re.compile(r"^\s*#REDIRECT\s*:?\s*\[\[", re.IGNORECASE)


def _local(tag: str) -> str:
    """Tag name without the export's ``{http://www.mediawiki.org/xml/export-0.N/}``."""
    return tag.rsplit("}", 1)[-1]



def wikitext_to_markdown(text: str) -> str:
    """``== H ==`` headings become ``## H`` so the prose chunker finds sections, and
    ``# item`` numbered lists become ``1. item`` so they are not taken for headings.

    Works line by line and never adds or drops a line: line numbers in citations
    stay those of the wikitext.
    """
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if match := _WIKI_HEADING.match(line):
            lines[i] = f"{'#' * len(match.group(1))} {match.group(2)}"
        elif match := _WIKI_NUMBERED.match(line):
            lines[i] = f"{'   ' * (len(match.group(1)) - 1)}1. {match.group(2)}"
    return "\n".join(lines)


@dataclass
class _Revision:
    id: str = ""
    timestamp: str = ""
    author: str | None = None
    text: str = ""
    model: str = "wikitext"

    def key(self) -> tuple[str, int]:
        return self.timestamp, int(self.id) if self.id.isdigit() else -1


class MediaWikiSource:
    """A MediaWiki XML export (``Special:Export`` or ``dumpBackup.php``; ``.xml``,
    ``.xml.gz`` or ``.xml.bz2``), streamed so dumps larger than memory work.

    The newest revision of each page in namespaces 0, 4 and 12 becomes a Document;
    redirects and other namespaces are not documents and yield nothing.

    Malformed XML (truncated download, HTML error page, wrong root) raises
    ``SourceError`` when the parser reaches it. Pages before that point have already
    been yielded, but the scan as a whole fails, so the pipeline treats the run as
    failed and sweeps no deletions; a fresh export fixes it. Half an export is never
    mistaken for the whole wiki.
    """

    def __init__(self, name: str, path: Path, *, base_url: str | None = None) -> None:
        self.name = name
        self.path = Path(path)
        self.base_url = base_url
        self._version = ""

    @property
    def version(self) -> str:
        """Hash over every (path, content_hash) of the last complete scan."""
        return self._version

    def scan(self) -> Iterator[Document | ItemFailure]:
        """The latest revision of every indexed page, in export order."""
        seen: list[tuple[str, str]] = []
        for item in self._scan():
            if isinstance(item, Document):
                seen.append((item.path, item.content_hash))
            yield item
        self._version = scan_version(seen)

    def _advice(self) -> str:
        return (
            "re-export the wiki from Special:Export (or dumpBackup.php --current) "
            f"and point source `{self.name}` at the new file"
        )

    @contextmanager
    def _open(self) -> Iterator[IO[bytes]]:
        if not self.path.is_file():
            state = "is not a file" if self.path.exists() else "does not exist"
            raise SourceError(f"MediaWiki export {self.path} {state}: {self._advice()}")
        suffix = self.path.suffix.lower()
        opener: Callable[[Path], IO[bytes]] = (
            bz2.open if suffix == ".bz2" else gzip.open if suffix == ".gz" else open
        )
        with opener(self.path, "rb") as fh:
            yield fh

    def _scan(self) -> Iterator[Document | ItemFailure]:
        namespaces: dict[str, int] = {}
        with self._open() as fh:
            try:
                root: ET.Element | None = None
                revision: _Revision | None = None
                for event, elem in ET.iterparse(fh, events=("start", "end")):
                    tag = _local(elem.tag)
                    if event == "start":
                        if root is None:
                            root = elem
                            if tag != "mediawiki":
                                raise SourceError(
                                    f"{self.path} is not a MediaWiki export (root element "
                                    f"<{tag}>, expected <mediawiki>): {self._advice()}"
                                )
                        elif tag == "page":
                            revision = None
                        continue
                    if tag == "namespace" and elem.get("key", "").lstrip("-").isdigit():
                        namespaces[(elem.text or "").strip()] = int(elem.get("key", "0"))
                    elif tag == "revision":
                        current = self._revision(elem)
                        if revision is None or current.key() >= revision.key():
                            revision = current
                        elem.clear()  # full-history dumps: keep one revision at a time
                    elif tag == "page" and root is not None:
                        item = self._page(elem, revision, namespaces)
                        root.clear()  # drop parsed pages so memory stays flat
                        if item is not None:
                            yield item
            except ET.ParseError as exc:
                line, column = exc.position
                reason = re.sub(r": line \d+, column \d+$", "", str(exc))
                raise SourceError(
                    f"MediaWiki export {self.path} is not well-formed XML at line {line}, "
                    f"column {column} ({reason}); it may be truncated: {self._advice()}"
                ) from None
            except (OSError, EOFError) as exc:
                raise SourceError(f"cannot read {self.path}: {exc}; {self._advice()}") from None

    @staticmethod
    def _revision(elem: ET.Element) -> _Revision:
        rev = _Revision()
        for child in elem:
            tag = _local(child.tag)
            if tag == "id":
                rev.id = (child.text or "").strip()
            elif tag == "timestamp":
                rev.timestamp = (child.text or "").strip()
            elif tag == "text":
                rev.text = child.text or ""
            elif tag == "model":
                rev.model = (child.text or "wikitext").strip()
            elif tag == "contributor":
                names = {_local(c.tag): (c.text or "").strip() for c in child}
                rev.author = names.get("username") or names.get("ip") or None
        return rev

    def _page(
        self, elem: ET.Element, rev: _Revision | None, namespaces: dict[str, int]
    ) -> Document | ItemFailure | None:
        fields = {_local(c.tag): c for c in elem}
        title = (fields["title"].text or "").strip() if "title" in fields else ""
        if not title or rev is None:
            return None
        ns = self._namespace(title, fields.get("ns"), namespaces)
        if ns not in INDEXED_NAMESPACES or "redirect" in fields or _REDIRECT.match(rev.text):
            return None
        if rev.model != "wikitext":
            return None  # CSS, JavaScript, JSON pages are not prose
        path = title.replace(" ", "_")
        try:
            updated_at = datetime.fromisoformat(rev.timestamp.replace("Z", "+00:00"))
        except ValueError:
            return ItemFailure(path, "bad-timestamp", f"revision {rev.id}: {rev.timestamp!r}")
        if updated_at.tzinfo is None:
            updated_at = updated_at.replace(tzinfo=UTC)
        if not rev.text.strip():
            return ItemFailure(path, "empty", f"revision {rev.id} has no text")
        text = rev.text.replace("\r\n", "\n")
        url = None
        if self.base_url:
            url = f"{self.base_url.rstrip('/')}/index.php?title={quote(path, safe='/:')}"
        page_id = fields["id"].text.strip() if "id" in fields and fields["id"].text else None
        return Document(
            doc_id=make_doc_id(self.name, path),
            source=self.name,
            path=path,
            kind="wiki",
            content_hash=sha256_text(text),
            updated_at=updated_at.astimezone(UTC),
            version=rev.id or sha256_text(text)[:12],
            loader=lambda: wikitext_to_markdown(text),
            url=url,
            title=title,
            author=rev.author,
            language="mediawiki",
            size=len(text.encode("utf-8")),
            extra={"namespace": ns, "page_id": page_id} if page_id else {"namespace": ns},
        )

    @staticmethod
    def _namespace(title: str, ns: ET.Element | None, namespaces: dict[str, int]) -> int:
        if ns is not None and (ns.text or "").strip().lstrip("-").isdigit():
            return int((ns.text or "").strip())
        prefix = title.split(":", 1)[0] if ":" in title else ""
        return namespaces.get(prefix, 0)  # pre-0.6 exports have no <ns>


# --- Confluence -------------------------------------------------------------------

CONFLUENCE_MAX_BYTES = 5_000_000
_SKIP_DIRS = {"attachments", "images", "styles", "download", "js", "css"}
_PAGE_ID = re.compile(r"(?:^|_)(\d+)$")
_META = re.compile(
    r"(?:Created|Added) by (?P<creator>.+?)"
    r"(?:\s*, last (?:modified|updated|edited)(?: by (?P<editor>.+?))?)?"
    r" on (?P<date>[A-Z][a-z]{2,8}\.? \d{1,2}, \d{4})"
)

_META_NO_DATE = re.compile(r"(?:Created|Added) by ([^,]+?)\s*(?:,|$)")


def _parse_date(raw: str) -> datetime | None:
    raw = raw.replace(".", "").replace("Sept ", "Sep ")
    for fmt in ("%b %d, %Y", "%B %d, %Y"):
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def parse_page_metadata(text: str) -> tuple[str | None, str | None, datetime | None]:
    """(creator, last modifier, last-modified date) from a ``.page-metadata`` line."""
    line = " ".join(text.split())
    match = _META.search(line)
    if match is None:
        bare = _META_NO_DATE.search(line)
        return (bare.group(1).strip() or None if bare else None), None, None
    creator, editor = match.group("creator"), match.group("editor")
    return (
        creator.strip() or None,
        editor.strip() or None if editor else None,
        _parse_date(match.group("date")),
    )


@dataclass(frozen=True)
class _Entry:
    rel: str
    read: Callable[[], bytes]
    mtime: datetime
    size: int


class ConfluenceSource:
    """A Confluence space exported as HTML, as a directory or the ``.zip`` itself.

    Each ``Title_<pageid>.html`` is a page; ``index.html`` (the space's page tree) and
    the attachments, images and styles folders are not. The content hash covers the
    page's main text only, so re-exporting an unchanged space (new footers, new
    export date) re-embeds nothing.
    """

    def __init__(self, name: str, path: Path, *, base_url: str | None = None) -> None:
        self.name = name
        self.path = Path(path)
        self.base_url = base_url
        self._version = ""

    @property
    def version(self) -> str:
        """Hash over every (path, content_hash) of the last complete scan."""
        return self._version

    def scan(self) -> Iterator[Document | ItemFailure]:
        """Every page of the export in path order, or a failure per unreadable page."""
        seen: list[tuple[str, str]] = []
        with self._entries() as entries:
            for entry in entries:
                item = self._page(entry)
                if isinstance(item, Document):
                    seen.append((item.path, item.content_hash))
                yield item
        self._version = scan_version(seen)

    def _fail(self, problem: str) -> SourceError:
        return SourceError(
            f"Confluence export {self.path} {problem}: export the space as HTML "
            f"(Space tools > Content tools > Export) and point source `{self.name}` at "
            "the unzipped folder or the .zip"
        )

    @contextmanager
    def _entries(self) -> Iterator[list[_Entry]]:
        if not self.path.exists():
            raise self._fail("does not exist")
        if self.path.is_dir():
            yield self._dir_entries()
        elif zipfile.is_zipfile(self.path):
            try:
                with zipfile.ZipFile(self.path) as archive:
                    yield self._zip_entries(archive)
            except zipfile.BadZipFile as exc:
                raise self._fail(f"is a damaged zip ({exc})") from None
        else:
            raise self._fail("is neither a directory nor a zip file")

    @staticmethod
    def _is_page(rel: PurePosixPath) -> bool:
        return (
            rel.suffix.lower() in {".html", ".htm"}
            and str(rel) != "index.html"
            and not any(part in _SKIP_DIRS or part.startswith(".") for part in rel.parts[:-1])
        )

    def _dir_entries(self) -> list[_Entry]:
        indexes = sorted(self.path.rglob("index.html"), key=lambda p: (len(p.parts), p))
        if not indexes:
            raise self._fail("has no index.html")
        base = indexes[0].parent
        entries = []
        for file in sorted(base.rglob("*")):
            rel = PurePosixPath(file.relative_to(base).as_posix())
            if file.is_file() and not file.is_symlink() and self._is_page(rel):
                stat = file.stat()
                mtime = datetime.fromtimestamp(stat.st_mtime, UTC)
                entries.append(_Entry(str(rel), file.read_bytes, mtime, stat.st_size))
        return entries

    def _zip_entries(self, archive: zipfile.ZipFile) -> list[_Entry]:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        indexes = [i.filename for i in infos if PurePosixPath(i.filename).name == "index.html"]
        if not indexes:
            raise self._fail("has no index.html")
        base = PurePosixPath(min(indexes, key=lambda n: (n.count("/"), n))).parent
        entries = []
        for info in sorted(infos, key=lambda i: i.filename):
            name = PurePosixPath(info.filename)
            if base != PurePosixPath(".") and base not in name.parents:
                continue
            rel = name.relative_to(base)
            if self._is_page(rel):
                try:
                    mtime = datetime(*info.date_time, tzinfo=UTC)
                except ValueError:  # a zip tool that wrote no valid date
                    mtime = datetime.fromtimestamp(self.path.stat().st_mtime, UTC)
                read = lambda info=info: archive.read(info)  # noqa: E731
                entries.append(_Entry(str(rel), read, mtime, info.file_size))
        return entries

    def _page(self, entry: _Entry) -> Document | ItemFailure:
        rel = entry.rel
        if entry.size > CONFLUENCE_MAX_BYTES:
            return ItemFailure(rel, "too-large", f"{entry.size} bytes is over the cap")
        try:
            soup = BeautifulSoup(decode_html(entry.read(), CONFLUENCE_MAX_BYTES), "html.parser")
            title_tag, main = soup.find("title"), soup.find(id="main-content")
            if not isinstance(title_tag, Tag) and not isinstance(main, Tag):
                raise ItemError("unparseable", "no <title> and no #main-content: not a page")
            body = main if isinstance(main, Tag) else soup.body or soup
            text, _ = html_to_text(body)
        except (ItemError, OSError, zipfile.BadZipFile) as exc:
            reason = exc.reason if isinstance(exc, ItemError) else "unreadable"
            return ItemFailure(rel, reason, str(exc))
        if not text.strip():
            return ItemFailure(rel, "empty", "the page has no text")
        raw_title = " ".join(title_tag.get_text().split()) if isinstance(title_tag, Tag) else ""
        space, _, title = raw_title.partition(" : ")
        if not title:
            space, title = "", raw_title
        meta = soup.find(class_="page-metadata")
        creator, editor, modified = parse_page_metadata(meta.get_text() if meta else "")
        crumbs = [" ".join(li.get_text().split()) for li in soup.select("#breadcrumbs li")]
        page_id = m.group(1) if (m := _PAGE_ID.search(PurePosixPath(rel).stem)) else None
        content_hash = sha256_text(text)
        extra: dict[str, object] = {}
        if space:
            extra["space"] = space
        if crumbs:
            extra["breadcrumbs"] = " > ".join(c for c in crumbs if c)
        if page_id:
            extra["page_id"] = page_id
        return Document(
            doc_id=make_doc_id(self.name, rel),
            source=self.name,
            path=rel,
            kind="wiki",
            content_hash=content_hash,
            updated_at=modified or entry.mtime,
            version=f"{page_id}-{content_hash[:12]}" if page_id else content_hash[:12],
            loader=lambda: text,
            url=self._url(page_id, rel),
            title=title or None,
            author=editor or creator,
            language="html",
            size=entry.size,
            extra=extra,
        )

    def _url(self, page_id: str | None, rel: str) -> str | None:
        if not self.base_url:
            return None
        base = self.base_url.rstrip("/")
        if page_id:
            return f"{base}/pages/viewpage.action?pageId={page_id}"
        return f"{base}/{quote(rel)}"
