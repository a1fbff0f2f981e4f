"""What a code file defines: the ground truth a doc's references are checked against.

Definitions come from the tree-sitter tree the chunker already parsed (no second
parse while indexing); ``extract_definitions`` parses by itself for file versions that
were never indexed (history queries). Names are qualified within the file
(``RetryPolicy.delay``); how docs name the module itself comes from ``module_names``.

Besides the structural definitions (``symbols_python``, ``symbols_langs``), three
kinds are read from the text of any code file, since their declarations are calls:
environment keys the code reads (``os.environ["X"]``, ``getenv("X")``,
``process.env.X``; kind ``env``), declared long command-line options (the same
``add_argument``/``addoption``/``click.option`` rule as the retrieval keys; kind
``option``) and configuration keys declared by an obvious call (pytest
``parser.addini("name")``, Sphinx ``add_config_value("name")``; kind ``setting``).

A file whose parse is too broken to chunk (``CodeParseError``) gets no symbol table at
all: its names are unknown, never "absent".
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator

from tree_sitter import Node, Tree

from assistant.retrieval.identifiers import declared_options
from indexers.chunking.code import chunk_code_tree
from indexers.chunking.select import resolve_language
from indexers.staleness.symbols_common import KINDS, Definition, Param, sanitize
from indexers.staleness.symbols_langs import language_definitions
from indexers.staleness.symbols_python import python_definitions

__all__ = ["KINDS", "Definition", "Param", "definitions_from_tree", "extract_definitions",
           "module_names"]

MAX_DEFINITIONS = 20_000  # a generated file with more defines nothing a doc names by hand

_KEY = r"""[ \t\n]*["']([A-Za-z_][A-Za-z0-9_]{0,127})["']"""
# (needle, pattern matched where the needle starts, kind): the needles are found with
# ``str.find`` (C speed; a file that never names them costs one pass per needle)
_ANCHORS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("getenv", re.compile(r"getenv[ \t]*\(" + _KEY), "env"),
    ("Getenv", re.compile(r"Getenv[ \t]*\(" + _KEY), "env"),
    ("LookupEnv", re.compile(r"LookupEnv[ \t]*\(" + _KEY), "env"),
    ("GetEnvironmentVariable", re.compile(r"GetEnvironmentVariable[ \t]*\(" + _KEY), "env"),
    ("env::var", re.compile(r"env::var(?:_os)?[ \t]*\(" + _KEY), "env"),
    ("environ", re.compile(r"environ(?:\.(?:get|setdefault|pop)[ \t]*\(|[ \t]*\[)" + _KEY), "env"),
    ("ENV", re.compile(r"ENV(?:\.fetch[ \t]*\(|[ \t]*\[)" + _KEY), "env"),
    ("$_SERVER", re.compile(r"\$_SERVER[ \t]*\[" + _KEY), "env"),
    ("process.env", re.compile(r"process\.env(?:\.([A-Za-z_][A-Za-z0-9_]{0,127})|[ \t]*\[" + _KEY + ")"), "env"),
    ("addini", re.compile(r"""addini[ \t]*\([ \t\n]*["']([A-Za-z_][\w.-]{0,127})["']"""), "setting"),
    ("add_config_value", re.compile(r"""add_config_value[ \t]*\([ \t\n]*["']([A-Za-z_][\w.-]{0,127})["']"""),
     "setting"),
    ("add_ini_option", re.compile(r"""add_ini_option[ \t]*\([ \t\n]*["']([A-Za-z_][\w.-]{0,127})["']"""),
     "setting"),
)
# "X" in os.environ / environ / _environ (``from os import environ as _environ``)
_ENV_IN = re.compile(r"""["']([A-Z_][A-Z0-9_]{0,127})["'][ \t]+in[ \t]+(?:os\.|_)?$""")
# click's on/off flags: "--color/--no-color" declares both options
_CLICK_FLAGS = re.compile(r"""["'](--[A-Za-z][\w-]{0,60}\w)[ \t]*/[ \t]*(--[A-Za-z][\w-]{0,60}\w)["']""")
_INI_ALIASES = re.compile(r"""\baliases[ \t]*=[ \t]*[(\[]([^()\[\]]{0,300})[)\]]""")
_STRING = re.compile(r"""["']([A-Za-z_][\w.-]{0,127})["']""")
_SETATTR = re.compile(r"""\bsetattr[ \t]*\([ \t]*([A-Z][A-Za-z0-9_]{0,80})[ \t]*,[ \t]*["']([A-Za-z_]\w{0,80})["']""")
_DECLS = re.compile(r"""\b\w*decls[ \t]*=[ \t]*[(\[]([^()\[\]]{0,300})[)\]]""")
_LONG_OPTION = re.compile(r"""["'](--[A-Za-z][\w-]{0,60}\w)["']""")
_OPTION_WINDOW = 650  # an option literal's declaring call starts at most this far before it


def definitions_from_tree(root: Node | Tree, text: str, path: str, language: str) -> list[Definition]:
    """Definitions from the tree-sitter tree (or its root node) the chunker already
    parsed, in line order. ``text`` is the text that was parsed; ``path`` is unused
    today and kept so a rule can depend on the file (``conftest.py``, ``setup.py``)."""
    node = root.root_node if isinstance(root, Tree) else root
    if language == "python":
        found = python_definitions(node, text)
    else:
        found = language_definitions(node, text, language)
    found.extend(_declared_in_text(text))
    return _unique(found)


def extract_definitions(text: str, path: str, language: str | None = None) -> list[Definition]:
    """Parse ``text`` and extract: for versions of files that were never indexed.

    Same trust rule as indexing (it goes through the chunker's parse): raises
    ``LookupError`` when no grammar is known for the file and
    ``indexers.chunking.code.CodeParseError`` when the parse is too broken to trust,
    the cases where the pipeline stores no symbol table."""
    lang = resolve_language(text, path, language)
    if lang is None:
        raise LookupError(f"no language known for {path!r}")
    _, tree = chunk_code_tree(text, lang)
    if tree is None:
        return []
    return definitions_from_tree(tree, text, path, lang)


# Substrings a text must hold for a pattern to be worth running (most files read no
# environment and declare no option: the gate keeps the scan at C speed).
def _declared_in_text(text: str) -> Iterator[Definition]:
    """env keys, long options and config keys: declared by calls, found in the text."""
    starts = _LazyLines(text)
    for needle, pattern, kind in _ANCHORS:
        pos = text.find(needle)
        while pos >= 0:
            before = text[pos - 1] if pos else " "
            if needle == "environ" and before == "_" and not _word_char(text[pos - 2] if pos > 1 else " "):
                before = " "  # the private alias ``_environ`` is os.environ too
            if not (before.isalnum() or before == "_") or needle == "ENV" and text[pos - 2 : pos] == "$_":
                m = pattern.match(text, pos)
                name = next((g for g in m.groups() if g), None) if m else None
                if name:
                    yield Definition(name, kind, starts.line(pos), starts.line(pos))
                if needle == "environ":
                    inside = _ENV_IN.search(text, max(0, pos - 140), pos)
                    if inside:
                        yield Definition(inside.group(1), "env", starts.line(pos), starts.line(pos))
            pos = text.find(needle, pos + len(needle))
    for offset, option in _options(text):
        yield Definition(option, "option", starts.line(offset), starts.line(offset))
    if "aliases" in text and "addini" in text:  # pytest's ``addini("new", aliases=["old"])``
        for m in _INI_ALIASES.finditer(text):
            line = starts.line(m.start())
            for lit in _STRING.finditer(m.group(1)):
                yield Definition(lit.group(1), "setting", line, line)
    if "setattr" in text:  # ``setattr(Cache, "makedir", ...)``: a plugin adds a method
        for m in _SETATTR.finditer(text):
            line = starts.line(m.start())
            yield Definition(f"{m.group(1)}.{m.group(2)}", "variable", line, line)
    if "decls" in text:  # click's ``param_decls = ("--version",)`` default declarations
        for m in _DECLS.finditer(text):
            line = starts.line(m.start())
            for lit in _LONG_OPTION.finditer(m.group(1)):
                yield Definition(lit.group(1), "option", line, line)
    if "/--" in text or "/ --" in text:
        for m in _CLICK_FLAGS.finditer(text):
            line = starts.line(m.start())
            yield Definition(m.group(1), "option", line, line)
            yield Definition(m.group(2), "option", line, line)


def _word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def _options(text: str) -> list[tuple[int, str]]:
    """``declared_options`` (the retrieval keys' rule), run only on the stretches of text
    before option literals: a file with none costs two ``str.find`` passes."""
    spans: list[list[int]] = []
    for quote in ("'--", '"--'):
        pos = text.find(quote)
        while pos >= 0:
            spans.append([max(0, pos - _OPTION_WINDOW), pos + 100])
            pos = text.find(quote, pos + 3)
    spans.sort()
    merged: list[list[int]] = []
    for span in spans:
        if merged and span[0] <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], span[1])
        else:
            merged.append(span)
    found: dict[tuple[int, str], None] = {}
    for lo, hi in merged:
        for offset, option in declared_options(text[lo:hi]):
            found[(lo + offset, option)] = None
    return list(found)


class _LazyLines:
    """Offset -> 1-based line, with the line table built on first use."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts: list[int] | None = None

    def line(self, offset: int) -> int:
        if self.starts is None:
            self.starts = _line_starts(self.text)
        return bisect_right(self.starts, offset)


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in re.finditer("\n", text))]


def _unique(found: list[Definition]) -> list[Definition]:
    """One definition per (name, kind), the first by line; a property's setter, an
    ``@overload`` stub or a name rebound later is the same name."""
    seen: set[tuple[str, str]] = set()
    out: list[Definition] = []
    for d in sorted(found, key=lambda d: (d.line, d.end_line)):
        key = (d.name, d.kind)
        if key in seen or not d.name:
            continue
        seen.add(key)
        out.append(sanitize(d))
        if len(out) >= MAX_DEFINITIONS:
            break
    return out


_SOURCE_ROOTS = frozenset({"src", "lib", "python", "source", "sources", "py"})
# A file that stands for its directory: extension -> stems
_PACKAGE_FILES = {
    "py": {"__init__"}, "pyi": {"__init__"}, "js": {"index"}, "mjs": {"index"}, "ts": {"index"},
    "tsx": {"index"}, "jsx": {"index"}, "rs": {"mod"},
}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def module_names(path: str) -> list[str]:
    """How docs name the module a file is: ``src/pkg/mod.py`` -> ``["pkg.mod",
    "src.pkg.mod"]``; ``pkg/__init__.py`` -> ``["pkg"]``. Only files whose every part
    is an identifier have a dotted name (``my-scripts/x.py`` cannot be imported)."""
    parts = [p for p in path.strip("/").split("/") if p]
    if not parts or "." not in parts[-1]:
        return []
    parts[-1], ext = parts[-1].rsplit(".", 1)
    if parts[-1] in _PACKAGE_FILES.get(ext.lower(), ()) and len(parts) > 1:
        parts = parts[:-1]
    if not all(_IDENT.fullmatch(p) for p in parts):
        return []
    names = [".".join(parts)]
    if len(parts) > 1 and parts[0] in _SOURCE_ROOTS:
        names.insert(0, ".".join(parts[1:]))
    return names
