"""Shared assertions for chunk line-exactness and coverage."""

from __future__ import annotations

from collections.abc import Sequence

from assistant.models import Chunk


def file_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return lines


def assert_line_exact(text: str, chunks: Sequence[Chunk]) -> None:
    """Each chunk's text is exactly its lines of the file, joined."""
    lines = file_lines(text)
    for chunk in chunks:
        assert 1 <= chunk.start_line <= chunk.end_line <= len(lines), chunk
        expected = "\n".join(lines[chunk.start_line - 1 : chunk.end_line])
        assert chunk.text == expected, (chunk.start_line, chunk.end_line)


def assert_covers(text: str, chunks: Sequence[Chunk]) -> None:
    """Every non-blank line of the file is in some chunk."""
    lines = file_lines(text)
    covered = [False] * len(lines)
    for chunk in chunks:
        for row in range(chunk.start_line - 1, chunk.end_line):
            covered[row] = True
    missing = [i + 1 for i, line in enumerate(lines) if line.strip() and not covered[i]]
    assert not missing, f"lines not in any chunk: {missing[:10]}"


def assert_disjoint_in_order(chunks: Sequence[Chunk]) -> None:
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for before, after in zip(chunks, chunks[1:]):
        assert after.start_line > before.end_line, (before, after)
