"""Metadata and text extraction shared by the docs and wiki sources.

Front matter is where doc owners say who owns a page and when it was last reviewed;
HTML (static sites, Confluence exports) is turned into Markdown-ish text so the prose
chunker sees the same ``#`` headings it sees in Markdown.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time
from typing import Any

import yaml
from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

from assistant.errors import ItemError
from indexers.sources.text import decode_text

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split a leading ``---`` YAML block from the body.

    Anything that is not a YAML mapping (malformed YAML, an RST overline title, a
    Markdown rule) is left in the body and gives ``{}``: a bad header must never cost
    the page its text.
    """
    match = _FRONT_MATTER.match(text)
    if match is None:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1) or "")
    except yaml.YAMLError:
        return {}, text
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        return {}, text
    return {str(k): v for k, v in meta.items()}, text[match.end() :]


def _to_utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    if isinstance(value, str) and value.strip():
        raw = value.strip()
        try:
            return _to_utc(datetime.fromisoformat(raw.replace("Z", "+00:00")))
        except ValueError:
            pass
        for fmt in ("%Y/%m/%d", "%d %B %Y", "%B %d, %Y", "%b %d, %Y"):
            try:
                return datetime.strptime(raw, fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
    return None


def _owner(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (list, tuple)):
        names = [str(v).strip() for v in value if v is not None and str(v).strip()]
        return ", ".join(names) or None
    return None


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in {"true", "yes", "y", "1", "on"}
    if isinstance(value, (int, float)):
        return bool(value)
    return False


def front_matter_fields(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The front-matter keys Sourcewise uses, normalised.

    Returns ``owner`` (several owners comma-joined, so none is lost when flagged
    sources are sent out), ``last_reviewed`` (UTC datetime or None), ``title`` and
    ``deprecated``. Wrong types give None/False instead of failing the page.
    """
    owner = _owner(meta.get("owner"))
    if owner is None:
        owner = _owner(meta.get("owners"))
    title = meta.get("title")
    return {
        "owner": owner,
        "last_reviewed": _to_utc(meta.get("last_reviewed")),
        "title": str(title).strip() or None if title is not None else None,
        "deprecated": _flag(meta.get("deprecated", False)),
    }


# --- HTML -------------------------------------------------------------------------

_DROP = {"script", "style", "nav", "noscript", "template", "head", "svg", "iframe", "button"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = {
    "address", "article", "aside", "blockquote", "body", "caption", "dd", "details",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header",
    "hr", "html", "main", "ol", "p", "section", "summary", "table", "tbody", "thead",
    "tfoot", "ul",
}  # fmt: skip
_SKIPPED_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)
_SPACES = re.compile(r"[ \t\r\f\v\n\u00a0]+")


def _inline_text(tag: Tag) -> str:
    return _SPACES.sub(" ", tag.get_text(" ")).strip()


def _render(node: Tag) -> Iterator[tuple[str, bool]]:
    """Yield (text, raw) pieces; raw pieces (``<pre>``) keep their whitespace."""
    for child in node.children:
        if isinstance(child, NavigableString):
            if not isinstance(child, _SKIPPED_STRINGS):
                yield _SPACES.sub(" ", str(child)), False
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name.lower()
        if name in _DROP:
            continue
        if name in _HEADINGS:
            heading = _inline_text(child)
            if heading:
                yield f"\n\n{'#' * _HEADINGS[name]} {heading}\n\n", False
        elif name == "pre":
            yield "\n\n", False
            yield "```\n" + child.get_text().strip("\n") + "\n```", True
            yield "\n\n", False
        elif name == "br":
            yield "\n", False
        elif name == "li":
            yield "\n- ", False
            yield from _render(child)
        elif name == "tr":
            yield "\n", False
            yield from _render(child)
        elif name in {"td", "th"}:
            yield from _render(child)
            yield " | ", False
        elif name in _BLOCKS:
            yield "\n\n", False
            yield from _render(child)
            yield "\n\n", False
        else:
            yield from _render(child)


def _tidy(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.split("\n")]
    lines = [line[:-2].rstrip() if line.endswith(" |") else line for line in lines]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def decode_html(data: bytes, max_bytes: int) -> str:
    """``decode_text`` without the minified check: generated HTML is often one long
    line, yet its text is fine once the markup is gone."""
    try:
        return decode_text(data, max_bytes)
    except ItemError as exc:
        if exc.reason != "minified":
            raise
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    text = data.decode("utf-16") if utf16 else data.decode("utf-8-sig")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def html_to_text(html: str | BeautifulSoup | Tag) -> tuple[str, str | None]:
    """Readable text of an HTML page and its ``<title>``.

    Headings become ``#`` lines and ``<pre>`` becomes a fenced block, so the prose
    chunker splits HTML where it splits Markdown; scripts, styles and navigation are
    dropped because they are noise in retrieval. Accepts a parsed tree so a caller
    can pass one element (Confluence's ``#main-content``). Raises ``ItemError``
    (``unparseable``) for markup nested too deeply to walk.
    """
    try:
        return _html_to_text(html)
    except RecursionError:
        raise ItemError("unparseable", "HTML is nested too deeply to read") from None


def _html_to_text(html: str | BeautifulSoup | Tag) -> tuple[str, str | None]:
    root = html if isinstance(html, Tag) else BeautifulSoup(html, "html.parser")
    title: str | None = None
    title_tag = root.find("title")
    if isinstance(title_tag, Tag):
        title = _inline_text(title_tag) or None
    parts: list[str] = []
    pending: list[str] = []
    for piece, raw in _render(root):
        if raw:
            parts.append(_tidy("".join(pending)))
            pending = []
            parts.append(piece)
        else:
            pending.append(piece)
    parts.append(_tidy("".join(pending)))
    text = re.sub(r"\n{3,}", "\n\n", "".join(parts)).strip("\n")
    return (text + "\n" if text else ""), title
