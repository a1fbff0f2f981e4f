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
from indexers.staleness.symbols_common import KINDS, Definition, Param
from indexers.staleness.symbols_langs import language_definitions
from indexers.staleness.symbols_python import python_definitions

__all__ = ["KINDS", "Definition", "Param", "definitions_from_tree", "extract_definitions",
           "module_names"]

MAX_DEFINITIONS = 20_000  # a generated file with more defines nothing a doc names by hand

_ENV_CALL = re.compile(
    r"""(?:\bgetenv|\benviron\.get|\benviron\.setdefault|\benviron\.pop|\bGetEnvironmentVariable"""
    r"""|\benv::var|\benv::var_os|\bENV\.fetch|\bos\.Getenv|\bos\.LookupEnv|\bSystem\.getenv)"""
    r"""[ \t]*\([ \t\n]*["']([A-Za-z_][A-Za-z0-9_]{0,127})["']"""
)
_ENV_INDEX = re.compile(
    r"""(?:\benviron|\bENV|\$_ENV|\$_SERVER|\bprocess\.env)[ \t]*\[[ \t]*["']([A-Za-z_][A-Za-z0-9_]{0,127})["'][ \t]*\]"""
)
_ENV_IN = re.compile(r"""["']([A-Z_][A-Z0-9_]{0,127})["'][ \t]+in[ \t]+(?:os\.)?environ\b""")
_ENV_DOT = re.compile(r"\bprocess\.env\.([A-Za-z_][A-Za-z0-9_]{0,127})")
# click's on/off flags: "--color/--no-color" declares both options
_CLICK_FLAGS = re.compile(r"""["'](--[A-Za-z][\w-]{0,60}\w)[ \t]*/[ \t]*(--[A-Za-z][\w-]{0,60}\w)["']""")
_SETTING_CALL = re.compile(
    r"""\b(?:addini|add_config_value|add_ini_option)[ \t]*\([ \t\n]*["']([A-Za-z_][\w.-]{0,127})["']"""
)


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
_GATES: tuple[tuple[re.Pattern[str], tuple[str, ...], str], ...] = (
    (_ENV_CALL, ("getenv", "environ", "Getenv", "LookupEnv", "GetEnvironmentVariable", "env::var",
                 "ENV.fetch"), "env"),
    (_ENV_INDEX, ("environ", "ENV", "$_SERVER", "process.env"), "env"),
    (_ENV_IN, ("environ",), "env"),
    (_ENV_DOT, ("process.env",), "env"),
    (_SETTING_CALL, ("addini", "add_config_value", "add_ini_option"), "setting"),
)


def _declared_in_text(text: str) -> Iterator[Definition]:
    """env keys, long options and config keys: declared by calls, found in the text."""
    starts: list[int] | None = None
    for pattern, needles, kind in _GATES:
        if not any(n in text for n in needles):
            continue
        for m in pattern.finditer(text):
            starts = starts or _line_starts(text)
            line = _line_at(starts, m.start(1))
            yield Definition(m.group(1), kind, line, line)
    if "'--" in text or '"--' in text:
        for offset, option in declared_options(text):
            starts = starts or _line_starts(text)
            line = _line_at(starts, offset)
            yield Definition(option, "option", line, line)
    if "/--" in text or "/ --" in text:
        for m in _CLICK_FLAGS.finditer(text):
            starts = starts or _line_starts(text)
            line = _line_at(starts, m.start())
            yield Definition(m.group(1), "option", line, line)
            yield Definition(m.group(2), "option", line, line)


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in re.finditer("\n", text))]


def _line_at(starts: list[int], offset: int) -> int:
    return bisect_right(starts, offset)


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
        out.append(d)
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
