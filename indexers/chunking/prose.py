"""Heading-aware, line-exact chunking for documentation.

A chunk never crosses a heading, so its ``title`` (the heading path, ``Deploy >
Rollback``) is true for all of its text. Sections over the budget are cut at paragraph
boundaries (never inside a fenced block when it fits), and paragraphs over the budget
into line windows, all keeping the section's title. Formats: Markdown (ATX and setext,
``#`` in fences ignored), reStructuredText (underlined/overlined titles), AsciiDoc
(``=`` titles), HTML (``<h1>``..``<h6>`` lines, best effort), Org, plain text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate

from assistant.models import Chunk
from indexers.chunking.windows import split_lines, window_spans

DEFAULT_MAX_CHARS = 1500
DEFAULT_MAX_LINES = 60


@dataclass(slots=True)
class _Heading:
    row: int  # first row of the heading (an RST overline, for instance)
    level: int
    text: str
    rows: int = 1  # lines the heading itself takes


@dataclass(slots=True)
class _Outline:
    headings: list[_Heading]
    glue: list[bool]  # glue[r]: never cut between rows r and r+1 (inside a fence)


_MD_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_MD_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_MD_ATX_CLOSE = re.compile(r"(?:^|[ \t]+)#+$")
_MD_SETEXT = re.compile(r"^ {0,3}(=+|-{2,})[ \t]*$")
_MD_NOT_SETEXT_TEXT = re.compile(r"^ {0,3}(?:[-*+>|]|\d+[.)])(?:\s|$)|^ {4,}|^\t")
_RST_ADORN = re.compile(r"^([!-/:-@\[-`{-~])\1{2,}\s*$")
_ADOC_TITLE = re.compile(r"^(={1,6})[ \t]+(\S.*?)[ \t]*$")
_ADOC_DELIM = re.compile(r"^(-{4,}|\.{4,}|\+{4,}|_{4,}|\*{4,}|/{4,}|`{3,})\s*$")
_HTML_HEADING = re.compile(r"<h([1-6])\b[^>]*>(.*?)(?:</h\1\s*>|$)", re.IGNORECASE)
_HTML_TAG = re.compile(r"<[^>]+>")
_ORG_HEADING = re.compile(r"^(\*+)[ \t]+(\S.*?)[ \t]*$")
_ORG_BLOCK = re.compile(r"^\s*#\+(BEGIN|END)_", re.IGNORECASE)
_FRONT_TITLE = re.compile(r"""^title\s*[:=]\s*["']?(.*?)["']?\s*$""", re.IGNORECASE)


def _glue_range(glue: list[bool], start: int, end: int) -> None:
    for row in range(start, end):
        glue[row] = True


def _markdown(lines: list[str], first: int) -> _Outline:
    headings: list[_Heading] = []
    glue = [False] * len(lines)
    fence: str | None = None
    fence_start = 0
    prev_text = False  # the previous line could be setext heading text
    for row in range(first, len(lines)):
        line = lines[row]
        if fence is not None:
            stripped = line.strip()
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                _glue_range(glue, fence_start, row)
                fence = None
            continue
        opened = _MD_FENCE.match(line)
        if opened:
            fence, fence_start, prev_text = opened.group(1), row, False
            continue
        atx = _MD_ATX.match(line)
        if atx:
            text = _MD_ATX_CLOSE.sub("", atx.group(2) or "").strip()
            headings.append(_Heading(row, len(atx.group(1)), text))
            prev_text = False
            continue
        if prev_text and _MD_SETEXT.match(line):
            level = 1 if line.strip()[0] == "=" else 2
            headings.append(_Heading(row - 1, level, lines[row - 1].strip(), 2))
            prev_text = False
            continue
        prev_text = bool(line.strip()) and not _MD_NOT_SETEXT_TEXT.match(line)
    if fence is not None:
        _glue_range(glue, fence_start, len(lines) - 1)
    return _Outline(headings, glue)


def _rst(lines: list[str], first: int) -> _Outline:
    headings: list[_Heading] = []
    styles: list[tuple[str, bool]] = []
    n = len(lines)
    row = first
    while row < n - 1:
        text = lines[row]
        under = _RST_ADORN.match(lines[row + 1])
        if not text.strip() or under is None or _RST_ADORN.match(text):
            row += 1
            continue
        char = under.group(1)
        over = row > first and _RST_ADORN.match(lines[row - 1])
        overlined = bool(over) and over.group(1) == char
        top = row - 1 if overlined else row
        if overlined and len(lines[row + 1].strip()) != len(lines[row - 1].strip()):
            overlined, top = False, row
        preceded = top == first or not lines[top - 1].strip()
        long_enough = len(lines[row + 1].strip()) >= min(len(text.strip()), 4)
        if not preceded or not long_enough or (not overlined and text[:1].isspace()):
            row += 1
            continue
        style = (char, overlined)
        if style not in styles:
            styles.append(style)
        headings.append(_Heading(top, styles.index(style) + 1, text.strip(), row + 2 - top))
        row += 2
    return _Outline(headings, [False] * n)


def _delimited(
    lines: list[str], first: int, title: re.Pattern[str], delim: re.Pattern[str]
) -> _Outline:
    """AsciiDoc and Org: one-line titles, ignored inside delimited blocks."""
    headings: list[_Heading] = []
    glue = [False] * len(lines)
    open_at: int | None = None
    opener = ""
    for row in range(first, len(lines)):
        line = lines[row]
        if open_at is not None:
            if line.strip() == opener or (opener == "#+" and delim.match(line)):
                _glue_range(glue, open_at, row)
                open_at = None
            continue
        block = delim.match(line)
        if block:
            open_at, opener = row, ("#+" if delim is _ORG_BLOCK else line.strip())
            continue
        found = title.match(line)
        if found:
            headings.append(_Heading(row, len(found.group(1)), found.group(2)))
    return _Outline(headings, glue)


def _html(lines: list[str], first: int) -> _Outline:
    headings: list[_Heading] = []
    for row in range(first, len(lines)):
        line = lines[row]
        if "<h" not in line and "<H" not in line:
            continue
        found = _HTML_HEADING.search(line)
        if found:
            text = html.unescape(_HTML_TAG.sub("", found.group(2)))
            headings.append(_Heading(row, int(found.group(1)), " ".join(text.split())))
    return _Outline(headings, [False] * len(lines))


_FINDERS: dict[str, Callable[[list[str], int], _Outline]] = {
    "markdown": _markdown,
    "rst": _rst,
    "asciidoc": lambda lines, first: _delimited(lines, first, _ADOC_TITLE, _ADOC_DELIM),
    "org": lambda lines, first: _delimited(lines, first, _ORG_HEADING, _ORG_BLOCK),
    "html": _html,
}


def _front_matter(lines: list[str]) -> tuple[int, str | None]:
    """Rows taken by a ``---`` YAML (or ``+++`` TOML) block at the top, and its title."""
    if not lines or lines[0].strip() not in ("---", "+++"):
        return 0, None
    closer = ("---", "...") if lines[0].strip() == "---" else ("+++",)
    title = None
    for row in range(1, min(len(lines), 500)):
        stripped = lines[row].strip()
        if stripped in closer:
            return row + 1, title
        found = _FRONT_TITLE.match(stripped)
        if found and title is None:
            title = found.group(1) or None
    return 0, None


class _Packer:
    """Cuts row ranges into budget-sized, line-exact chunks."""

    def __init__(self, lines: list[str], glue: list[bool], max_chars: int, max_lines: int):
        self.lines = lines
        self.glue = glue
        self.blank = [not line.strip() for line in lines]
        self.cum = [0, *accumulate(len(line) + 1 for line in lines)]
        self.max_chars = max_chars
        self.max_lines = max_lines

    def chars(self, start: int, end: int) -> int:
        return self.cum[end + 1] - self.cum[start] - 1

    def fits(self, start: int, end: int) -> bool:
        return end - start < self.max_lines and self.chars(start, end) <= self.max_chars

    def trim(self, start: int, end: int) -> tuple[int, int] | None:
        while start <= end and self.blank[start]:
            start += 1
        while end >= start and self.blank[end]:
            end -= 1
        return (start, end) if start <= end else None

    def blocks(self, start: int, end: int) -> list[tuple[int, int]]:
        """Paragraphs: runs of non-blank lines; fenced blocks stay whole."""
        found: list[tuple[int, int]] = []
        row = start
        while row <= end:
            if self.blank[row]:
                row += 1
                continue
            first = row
            while row < end and (self.glue[row] or not self.blank[row + 1]):
                row += 1
            found.append((first, row))
            row += 1
        return found

    def pack(self, start: int, end: int) -> list[tuple[int, int, str | None]]:
        span = self.trim(start, end)
        if span is None:
            return []
        start, end = span
        if self.fits(start, end):
            return [(start, end, None)]
        out: list[tuple[int, int, str | None]] = []
        group: tuple[int, int] | None = None
        for first, last in self.blocks(start, end):
            if group is not None and self.fits(group[0], last):
                group = (group[0], last)
                continue
            if group is not None:
                out.append((group[0], group[1], None))
                group = None
            if self.fits(first, last):
                group = (first, last)
            else:
                out.extend(
                    window_spans(self.lines, first, last, max_lines=self.max_lines, overlap=0,
                                 max_chars=self.max_chars, balance=True)
                )
        if group is not None:
            out.append((group[0], group[1], None))
        return out


@dataclass(slots=True)
class _Section:
    start: int
    level: int
    title: str | None
    heading_rows: int  # rows the heading itself takes (0 for the preamble)
    heading_row: int = 0  # where the heading is, even after a parent joined this section


def _sections(outline: _Outline, front_title: str | None) -> list[_Section]:
    sections = [_Section(0, 0, front_title, 0)]
    stack: list[tuple[int, str]] = []
    for heading in outline.headings:
        while stack and stack[-1][0] >= heading.level:
            stack.pop()
        stack.append((heading.level, heading.text))
        title = " > ".join(text for _, text in stack if text) or None
        sections.append(_Section(heading.row, heading.level, title, heading.rows, heading.row))
    return sections


def chunk_prose(
    text: str,
    language: str,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    max_lines: int = DEFAULT_MAX_LINES,
) -> list[Chunk]:
    """Chunks for a document in ``language`` (markdown, rst, asciidoc, org, html, text)."""
    if not text.strip():
        return []
    lines = split_lines(text)
    body_start, front_title = _front_matter(lines)
    finder = _FINDERS.get(language)
    outline = finder(lines, body_start) if finder else _Outline([], [False] * len(lines))
    packer = _Packer(lines, outline.glue, max(1, max_chars), max(1, max_lines))
    sections = _sections(outline, front_title)
    ends = [s.start - 1 for s in sections[1:]] + [len(lines) - 1]
    # The preamble goes with the first section when it is only front matter.
    if len(sections) > 1 and packer.trim(body_start, ends[0]) is None:
        sections[1].start = 0
        sections.pop(0)
        ends.pop(0)
    # A heading with nothing under it joins its first subsection.
    kept: list[tuple[_Section, int]] = []
    carry: int | None = None
    for i, (section, end) in enumerate(zip(sections, ends)):
        if carry is not None:
            section.start, carry = carry, None
        nxt = sections[i + 1] if i + 1 < len(sections) else None
        if (
            nxt is not None
            and section.heading_rows
            and nxt.level > section.level
            and packer.trim(section.heading_row + section.heading_rows, end) is None
        ):
            carry = section.start
            continue
        kept.append((section, end))
    kind = "section" if outline.headings else "text"
    chunks: list[Chunk] = []
    for section, end in kept:
        for start, last, cut in packer.pack(section.start, end):
            chunks.append(
                Chunk(
                    index=len(chunks),
                    text=cut if cut is not None else "\n".join(lines[start : last + 1]),
                    start_line=start + 1,
                    end_line=last + 1,
                    title=section.title,
                    chunk_kind=kind,
                )
            )
    return chunks
