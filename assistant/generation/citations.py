"""Citation checks done in code after generation, never trusted to the model.

A ``[n]`` is valid only if passage n was given to the generator. Invalid markers are
removed and counted; an answer left with no valid marker is unsupported. The same
filter runs over a stream (so streamed text never shows a citation the final answer
drops) and over a whole text (by feeding it in one piece), so both agree exactly.
Text inside fenced or inline code is left alone: ``items[1]`` is code, not a citation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from assistant.generation.sanitize import sanitize_markdown
from assistant.models import Citation, Passage

# "[1]", "[1, 3]", "[2;4]", and what small models write: "[Source 1]", "[source 2, 3]".
# The lookbehind starts an attempt only where a whitespace run begins (from inside a run
# it would fail or match just the same), so a long run of spaces is scanned once, not
# once per space; the possessive run cannot give back a "[" it never had.
_CITE = re.compile(r"(?<!\s)(\s*+)\[\s*(?:sources?\s*)?(\d{1,4}(?:\s*[,;]\s*(?:sources?\s*)?\d{1,4})*)\s*\]", re.I)
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


@dataclass(frozen=True)
class CitationCheck:
    text: str
    used: tuple[int, ...]  # valid citation numbers in order of first appearance
    removed: int

    @property
    def supported(self) -> bool:
        return bool(self.used)


class CitationFilter:
    """Incremental citation cleaner: ``feed`` deltas, get back text safe to show.

    Text is held back only while it could still become (part of) a citation, an inline
    code span or a fence line, so output lags input by at most one word or one line.
    """

    def __init__(self, n_passages: int) -> None:
        self.n_passages = n_passages
        self.removed = 0
        self._used: list[int] = []
        self._buf = ""
        self._in_fence = False
        self._at_line_start = True
        self._last = ""
        self._scan = _CutScan()

    @property
    def used(self) -> tuple[int, ...]:
        return tuple(self._used)

    def feed(self, delta: str) -> str:
        self._buf += delta
        out: list[str] = []
        if "\n" in self._buf:  # one split, not one copy of the rest per line
            *lines, self._buf = self._buf.split("\n")
            out.extend(self._line(line) + "\n" for line in lines)
            self._scan = _CutScan()
        out.append(self._partial())
        return self._emit("".join(out))

    def flush(self) -> str:
        rest, self._buf = self._buf, ""
        self._scan = _CutScan()
        return self._emit(self._line(rest) if rest else "")

    def close(self) -> str:
        """Flush, and close a code fence left open by a stream that broke off mid-block."""
        out = self.flush()
        if self._in_fence:
            out += self._emit(("" if self._last in ("", "\n") else "\n") + "```\n")
            self._in_fence, self._at_line_start = False, True
        return out

    def _emit(self, text: str) -> str:
        if text:
            self._last = text[-1]
        return text

    def _line(self, line: str) -> str:
        at_start, self._at_line_start = self._at_line_start, True
        if at_start and _FENCE.match(line):
            self._in_fence = not self._in_fence
            return line
        if self._in_fence:
            return line
        return self._prose(line)

    def _partial(self) -> str:
        buf = self._buf
        if not buf:
            return ""
        if self._at_line_start:
            head = buf.lstrip(" ")
            if len(head) < 3 and ("```".startswith(head) or "~~~".startswith(head)):
                return ""  # could still become a fence line
            if _FENCE.match(buf):
                return ""  # a fence line: decide at its newline
        if self._in_fence:
            self._buf, self._at_line_start = "", False
            self._scan = _CutScan()
            return buf
        cut = self._scan.advance(buf)
        if cut <= 0:
            return ""
        self._buf, self._at_line_start = buf[cut:], False
        self._scan.shift(cut)
        return self._prose(buf[:cut])

    def _prose(self, text: str) -> str:
        parts = text.split("`")
        for i in range(0, len(parts), 2):  # even parts are outside inline code
            parts[i] = _CITE.sub(self._replace, parts[i])
        return "`".join(parts)

    def _replace(self, m: re.Match[str]) -> str:
        nums = [int(x) for x in re.findall(r"\d+", m.group(2))]
        valid = [n for n in nums if 1 <= n <= self.n_passages]
        self.removed += len(nums) - len(valid)
        for n in valid:
            if n not in self._used:
                self._used.append(n)
        if not valid:
            return ""
        return m.group(1) + "".join(f"[{n}]" for n in dict.fromkeys(valid))


class _CutScan:
    """``_safe_cut`` kept up to date as the buffer grows, so a long line arriving in
    small deltas is scanned once rather than once per delta (a cut leaves the state as a
    fresh scan would have it: even backticks, no open bracket)."""

    def __init__(self) -> None:
        self.pos = 0
        self.best = 0
        self.ticks = 0
        self.open_bracket = False

    def advance(self, buf: str) -> int:
        for i in range(self.pos, len(buf)):
            ch = buf[i]
            if (ch.isspace() and i > 0 and not buf[i - 1].isspace() and self.ticks % 2 == 0
                    and not self.open_bracket):
                self.best = i
            if ch == "`":
                self.ticks += 1
            elif ch == "[":
                self.open_bracket = True
            elif ch == "]":
                self.open_bracket = False
        self.pos = max(self.pos, len(buf))
        return self.best

    def shift(self, cut: int) -> None:
        self.pos -= cut
        self.best = 0


def _safe_cut(buf: str) -> int:
    """Largest index before a whitespace run where the prefix closes every ``[`` and backtick."""
    best, ticks, open_bracket = 0, 0, False
    for i, ch in enumerate(buf):
        if ch.isspace() and i > 0 and not buf[i - 1].isspace() and ticks % 2 == 0 and not open_bracket:
            best = i
        if ch == "`":
            ticks += 1
        elif ch == "[":
            open_bracket = True
        elif ch == "]":
            open_bracket = False
    return best


def check_citations(text: str, n_passages: int) -> CitationCheck:
    """Remove citations to passages that do not exist; report what is left."""
    f = CitationFilter(n_passages)
    cleaned = f.feed(text) + f.flush()
    return CitationCheck(cleaned, f.used, f.removed)


def citations_for(used: Sequence[int], passages: Sequence[Passage]) -> tuple[Citation, ...]:
    return tuple(Citation(n, passages[n - 1]) for n in used if 1 <= n <= len(passages))


def humanize_age(days: float) -> str:
    """'3 days', '5 months', '2 years': how people say how old a document is."""
    if days < 1:
        return "less than a day"
    if days < 60:
        d = int(days)
        return f"{d} day{'s' if d != 1 else ''}"
    if days < 365:
        return f"{round(days / 30.44)} months"
    years = int(days / 365.25 + 0.5)
    return f"{years} year{'s' if years != 1 else ''}"


STALENESS_THRESHOLD = 0.3  # ``staleness.warn_threshold``'s default


def stale_warnings(
    cited: Sequence[tuple[int, Passage]],
    max_age_days: Mapping[str, float],
    now: datetime,
    min_staleness: float = STALENESS_THRESHOLD,
) -> list[str]:
    """One sentence per cited file that is stale (its staleness score above
    ``min_staleness``: the reason says what is wrong), deprecated, or older than its kind
    allows.

    The reader should know before trusting it; the sentence cites the passage so the
    claim is checkable.
    """
    out: list[str] = []
    seen: set[tuple[str, str]] = set()
    for n, p in cited:
        key = (p.source, p.path)
        if key in seen:
            continue
        if p.staleness > min_staleness and p.status != "deprecated":
            why = p.stale_reason or f"{p.path} has open staleness findings"
            out.append(f"{why.rstrip('.')} [{n}].")
            seen.add(key)
            continue
        if p.status in ("stale", "deprecated"):
            why = f" ({p.stale_reason})" if p.stale_reason else ""
            out.append(f"{p.path} is marked {p.status}{why} [{n}].")
            seen.add(key)
            continue
        limit = max_age_days.get(p.kind)
        age = p.age_days(now)
        if limit is not None and age > limit:
            out.append(f"{p.path} was last changed {humanize_age(age)} ago ({p.updated_at.date().isoformat()}) [{n}].")
            seen.add(key)
    return out


def render_sources(citations: Sequence[Citation], now: datetime) -> str:
    """A plain-text source list for clients that only show text (CLI, OpenAI-compatible API)."""
    lines = []
    for c in citations:
        p = c.passage
        flag = f", {p.status}" if p.status != "active" else ""
        lines.append(
            f"[{c.n}] {p.citation} ({p.kind}, last changed {p.updated_at.date().isoformat()}, "
            f"{humanize_age(p.age_days(now))} ago{flag})"
        )
    # paths are data (a file may be called "![x](https:evil)"): shown as text, never rendered
    return sanitize_markdown("Sources:\n" + "\n".join(lines)) if lines else ""
