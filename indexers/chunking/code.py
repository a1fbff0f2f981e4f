"""Symbol-aware, line-exact code chunking on a tree-sitter tree.

We keep our own walk instead of llama-index's ``CodeSplitter`` because citations need
exact line ranges. The rules, in order:

* a definition (function, method, class, struct, impl, ...) that fits the budget is one
  chunk whose ``symbol`` is its dotted path (``HttpClient.send``, Go ``Server.Start``);
* small neighbours (imports, constants, definitions under ``min_chars``) merge up to
  the budget instead of becoming one tiny chunk each; a definition of real size never
  shares a chunk with another one;
* anything over the budget is split into its members (a class into its methods, a
  function into runs of statements), recursively; parts after the first carry the
  enclosing signature lines as ``context``; structure-less rests become line windows;
* every non-blank line lands in exactly one chunk, and chunks never overlap.

The per-language node knowledge lives in ``code_rules``; this module is language-neutral.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from itertools import accumulate

from tree_sitter import Node, Tree

from assistant.models import Chunk
from indexers.chunking.code_rules import (
    BODY_TYPES,
    CONTAINER_KINDS,
    LEADING_TYPES,
    RULES,
    LanguageRules,
    classify,
)
from indexers.chunking.languages import get_parser
from indexers.chunking.windows import split_lines, window_spans

DEFAULT_MAX_CHARS = 1500
DEFAULT_MAX_LINES = 60
DEFAULT_MIN_CHARS = 200
# Above this share of non-blank lines with tokens the grammar could not place, the
# syntax tree is not trusted and the caller falls back to line windows.
DEFAULT_MAX_ERROR_RATIO = 0.35

_MAX_DEPTH = 40  # deeper nesting is cut into line windows (keeps recursion bounded)
_MAX_HEADER_LINES = 6  # longer signatures show their first lines and their last one
_MAX_CONTEXT_HEADERS = 6

Rows = tuple[int, int]  # 0-based inclusive row range

# Leading children of a definition that are not part of its signature line(s).
_NOT_SIGNATURE = LEADING_TYPES | {
    "modifiers", "annotation", "marker_annotation", "attribute_list", "attribute",
    "decorator",
}


class CodeParseError(ValueError):
    """The grammar could not make sense of the text (it raised, or too many error nodes)."""


@dataclass(slots=True)
class _Scope:
    symbol: str | None
    kind: str
    ctx: tuple[Rows, ...]  # header rows of the enclosing split definitions


@dataclass(slots=True)
class _Piece:
    start: int
    end: int
    node: Node | None  # what to split when the piece is over budget
    symbol: str | None
    kind: str
    scope: _Scope
    is_def: bool = False
    header: Rows | None = None  # signature rows of a definition
    leading: bool = False  # comment/attribute that belongs to what follows


@dataclass(slots=True)
class _Out:
    start: int
    end: int
    symbol: str | None
    kind: str
    ctx: tuple[Rows, ...]
    text: str | None = None


def _with_header(ctx: tuple[Rows, ...], rows: Rows | None) -> tuple[Rows, ...]:
    if rows is None or (ctx and rows[0] <= ctx[-1][1]):
        return ctx
    return (*ctx, rows)


def _common_symbol(symbols: list[str]) -> str | None:
    """Longest shared dotted prefix: ``A.b`` and ``A.c`` share ``A``."""
    if not symbols:
        return None
    shared = os.path.commonprefix([s.split(".") for s in symbols])
    return ".".join(shared) or None


class _Chunker:
    def __init__(
        self, lines: list[str], rules: LanguageRules, max_chars: int, max_lines: int, min_chars: int
    ) -> None:
        self.lines = lines
        self.last = len(lines) - 1
        self.blank = [not line.strip() for line in lines]
        self.cum = [0, *accumulate(len(line) + 1 for line in lines)]
        self.rules = rules
        self.max_chars = max_chars
        self.max_lines = max_lines
        self.min_chars = min_chars

    # --- measuring ----------------------------------------------------------------

    def chars(self, start: int, end: int) -> int:
        return self.cum[end + 1] - self.cum[start] - 1

    def rows(self, node: Node) -> Rows:
        start = node.start_point.row
        end_point = node.end_point
        end = end_point.row
        if end_point.column == 0 and end > start:
            end -= 1  # the node ends with its newline
        return min(start, self.last), min(end, self.last)

    def error_ratio(self, root: Node) -> float:
        """Share of non-blank lines with tokens sitting directly in ERROR nodes (or
        MISSING): not whole ERROR regions, which often wrap much well-parsed code."""
        bad: set[int] = set()
        stack = [root]
        while stack:
            node = stack.pop()
            in_error = node.is_error
            for child in node.children:
                if child.is_missing:
                    bad.add(child.start_point.row)
                elif child.is_error or (child.has_error and child.child_count):
                    stack.append(child)
                elif in_error and child.child_count == 0:
                    bad.update(range(child.start_point.row, child.end_point.row + 1))
        if root.is_error and root.child_count == 0:
            return 1.0
        total = sum(1 for b in self.blank if not b) or 1
        return sum(1 for row in bad if row <= self.last and not self.blank[row]) / total

    # --- tree navigation ------------------------------------------------------------

    def body(self, node: Node) -> Node | None:
        found = node.child_by_field_name("body")
        if found is None:
            found = next((c for c in node.named_children if c.type in BODY_TYPES), None)
        return found

    def members(self, node: Node, use_body: bool) -> list[Node]:
        """The children a node splits into, skipping single-child wrapper levels."""
        container = (self.body(node) if use_body else None) or node
        kids = [c for c in container.named_children if c.end_byte > c.start_byte]
        while (
            len(kids) == 1
            and kids[0].named_child_count
            and classify(kids[0], self.rules) is None
            and kids[0].type not in self.rules.transparent
        ):
            kids = [c for c in kids[0].named_children if c.end_byte > c.start_byte]
        return kids

    def header(self, node: Node) -> Rows:
        """Signature rows of a definition: from its first line past annotations and
        attributes to the line before its body."""
        start = self.rows(node)[0]
        for child in node.children:
            if child.type not in _NOT_SIGNATURE:
                start = max(start, min(child.start_point.row, self.last))
                break
        body = self.body(node)
        end = start
        if body is not None:
            row, col = body.start_point.row, body.start_point.column
            if row > start:
                end = row - 1 if not self.lines[min(row, self.last)][:col].strip() else row
        return start, min(end, start + 32, self.last)

    # --- pieces ---------------------------------------------------------------------

    def collect(
        self, nodes: list[Node], scope: _Scope, out: list[_Piece], depth: int = 0
    ) -> None:
        """One piece per node; transparent containers (namespaces, #ifdef) are flattened."""
        rules = self.rules
        for node in nodes:
            if node.end_byte <= node.start_byte:
                continue
            start, end = self.rows(node)
            # Namespaces and #ifdef blocks, and the blocks of if/for/try statements being
            # split, are flattened so their members group with their neighbours.
            if end > start and depth < _MAX_DEPTH and (
                node.type in rules.transparent or node.type in BODY_TYPES or node.is_error
            ):
                body = node.child_by_field_name("body") if node.type in rules.transparent else None
                members = self.members(body or node, use_body=False)
                if members:
                    first = self.rows(members[0])[0]
                    if first > start:
                        out.append(_Piece(start, first - 1, None, scope.symbol, scope.kind, scope))
                    before = len(out)
                    self.collect(members, scope, out, depth + 1)
                    if len(out) > before:
                        out[-1].end = max(out[-1].end, end)
                        continue
            found = classify(node, rules)
            if found is None:
                out.append(
                    _Piece(start, end, node, scope.symbol, scope.kind, scope,
                           leading=node.type in LEADING_TYPES)
                )
                continue
            kind = found.kind
            if kind == "function" and scope.kind in CONTAINER_KINDS and scope.kind != "module":
                kind = "method"
            symbol = f"{scope.symbol}.{found.name}" if scope.symbol else found.name
            out.append(
                _Piece(start, end, found.inner, symbol, kind, scope, is_def=True,
                       header=self.header(found.inner))
            )

    def normalize(self, pieces: list[_Piece], lo: int, hi: int) -> list[_Piece]:
        """Make pieces disjoint and contiguous over lo..hi, then trim blank edges."""
        merged: list[_Piece] = []
        for p in pieces:
            if merged and p.start <= merged[-1].end:
                q = merged[-1]
                if (p.is_def and not q.is_def) or (
                    p.is_def == q.is_def and p.end - p.start > q.end - q.start
                ):
                    q.node, q.symbol, q.kind = p.node, p.symbol, p.kind
                    q.is_def, q.header = p.is_def, p.header
                q.end = max(q.end, p.end)
                q.leading = False
                continue
            merged.append(p)
        glued: list[_Piece] = []
        for p in reversed(merged):
            if p.leading and glued and glued[-1].start <= p.end + 1:
                glued[-1].start = p.start  # a doc comment or attribute joins what follows
                continue
            glued.append(p)
        glued.reverse()
        if not glued:
            return glued
        glued[0].start = min(glued[0].start, lo)
        for a, b in zip(glued, glued[1:]):
            a.end = b.start - 1  # gaps (closing braces, blank lines) join the piece before
        glued[-1].end = max(glued[-1].end, hi)
        kept: list[_Piece] = []
        blank = self.blank
        for p in glued:
            while p.start <= p.end and blank[p.start]:
                p.start += 1
            while p.end >= p.start and blank[p.end]:
                p.end -= 1
            if p.start <= p.end:
                kept.append(p)
        return kept

    # --- grouping and splitting -----------------------------------------------------

    def emit(self, pieces: list[_Piece], out: list[_Out], depth: int) -> None:
        group: list[_Piece] = []
        size = 0
        has_big_def = False
        i = 0
        while i < len(pieces):
            p = pieces[i]
            i += 1
            own = self.chars(p.start, p.end)
            if own > self.max_chars or p.end - p.start + 1 > self.max_lines:
                # Tiny non-definition neighbours ride along with the piece being split
                # rather than becoming one-line chunks of their own.
                if group and size < self.min_chars and not any(q.is_def for q in group):
                    p.start = group[0].start
                elif group:
                    out.append(self.group_out(group))
                group = []
                extra = 0
                while i < len(pieces) and not pieces[i].is_def:
                    extra += self.chars(pieces[i].start, pieces[i].end)
                    if extra >= self.min_chars:
                        break
                    p.end = pieces[i].end
                    i += 1
                self.split(p, out, depth)
                continue
            big_def = p.is_def and own >= self.min_chars
            if group:
                span = self.chars(group[0].start, p.end)
                ok = span <= self.max_chars and p.end - group[0].start + 1 <= self.max_lines
                if ok and big_def:
                    ok = not has_big_def and size < self.min_chars
                elif ok and has_big_def:
                    ok = own < self.min_chars
                if ok:
                    group.append(p)
                    size = span
                    has_big_def = has_big_def or big_def
                    continue
                out.append(self.group_out(group))
            group, size, has_big_def = [p], own, big_def
        if group:
            out.append(self.group_out(group))

    def group_out(self, group: list[_Piece]) -> _Out:
        # One definition of real size names the chunk; otherwise the shared scope does.
        big = [p.symbol for p in group if p.is_def and self.chars(p.start, p.end) >= self.min_chars]
        if len(big) == 1:
            symbol = big[0]
        else:
            symbol = _common_symbol([p.symbol for p in group if p.symbol])
        kind = "code"
        if symbol is not None:
            kind = next(
                (p.kind for p in group if p.symbol == symbol),
                next((p.scope.kind for p in group if p.scope.symbol == symbol), "code"),
            )
        return _Out(group[0].start, group[-1].end, symbol, kind, group[0].scope.ctx)

    def split(self, p: _Piece, out: list[_Out], depth: int) -> None:
        node = p.node
        members = self.members(node, use_body=p.is_def) if node is not None else []
        if node is None or depth >= _MAX_DEPTH or not members:
            self.windows(p, out)
            return
        if p.is_def:
            scope = _Scope(p.symbol, p.kind, _with_header(p.scope.ctx, p.header))
        elif node.type in LEADING_TYPES or node.is_error:
            scope = p.scope  # a comment's first line is no signature
        else:
            first_row = self.rows(node)[0]
            scope = _Scope(p.scope.symbol, p.scope.kind,
                           _with_header(p.scope.ctx, (first_row, first_row)))
        pieces: list[_Piece] = []
        first = max(self.rows(members[0])[0], p.start)
        if first > p.start:  # the signature (and decorators, doc comments) before the body
            pieces.append(_Piece(p.start, first - 1, None, p.symbol, p.kind, p.scope))
        self.collect(members, scope, pieces, depth)
        pieces = [q for q in pieces if q.end >= p.start and q.start <= p.end]
        for q in pieces:
            q.start, q.end = max(q.start, p.start), min(q.end, p.end)
        self.emit(self.normalize(pieces, p.start, p.end), out, depth + 1)

    def windows(self, p: _Piece, out: list[_Out]) -> None:
        """Last resort for a piece with no usable structure: line windows, no overlap."""
        later = p.scope.ctx
        if p.is_def:
            later = _with_header(later, p.header)
        elif p.node is not None and p.node.type not in LEADING_TYPES and not p.node.is_error:
            later = _with_header(later, (p.start, p.start))
        spans = window_spans(
            self.lines, p.start, p.end, max_lines=self.max_lines, overlap=0,
            max_chars=self.max_chars, balance=True,
        )
        for i, (start, end, text) in enumerate(spans):
            out.append(_Out(start, end, p.symbol, p.kind, p.scope.ctx if i == 0 else later, text))

    # --- entry ------------------------------------------------------------------------

    def run(self, root: Node) -> list[Chunk]:
        top = _Scope(None, "code", ())
        pieces: list[_Piece] = []
        self.collect(self.members(root, use_body=False), top, pieces)
        if not pieces:
            pieces = [_Piece(0, self.last, None, None, "code", top)]
        outs: list[_Out] = []
        self.emit(self.normalize(pieces, 0, self.last), outs, 0)
        return [
            Chunk(
                index=i,
                text=o.text if o.text is not None else "\n".join(self.lines[o.start : o.end + 1]),
                start_line=o.start + 1,
                end_line=o.end + 1,
                symbol=o.symbol,
                context=self.context(o.ctx, o.start),
                chunk_kind=o.kind,
            )
            for i, o in enumerate(outs)
        ]

    def context(self, ctx: tuple[Rows, ...], start: int) -> str | None:
        """Signature lines of the enclosing definitions that the chunk does not show."""
        ctx = tuple(rows for rows in ctx if rows[0] < start)
        if not ctx:
            return None
        if len(ctx) > _MAX_CONTEXT_HEADERS:
            ctx = ctx[:2] + ctx[-(_MAX_CONTEXT_HEADERS - 2) :]
        out: list[str] = []
        for start, end in ctx:
            rows = list(range(start, end + 1))
            if len(rows) > _MAX_HEADER_LINES:
                rows = rows[: _MAX_HEADER_LINES - 1] + rows[-1:]
            out.extend(self.lines[row].rstrip() for row in rows)
        return "\n".join(out)


def chunk_code(
    text: str,
    language: str,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    max_lines: int = DEFAULT_MAX_LINES,
    min_chars: int = DEFAULT_MIN_CHARS,
    max_error_ratio: float = DEFAULT_MAX_ERROR_RATIO,
) -> list[Chunk]:
    """Chunks for source ``text`` in a tree-sitter ``language``, indexed from 0.

    Raises ``LookupError`` when no grammar is installed for the language and
    ``CodeParseError`` when the parse is too broken to trust (the caller falls back to
    line windows).
    """
    return chunk_code_tree(
        text, language, max_chars=max_chars, max_lines=max_lines, min_chars=min_chars,
        max_error_ratio=max_error_ratio,
    )[0]


def chunk_code_tree(
    text: str,
    language: str,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    max_lines: int = DEFAULT_MAX_LINES,
    min_chars: int = DEFAULT_MIN_CHARS,
    max_error_ratio: float = DEFAULT_MAX_ERROR_RATIO,
) -> tuple[list[Chunk], Tree | None]:
    """``chunk_code`` and the tree it chunked, so the symbol table reuses the parse
    (``None`` for blank text, which is not parsed)."""
    rules = RULES.get(language)
    parser = get_parser(language) if rules is not None else None
    if rules is None or parser is None:
        raise LookupError(f"no tree-sitter grammar for {language!r}")
    if not text.strip():
        return [], None
    lines = split_lines(text)
    try:
        tree = parser.parse(text.encode("utf-8", "surrogatepass"))
    except (ValueError, RuntimeError, UnicodeError) as exc:
        raise CodeParseError(f"tree-sitter failed: {exc}") from exc
    chunker = _Chunker(lines, rules, max(1, max_chars), max(1, max_lines), max(0, min_chars))
    root = tree.root_node
    if root.has_error:
        ratio = chunker.error_ratio(root)
        if ratio > max_error_ratio:
            raise CodeParseError(f"{ratio:.0%} of non-blank lines are in syntax errors")
    return chunker.run(root), tree
