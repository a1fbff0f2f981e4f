from __future__ import annotations

from indexers.chunking.windows import cut_long_line, split_lines, window_chunks, window_spans
from tests.unit.chunking.helpers import assert_covers, assert_line_exact


def _numbered(n: int, width: int = 0) -> str:
    return "".join(f"line {i}".ljust(width) + "\n" for i in range(1, n + 1))


def test_default_windows_are_40_lines_with_8_lines_overlap():
    text = _numbered(100)
    chunks = window_chunks(text)
    assert [(c.start_line, c.end_line) for c in chunks] == [(1, 40), (33, 72), (65, 100)]
    assert [c.index for c in chunks] == [0, 1, 2]
    assert {c.chunk_kind for c in chunks} == {"window"}
    assert_line_exact(text, chunks)


def test_character_budget_limits_window_length():
    text = _numbered(60, width=100)  # 100-char lines
    chunks = window_chunks(text, max_chars=1000)
    assert all(len(c.text) <= 1000 for c in chunks)
    assert chunks[0].end_line == 9  # 9 lines of 100 chars + 8 newlines = 908; 10 lines > 1000
    assert_covers(text, chunks)
    assert_line_exact(text, chunks)


def test_overlong_line_is_cut_into_pieces_carrying_its_line_number():
    long_line = " ".join(f"token{i}" for i in range(1200))  # ~9 KB on one line
    text = f"short first line\n{long_line}\nlast line\n"
    chunks = window_chunks(text, max_chars=1500)
    cut = [c for c in chunks if c.start_line == 2]
    assert len(cut) >= 6
    assert all(c.end_line == 2 and len(c.text) <= 1500 for c in cut)
    assert "".join(c.text for c in cut) == long_line
    assert all(len(c.text) <= 1500 for c in chunks)
    assert_covers(text, chunks)


def test_cut_prefers_spaces_and_keeps_every_character():
    line = "abcdefghij " * 50
    parts = cut_long_line(line, 100)
    assert "".join(parts) == line
    assert all(len(p) <= 100 for p in parts)
    assert all(p.endswith(" ") for p in parts[:-1])


def test_blank_edges_are_trimmed_and_blank_windows_dropped():
    text = "\n\n\nalpha\n\n\n\n\n\n\n\n\n\n\n\n\nomega\n\n"
    spans = window_spans(split_lines(text), 0, len(split_lines(text)) - 1, max_lines=5, overlap=1)
    assert [(s + 1, e + 1) for s, e, _ in spans] == [(4, 4), (17, 17)]


def test_balanced_windows_avoid_a_tiny_tail():
    lines = [f"statement_{i} = compute({i})" for i in range(70)]
    spans = window_spans(lines, 0, 69, max_lines=60, overlap=0, balance=True)
    sizes = [e - s + 1 for s, e, _ in spans]
    assert len(sizes) == 2 and min(sizes) >= 30


def test_no_trailing_phantom_line():
    assert split_lines("a\nb\n") == ["a", "b"]
    assert split_lines("a\nb") == ["a", "b"]
    assert split_lines("") == [""]
