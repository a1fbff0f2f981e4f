"""Character spans that rules want redacted, merged and applied to a text.

Spans never contain a newline, so replacing each with ``[REDACTED:rule]`` keeps every
line where it was and citations ``#Lx-Ly`` stay exact. A multi-line secret (a PEM
block) is one span per line sharing a ``group``, so it counts once.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MARKER = re.compile(r"\[REDACTED:[a-z0-9-]+\]")


def marker(rule: str) -> str:
    return f"[REDACTED:{rule}]"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    rule: str
    kind: str = "secret"  # secret | pii
    priority: int = 2  # which rule names a merged span: specific formats beat keyword guesses
    group: int | None = None  # spans of one multi-line secret share a group


@dataclass(frozen=True)
class Hit:
    """One redacted secret: its rule, kind and first line (1-based). Never its text."""

    rule: str
    kind: str
    line: int


def occurrences(text: str, value: str, lo: int = 0, hi: int | None = None) -> Iterator[tuple[int, int]]:
    """Every place ``value`` stands in ``text[lo:hi]`` not glued to a longer word.

    A value that starts or ends with a word character must not continue one, so a short
    password found after ``password=`` is not cut out of unrelated identifiers."""
    if not value:
        return
    hi = len(text) if hi is None else hi
    word_start, word_end = _is_word(value[0]), _is_word(value[-1])
    i = text.find(value, lo, hi)
    while i != -1:
        j = i + len(value)
        glued_left = word_start and i > 0 and _is_word(text[i - 1])
        glued_right = word_end and j < len(text) and _is_word(text[j])
        if not glued_left and not glued_right:
            yield i, j
        i = text.find(value, i + 1, hi)


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def merge(spans: Iterable[Span], text: str) -> list[Span]:
    """Overlapping spans become one; the highest-priority (then longest) rule names it.

    Spans touching an existing ``[REDACTED:...]`` marker are dropped, so redacting
    redacted text changes nothing."""
    taken = [(m.start(), m.end()) for m in MARKER.finditer(text)]
    ends = [e for _, e in taken]

    def on_marker(s: Span) -> bool:
        i = bisect.bisect_right(ends, s.start)  # the first marker ending after s starts
        return i < len(taken) and taken[i][0] < s.end

    ordered = sorted((s for s in spans if s.end > s.start and not on_marker(s)), key=lambda s: (s.start, -s.end))
    out: list[Span] = []
    for s in ordered:
        if out and s.start < out[-1].end:
            cur = out[-1]
            best = max((cur, s), key=lambda x: (x.priority, x.end - x.start))
            out[-1] = Span(cur.start, max(cur.end, s.end), best.rule, best.kind, best.priority,
                           cur.group if cur.group is not None else s.group)
        else:
            out.append(s)
    return out


def apply(text: str, spans: list[Span]) -> tuple[str, list[Hit]]:
    """The text with every merged span replaced by its marker, and one hit per secret."""
    parts: list[str] = []
    hits: list[Hit] = []
    seen_groups: set[int] = set()
    pos = 0
    line = 1
    for s in spans:
        segment = text[pos : s.start]
        line += segment.count("\n")
        parts.append(segment)
        parts.append(marker(s.rule))
        if s.group is None or s.group not in seen_groups:
            hits.append(Hit(s.rule, s.kind, line))
            if s.group is not None:
                seen_groups.add(s.group)
        line += text.count("\n", s.start, s.end)  # always 0: spans stay within a line
        pos = s.end
    parts.append(text[pos:])
    return "".join(parts), hits


def hinted_lines(text: str, hint: re.Pattern[str]) -> Iterator[tuple[int, int]]:
    """(start, end) of each line holding a match of ``hint``, in order, once each: the
    per-line rules look only at these, not at every line of a large file."""
    last = -1
    for m in hint.finditer(text):
        if m.start() <= last:
            continue
        lo = text.rfind("\n", 0, m.start()) + 1
        hi = text.find("\n", m.end())
        hi = len(text) if hi == -1 else hi
        last = hi
        yield lo, hi
