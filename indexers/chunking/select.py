"""The one entry point the indexing pipeline calls: pick a chunker for a file and fall
back to line windows when the file's structure cannot be used.

The result says which strategy ran and why a fallback happened, so the pipeline can
count files that lost their structure (``unknown-language``, ``parse-error``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tree_sitter import Tree

from assistant.models import Chunk
from indexers.chunking.code import CodeParseError, chunk_code_tree
from indexers.chunking.languages import (
    detect_language,
    has_grammar,
    is_prose,
    language_from_shebang,
    normalize_language,
)
from indexers.chunking.prose import chunk_prose
from indexers.chunking.windows import DEFAULT_WINDOW_LINES, DEFAULT_WINDOW_OVERLAP, window_chunks

STRATEGIES = ("code", "prose", "window")
FALLBACK_REASONS = ("unknown-language", "parse-error")

# C++ in a ".h" header: the C grammar would mangle it.
_CPP_MARKERS = re.compile(
    r"^\s*(?:class\s+\w+[^;]*\{|namespace\s+[\w:]*\s*\{|template\s*<|(?:public|private|protected)\s*:)"
    r"|\bstd::",
    re.MULTILINE,
)


@dataclass(frozen=True)
class ChunkResult:
    """Chunks of one file (indexed 0..n-1, in line order) and how they were made.

    ``tree`` is the tree-sitter parse the code chunker used (strategy ``code`` only) and
    ``language`` the language it was parsed as: the symbol table reads definitions from
    the same parse instead of parsing the file a second time.
    """

    chunks: tuple[Chunk, ...]
    strategy: str
    fallback_reason: str | None
    tree: Tree | None = field(default=None, compare=False, repr=False)
    language: str | None = field(default=None, compare=False)


def resolve_language(text: str, path: str, language: str | None = None) -> str | None:
    """The language to chunk as: the caller's, else from the path, else a shebang."""
    found = normalize_language(language) or detect_language(path) or language_from_shebang(text)
    if found == "c" and path.lower().endswith(".h") and _CPP_MARKERS.search(text, 0, 65536):
        found = "cpp"
    return found


def chunk_text(
    text: str, path: str, language: str | None = None, *, max_chars: int = 1500
) -> ChunkResult:
    """Chunk a file's text: syntax-aware for code, heading-aware for docs, else windows.

    Never returns zero chunks for non-blank text.
    """
    if not text.strip():
        return ChunkResult((), "window", None)
    lang = resolve_language(text, path, language)
    reason = "unknown-language"
    if lang is not None and has_grammar(lang):
        try:
            chunks, tree = chunk_code_tree(text, lang, max_chars=max_chars)
        except (CodeParseError, RecursionError):  # RecursionError: pathological nesting
            reason = "parse-error"
        except LookupError:
            reason = "unknown-language"  # the grammar wheel is missing or broken
        else:
            if chunks:
                return ChunkResult(tuple(chunks), "code", None, tree, lang)
            reason = "parse-error"
    elif lang is not None and is_prose(lang):
        chunks = chunk_prose(text, lang, max_chars=max_chars)
        if chunks:
            return ChunkResult(tuple(chunks), "prose", None, None, lang)
    windows = window_chunks(
        text, max_lines=DEFAULT_WINDOW_LINES, overlap=DEFAULT_WINDOW_OVERLAP, max_chars=max_chars
    )
    return ChunkResult(tuple(windows), "window", reason, None, lang)
