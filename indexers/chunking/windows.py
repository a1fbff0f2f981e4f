"""Line windows: the fallback when no structure can be trusted, and the last resort
inside the structural chunkers for pieces with no usable inner structure.

Windows are line-exact (``start_line``..``end_line`` and the text agree) except for a
single line longer than the character budget, which is cut into several chunks that
all carry that line number; nothing else ever exceeds ``max_chars``.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.models import Chunk

DEFAULT_WINDOW_LINES = 40
DEFAULT_WINDOW_OVERLAP = 8
DEFAULT_MAX_CHARS = 1500

Span = tuple[int, int, str]  # (first row, last row, text), rows 0-based inclusive


def split_lines(text: str) -> list[str]:
    """Lines as tree-sitter counts them (only ``\\n`` ends a line; no phantom last line)."""
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return lines


def cut_long_line(line: str, max_chars: int) -> list[str]:
    """Cut one overlong line into parts of at most ``max_chars``, at a space when one
    is near the cut, so no window blows the embedder's budget."""
    max_chars = max(1, max_chars)
    parts: list[str] = []
    start = 0
    n = len(line)
    while n - start > max_chars:
        end = start + max_chars
        space = line.rfind(" ", start + (max_chars * 4) // 5, end)
        if space > start:
            end = space + 1
        parts.append(line[start:end])
        start = end
    if start < n:
        parts.append(line[start:])
    return parts


def window_spans(
    lines: Sequence[str],
    start: int,
    end: int,
    *,
    max_lines: int = DEFAULT_WINDOW_LINES,
    overlap: int = DEFAULT_WINDOW_OVERLAP,
    max_chars: int = DEFAULT_MAX_CHARS,
    balance: bool = False,
) -> list[Span]:
    """Windows over rows ``start..end`` (inclusive).

    Each window holds at most ``max_lines`` lines and ``max_chars`` characters; the next
    one starts ``overlap`` lines before the previous end (never less than half a window
    forward, so short windows do not repeat most of their lines). Blank edge lines are
    trimmed and all-blank windows dropped. ``balance`` evens out window sizes, so a
    range a little over the budget becomes two halves rather than a full window and a
    one-line tail.
    """
    max_lines = max(1, max_lines)
    overlap = max(0, overlap)
    if balance and end >= start:
        lengths = [len(lines[r]) for r in range(start, end + 1)]
        total_chars = sum(lengths) + len(lengths)
        parts = max(-(-total_chars // max(1, max_chars)), -(-len(lengths) // max_lines), 1)
        if parts > 1:
            # aim ~15% over the even share, but never below the longest line
            even = max(total_chars * 23 // (20 * parts) + 1, max(lengths))
            max_chars = min(max_chars, even)
            max_lines = min(max_lines, len(lengths) * 23 // (20 * parts) + 1)
    spans: list[Span] = []
    row = start
    while row <= end:
        while row <= end and not lines[row].strip():
            row += 1
        if row > end:
            break
        first_len = len(lines[row])
        if first_len > max_chars:
            for part in cut_long_line(lines[row], max_chars):
                spans.append((row, row, part))
            row += 1
            continue
        size = first_len
        last = row
        while last < end and last - row + 1 < max_lines:
            grown = size + 1 + len(lines[last + 1])
            if grown > max_chars:
                break
            size = grown
            last += 1
        trimmed = last
        while trimmed > row and not lines[trimmed].strip():
            trimmed -= 1
        spans.append((row, trimmed, "\n".join(lines[row : trimmed + 1])))
        if last >= end:
            break
        if len(lines[last + 1]) > max_chars:
            row = last + 1  # the long line is cut on its own; no point overlapping into it
            continue
        count = last - row + 1
        step = max(count - overlap, (count + 1) // 2, 1)
        row += step
    return spans


def window_chunks(
    text: str,
    *,
    max_lines: int = DEFAULT_WINDOW_LINES,
    overlap: int = DEFAULT_WINDOW_OVERLAP,
    max_chars: int = DEFAULT_MAX_CHARS,
    title: str | None = None,
) -> list[Chunk]:
    """Overlapping line windows over a whole text, indexed from 0."""
    lines = split_lines(text)
    spans = window_spans(
        lines, 0, len(lines) - 1, max_lines=max_lines, overlap=overlap, max_chars=max_chars
    )
    return [
        Chunk(index=i, text=body, start_line=s + 1, end_line=e + 1, title=title, chunk_kind="window")
        for i, (s, e, body) in enumerate(spans)
    ]
