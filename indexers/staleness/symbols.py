"""What a code file defines: the ground truth a doc's references are checked against.

Definitions come from the tree-sitter tree the chunker already parsed (no second
parse while indexing); ``extract_definitions`` parses by itself for file versions that
were never indexed (history queries). Names are qualified within the file
(``RetryPolicy.delay``); how docs name the module itself comes from ``module_names``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("function", "method", "class", "constant", "variable", "option", "setting", "env")


@dataclass(frozen=True)
class Param:
    """One parameter of a function signature."""

    name: str  # "attempt"; "*args", "**kwargs" keep their stars; "/" and "*" markers too
    default: str | None  # source text of the default, whitespace-normalised ("0", "'GET'", "None")
    annotation: str | None = None


@dataclass(frozen=True)
class Definition:
    """One name a file defines, with its signature or simple value when known."""

    name: str  # qualified within the file: "RetryPolicy.delay", "RETRY_LIMIT", "--dry-run"
    kind: str  # one of KINDS
    line: int  # 1-based first line (the def/class line, not decorators)
    end_line: int
    signature: str | None = None  # "(payment_id: str, attempt: int = 0)", normalised
    params: tuple[Param, ...] = ()
    value: str | None = None  # simple constants: literal source text, <= 200 chars


def definitions_from_tree(root: object, text: str, path: str, language: str) -> list[Definition]:
    """Definitions from the tree-sitter root node the chunker already parsed (no second
    parse). ``text`` is the text that was parsed."""
    return []


def extract_definitions(text: str, path: str, language: str | None = None) -> list[Definition]:
    """Parse ``text`` and extract: for versions of files that were never indexed."""
    return []


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
