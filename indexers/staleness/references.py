"""What a doc claims exists: names, paths, options and environment keys it mentions.

Precision first: a reference that is not really one becomes a false "dead reference"
finding, and a noisy gate gets switched off. So keywords, builtins, standard-library
names, plain English words, placeholders, URLs and snippet-local names never become
references (``references_filters``). Formats: Markdown (also MyST roles and
mkdocstrings ``:::``), reStructuredText/Sphinx (``references_rst``), AsciiDoc
(backtick spans, ``[source,lang]`` blocks, ``include::``/``link:``), and the text wiki
sources yield (MediaWiki converted to Markdown-ish text with ``<code>`` and
``<syntaxhighlight>``; HTML pages as text with fenced ``<pre>`` blocks).

A doc can opt out: one line (``<!-- sourcewise: ignore-stale -->`` at its end or on
the line before; ``.. sourcewise: ignore-stale`` in RST, on the line before; before a
code block or directive it silences the whole block) or the whole doc (front matter
``stale_check: false`` or ``<!-- sourcewise: ignore-stale-file -->``). Silenced
references are counted in ``ignored``.

Bounded time: at most ``MAX_SCAN_CHARS`` of a doc are read and ``MAX_REFERENCES``
kept; a doc over either sets ``truncated``. Every pattern is linear (no nested
quantifiers over the same characters); code spans are found with ``str.find``.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from indexers.chunking.languages import detect_language, normalize_language
from indexers.sources.frontmatter import split_front_matter
from indexers.staleness.references_filters import symbol_candidate
from indexers.staleness.references_inline import Ctx, code_block, code_span, link_target, prose_line, spans
from indexers.staleness.references_rst import scan_rst

KINDS = ("symbol", "path", "option", "env")
_WEAK = frozenset({"code-span", "interpreted", "prose"})  # not marked by a role or directive
MAX_REFERENCES = 5_000
MAX_SCAN_CHARS = 1_000_000
MAX_LINE_CHARS = 20_000  # a longer line (minified, generated) is read up to here
MAX_CONTEXT = 300

_MARKER = re.compile(r"<!--[ \t]*sourcewise:[ \t]*ignore-stale(-file)?[ \t]*-->")
_IGNORE_RST = re.compile(r"^[ \t]*\.\.[ \t]+sourcewise:[ \t]*ignore-stale[ \t]*$")
_IGNORE_RST_FILE = re.compile(r"^\.\.[ \t]+sourcewise:[ \t]*ignore-stale-file[ \t]*$")
_FENCE = re.compile(r"^([ \t]*(?:>[ \t]?)*)(`{3,}|~{3,})([^`\n]*)$")
_MKDOCSTRINGS = re.compile(r"^[ \t]*:::[ \t]+([A-Za-z_][\w.:]{0,300})[ \t]*$")
_ADOC_SOURCE = re.compile(r"^\[(?:source|listing)(?:,[ \t]*([\w+#.-]+))?[^\]\n]{0,200}\]$")
_ADOC_DELIM = re.compile(r"^(-{4,}|\.{4,})[ \t]*$")
_ADOC_LINK = re.compile(r"\b(?:link|include|image|xref)::?([^\[\s]{1,1000})\[")
_WIKI_CODE = re.compile(r"<(code|tt|kbd)>([^<\n]{1,300})</\1>")
_WIKI_BLOCK = re.compile(r"^[ \t]*<(syntaxhighlight|source|pre)(?:[ \t][^>\n]{0,200})?>(.*)$")
_WIKI_LANG = re.compile(r"""\blang[ \t]*=[ \t]*["']?([\w+#.-]+)""")
_MYST_DIRECTIVE = re.compile(r"^\{([\w:-]{1,40})\}[ \t]*(.*)$")
_MYST_AUTO = frozenset({"autofunction", "autoclass", "automethod", "automodule", "autodata",
                        "autoattribute", "autoexception", "py:function", "py:class", "py:method"})


@dataclass(frozen=True)
class Reference:
    """One claim a doc makes, at a line of the doc's stored text."""

    text: str  # normalised: "compute_invoice_total", "payments.retry.RetryPolicy.delay", "--dry-run", "docs/x.md"
    kind: str  # one of KINDS
    line: int  # 1-based line in the doc's stored text (front matter included)
    context: str  # the doc line, clipped to ~300 chars
    details: Mapping[str, Any] = field(default_factory=dict)
    """JSON-safe facts about the claim. Always ``how``: ``role`` and ``directive`` are
    strong (a Sphinx/MyST/mkdocstrings marker says it is an API object), ``code-span``,
    ``interpreted`` (RST single backticks), ``code-block`` and ``prose`` are weaker,
    ``link`` is a link target. Others when they apply: ``role`` (``func``, ``class``,
    ``confval``...), ``directive`` (``autofunction``, ``function``, ``option``...),
    ``module`` (Sphinx ``currentmodule`` in force: the target may be relative to it),
    ``search`` (``:func:`.name```), ``nolink`` (``:func:`!name```), ``signature``
    (``.. function:: f(a, b=1)``), ``program`` (Sphinx ``program`` for options),
    ``lang`` (the code block's), ``called`` and ``call_kwargs`` (keyword arguments the
    doc passes: compare with the signature), ``imported`` (``from a import b``),
    ``decorator``, ``command`` (the shell command an option was given to),
    ``doc_defined`` (the doc's own snippets define this name), ``anchor`` ([first, last]
    line from ``#L10-L20`` or ``:lines:``), ``repo_url`` and ``ref`` (a browse URL: check it
    is this repository), ``srcdir`` (``literalinclude:: /x``: relative to the Sphinx source
    directory, not the repository root), ``dir`` (a link to a directory), ``file`` (the
    path a ``:pyobject:`` lives in)."""


@dataclass(frozen=True)
class DocReferences:
    references: tuple[Reference, ...]
    truncated: bool  # the doc hit the caps (huge generated doc): counted by the pipeline
    ignored: int  # references dropped by inline markers


class _Collector:
    """Deduplicates by (text, kind, line), applies the silenced lines and the cap."""

    def __init__(self, lines: list[str], ignored: set[int], ignore_all: bool, cap: int) -> None:
        self.lines = lines
        self.ignored_lines = ignored
        self.ignore_all = ignore_all
        self.cap = cap
        self.found: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.silenced: set[tuple[str, str, int]] = set()
        self.truncated = False

    def add(self, text: str, kind: str, line: int, details: dict[str, Any]) -> None:
        key = (text, kind, line)
        if self.ignore_all or line in self.ignored_lines:
            self.silenced.add(key)
            return
        seen = self.found.get(key)
        if seen is not None:
            kwargs = set(seen.get("call_kwargs", ())) | set(details.get("call_kwargs", ()))
            if kwargs:
                seen["call_kwargs"] = sorted(kwargs)
            return
        if len(self.found) >= self.cap:
            self.truncated = True
            return
        self.found[key] = dict(details)

    def result(self, truncated: bool, defined: set[str]) -> DocReferences:
        refs = []
        for (text, kind, line), details in sorted(self.found.items(), key=lambda kv: (kv[0][2], kv[0][0])):
            if kind == "symbol" and details.get("how") in _WEAK and (
                    text in defined or text.split(".", 1)[0] in defined):
                details = {**details, "doc_defined": True}  # a name the doc's snippets define
            context = self.lines[line - 1].strip()[:MAX_CONTEXT] if 0 < line <= len(self.lines) else ""
            refs.append(Reference(text, kind, line, context, details))
        return DocReferences(tuple(refs), truncated or self.truncated, len(self.silenced))


def doc_references(
    text: str,
    path: str,
    language: str | None,
    code_languages: frozenset[str] = frozenset(),
    *,
    ignore_all: bool = False,
) -> DocReferences:
    """What a doc claims exists. ``code_languages``: languages the linked code is written
    in (identifiers inside fenced blocks of other languages are not references).
    ``ignore_all``: the doc opted out by a flag its source found (front matter a docs
    source blanks out); everything found counts as ignored."""
    truncated = len(text) > MAX_SCAN_CHARS
    body = text[:MAX_SCAN_CHARS]
    lines = [line[:MAX_LINE_CHARS] for line in body.split("\n")]
    if truncated and len(lines) > 1:
        lines.pop()  # a line cut by the cap is not read
    lang = _format(path, language)
    skip = _front_matter_lines(body) if lang in ("markdown", "asciidoc", "text", "rst") else 0
    if skip and _opted_out(body):
        ignore_all = True
    ignored, whole = _markers(lines)
    ignore_all = ignore_all or whole
    sink = _Collector(lines, ignored, ignore_all, MAX_REFERENCES)
    ctx = Ctx(sink.add, posixpath.dirname(path), frozenset(code_languages))
    if lang == "rst":
        scan_rst(lines, ctx, ignored, skip)
    else:
        _scan_markdown(lines, skip, ctx, ignored, lang)
    return sink.result(truncated, ctx.defined)


def _format(path: str, language: str | None) -> str:
    lang = normalize_language(language) or detect_language(path) or "markdown"
    if lang in ("rst", "asciidoc", "mediawiki", "html"):
        return lang
    return "markdown"


def _front_matter_lines(text: str) -> int:
    """Lines of a leading YAML front-matter block (0 when there is none)."""
    meta, rest = split_front_matter(text)
    if not meta and rest == text:
        return 0
    return text[: len(text) - len(rest)].count("\n")


def _opted_out(text: str) -> bool:
    meta, _ = split_front_matter(text)
    flag = meta.get("stale_check", True)
    return flag is False or isinstance(flag, str) and flag.strip().lower() in ("false", "no", "off")


def _markers(lines: list[str]) -> tuple[set[int], bool]:
    """Lines silenced by a marker (1-based: the marker's own line when it ends a line of
    text, else the next non-blank line) and whether the whole doc opted out. A marker
    shown as an example (in a code span or a fenced block) is not a marker."""
    silenced: set[int] = set()
    whole = False
    pending = False
    fence = ""
    for i, line in enumerate(lines):
        stripped = line.strip()
        if fence:
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                fence = ""
            continue
        opening = _FENCE.match(line)
        if opening:
            fence = opening.group(2)
        if pending and stripped:
            silenced.add(i + 1)
            pending = False
        if fence or "sourcewise" not in line:
            continue
        if _IGNORE_RST_FILE.match(line):
            whole = True
            continue
        if _IGNORE_RST.match(line):
            pending = True
            continue
        quoted = [(a, b) for a, b, _, _ in spans(line)]
        for m in _MARKER.finditer(line):
            if any(a <= m.start() < b for a, b in quoted):
                continue
            if m.group(1):
                whole = True
            elif _MARKER.sub("", line).strip():
                silenced.add(i + 1)
            else:
                pending = True
    return silenced, whole


def _scan_markdown(lines: list[str], start: int, ctx: Ctx, ignored: set[int], lang: str) -> None:
    """Markdown (also the Markdown-ish text of wiki and HTML pages, and AsciiDoc)."""
    i, n = start, len(lines)
    while i < n:
        line = lines[i]
        block = _block_at(lines, i, lang)
        if block is not None:
            block_lang, first, end = block  # body lines first..end-1; resume at end + 1
            if i + 1 in ignored:
                ignored.update(range(i + 1, end + 2))
            directive = _MYST_DIRECTIVE.match(block_lang or "")
            if directive:
                _myst(directive.group(1), directive.group(2), lines, i, first, end, ctx)
            else:
                code_block(block_lang, "\n".join(lines[first:end]), first + 1, ctx)
            i = end + 1
            continue
        auto = _MKDOCSTRINGS.match(line)
        if auto:
            name = symbol_candidate(auto.group(1).replace(":", "."), strong=True)
            if name:
                ctx.add(name, "symbol", i + 1, {"how": "directive", "directive": "mkdocstrings"})
            i += 1
            continue
        if lang in ("mediawiki", "html"):
            for m in _WIKI_CODE.finditer(line):
                code_span(m.group(2), i + 1, line, ctx)
        if lang == "asciidoc":
            for m in _ADOC_LINK.finditer(line):
                link_target(m.group(1), i + 1, ctx)
        prose_line(line, i + 1, ctx)
        i += 1


def _block_at(lines: list[str], i: int, lang: str) -> tuple[str | None, int, int] | None:
    """A code block opening at line ``i``: (language, first body line, closing line)."""
    line = lines[i]
    m = _FENCE.match(line)
    if m:
        prefix, fence, info = m.groups()
        end = i + 1
        while end < len(lines):
            candidate = lines[end].strip().lstrip("> ").strip()
            if candidate.startswith(fence[0] * len(fence)) and not candidate.strip(fence[0]):
                break
            end += 1
        info = info.strip()
        lang_word = info if info.startswith("{") else (info.split()[0] if info else None)
        return lang_word, i + 1, end
    if lang == "asciidoc":
        src = _ADOC_SOURCE.match(line.strip())
        if src and i + 1 < len(lines) and _ADOC_DELIM.match(lines[i + 1]):
            delim = lines[i + 1].strip()
            end = i + 2
            while end < len(lines) and lines[end].strip() != delim:
                end += 1
            return src.group(1), i + 2, end
    if lang in ("mediawiki", "markdown", "html"):
        w = _WIKI_BLOCK.match(line)
        if w:
            tag = w.group(1)
            lang_m = _WIKI_LANG.search(line)
            end = i
            closing = f"</{tag}>"
            while end < len(lines) and closing not in lines[end]:
                end += 1
            if end == i:  # opened and closed on one line: inline, not a block
                return None
            return (lang_m.group(1) if lang_m else None), i + 1, end
    return None


def _myst(name: str, arg: str, lines: list[str], i: int, first: int, end: int, ctx: Ctx) -> None:
    """MyST directive fences: ``{code-block} python``, ``{autofunction} pkg.f``, ``{eval-rst}``."""
    name = name.lower()
    if name in ("code-block", "code", "sourcecode", "code-cell", "ipython"):
        body = lines[first:end]
        skip = 0
        while skip < len(body) and body[skip].lstrip().startswith(":") and body[skip].count(":") >= 2:
            skip += 1
        code_block(arg.split()[0] if arg else ("python" if name != "code-block" else None),
                   "\n".join(body[skip:]), first + skip + 1, ctx)
    elif name in _MYST_AUTO:
        found = symbol_candidate(arg.split("(")[0].strip(), strong=True)
        if found:
            ctx.add(found, "symbol", i + 1, {"how": "directive", "directive": name.split(":")[-1]})
    elif name == "eval-rst":
        scan_rst(lines, ctx, set(), first, end)


__all__ = ["KINDS", "MAX_REFERENCES", "MAX_SCAN_CHARS", "DocReferences", "Reference", "doc_references"]
