"""A deterministic measure of the work a parser does: regex calls weighted by what they
may cost, and Python lines executed.

CPython's ``re`` has no step counter, so the regex side is an upper bound computed from
every call the parsing modules make (their compiled patterns and their ``re.*`` calls are
wrapped while a test runs): a call costs the characters it is handed (``endpos - pos``)
when its pattern is in ``LINEAR`` (written so each position is examined a bounded number
of times; the reason is given per pattern), ``bound`` when it is in ``BOUNDED``
(anchored, with bounded repeats; ``0`` there means "anchored, at most its input"), and ``chars ** 2`` otherwise: a
backtracking pattern may re-scan the rest of its input from every position. A parser is
linear when this bound, and the count of Python lines it runs (``sys.settrace``), grow
in proportion to its input. Nothing here reads a clock.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


LINEAR: dict[str, str] = {
    r"\S+": "each attempt consumes the run it scanned",
    r'(?<!\S)(repo|path|lang|kind):(?:"([^"]*+)"|(\S*+))': "starts only after whitespace; possessive runs",
    r"<!--.*?(?:-->|\Z)": "one lazy scan per comment, ended by a fixed terminator or the end; it always matches",
    r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*": "everything after the first char is optional: "
                                                              "an attempt never fails once started",
    r"[A-Za-z_][A-Za-z0-9_]*(?:[./-][A-Za-z_][A-Za-z0-9_]*)*|\d{2,}": "as above",
    r"(?<![\w./\-])[A-Za-z_$][\w$]*(?:(?:\.|::|#)[A-Za-z_$][\w$]*)*(?:\(\))?": "starts only at run starts; "
                                                                              "never fails once started",
    r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+": "an uppercase run is scanned by the first branch and "
                                                     "consumed by the third",
    r"[A-Za-z][A-Za-z0-9]*": "single run", r"[A-Za-z]+": "single run", r"[._/\-]+": "single run",
    r"[._/]": "one char", r"[a-z][A-Z]": "two chars", r"::|#": "fixed strings",
    r"(?<![\w.\-])[\w.\-]++/[\w./\-]+": "starts only at run starts; possessive",
    r"(?<![\w-])--[A-Za-z][\w-]*\w": "starts only at run starts; one scan forward, one back",
    r"`([^`\n]{1,200})`": "bounded repeat: at most 201 steps per position",
    r"[a-z0-9][A-Z]|[A-Z]{2}[a-z]": "fixed length",
    r"(?<=[.!?])\s+(?=[A-Z`\"'(\[*])": "starts only after sentence punctuation; one whitespace run each",
    r"(?<!\s)(\s*+)\[\s*(?:sources?\s*)?(\d{1,4}(?:\s*[,;]\s*(?:sources?\s*)?\d{1,4})*)\s*\]":
        "starts only where a whitespace run begins; possessive run; bounded digits",
    r"\d+": "single run",
    r"(?i)https?(?=://)|www(?=\.)|@": "fixed-length alternatives",
}
# Anchored at one position with bounded repeats: at most ``bound`` characters examined.
BOUNDED: dict[str, int] = {
    r"(?:[ \t]*(?:>|[-+*](?=[ \t]|$)|\d{1,9}[.)](?=[ \t]|$)))*+[ \t]*+": 0,  # anchored, possessive: len
    r"(`{3,}|~{3,})(.*)": 0,
    r"[\w+#.-]{1,30}": 31,
    r"</?([A-Za-z][A-Za-z0-9-]{0,30})/?>": 35,
    r"\(([^\s()<>\\\[\]\"'`]{1,2048})\)": 2051,
    r"([A-Za-z0-9.-]{1,253})(?::\d{1,5})?": 260,
    r"/[A-Za-z0-9_-][^\s]*|#[\w-]+": 2048,
    r"[^\s<>\\\"`]{0,2048}": 2048,
    r"[^/?#<>()\[\]{}\"'`\s|^*,;!]{0,300}": 300,
    r"(```|~~~)([\w+-]*)": 0,
    r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});": 34,
}
_ANCHORED = ("match", "fullmatch")


@dataclass
class Work:
    regex: int = 0
    lines: int = 0
    calls: list[tuple[str, str, int]] = field(default_factory=list)

    def charge(self, pattern: str, method: str, chars: int) -> None:
        self.calls.append((pattern, method, chars))
        if pattern in LINEAR:
            self.regex += chars
        elif pattern in BOUNDED and method in _ANCHORED:
            bound = BOUNDED[pattern]
            self.regex += bound if bound else chars
        else:
            self.regex += chars * chars


class _Pattern:
    """A compiled pattern that charges every call to the current ``Work``."""

    def __init__(self, real: re.Pattern[str], work: Work) -> None:
        self._real, self._work = real, work

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def _span(self, string: str, pos: int = 0, endpos: int | None = None) -> int:
        end = len(string) if endpos is None else min(endpos, len(string))
        return max(0, end - pos)

    def _call(self, method: str, string: str, *args: Any, **kw: Any) -> Any:
        pos = kw.get("pos", args[0] if args else 0)
        endpos = kw.get("endpos", args[1] if len(args) > 1 else None)
        self._work.charge(self._real.pattern, method, self._span(string, pos, endpos))
        return getattr(self._real, method)(string, *args, **kw)

    def match(self, string: str, *a: Any, **k: Any) -> Any:
        return self._call("match", string, *a, **k)

    def fullmatch(self, string: str, *a: Any, **k: Any) -> Any:
        return self._call("fullmatch", string, *a, **k)

    def search(self, string: str, *a: Any, **k: Any) -> Any:
        return self._call("search", string, *a, **k)

    def finditer(self, string: str, *a: Any, **k: Any) -> Any:
        return self._call("finditer", string, *a, **k)

    def findall(self, string: str, *a: Any, **k: Any) -> Any:
        return self._call("findall", string, *a, **k)

    def split(self, string: str, maxsplit: int = 0) -> Any:
        self._work.charge(self._real.pattern, "split", len(string))
        return self._real.split(string, maxsplit)

    def sub(self, repl: Any, string: str, count: int = 0) -> Any:
        self._work.charge(self._real.pattern, "sub", len(string))
        return self._real.sub(repl, string, count)


def _re_shim(work: Work) -> types.ModuleType:
    shim = types.ModuleType("re_counting")
    shim.__dict__.update({k: getattr(re, k) for k in dir(re) if not k.startswith("__")})

    def compile_(pattern: Any, flags: int = 0) -> Any:
        return pattern if isinstance(pattern, _Pattern) else _Pattern(re.compile(pattern, flags), work)

    shim.compile = compile_  # type: ignore[attr-defined]
    for name in ("match", "fullmatch", "search", "finditer", "findall"):
        def call(pattern: Any, string: str, flags: int = 0, _name: str = name) -> Any:
            return getattr(compile_(pattern, flags), _name)(string)
        setattr(shim, name, call)
    shim.split = lambda p, s, maxsplit=0, flags=0: compile_(p, flags).split(s, maxsplit)  # type: ignore[attr-defined]
    shim.sub = lambda p, r, s, count=0, flags=0: compile_(p, flags).sub(r, s, count)  # type: ignore[attr-defined]
    return shim


@contextmanager
def counting(modules: list[types.ModuleType]) -> Iterator[Work]:
    """Wrap the modules' patterns and ``re`` while the block runs; trace their Python lines."""
    work = Work()
    saved: list[tuple[types.ModuleType, str, Any]] = []
    shim = _re_shim(work)
    for mod in modules:
        for name, value in list(vars(mod).items()):
            if isinstance(value, re.Pattern):
                saved.append((mod, name, value))
                setattr(mod, name, _Pattern(value, work))
            elif value is re:
                saved.append((mod, name, value))
                setattr(mod, name, shim)
    files = {getattr(m, "__file__", "") for m in modules}

    def tracer(frame: Any, event: str, arg: Any) -> Callable[..., Any] | None:
        if frame.f_code.co_filename not in files:
            return None

        def local(frame: Any, event: str, arg: Any) -> Any:
            if event == "line":
                work.lines += 1
            return local

        return local

    sys.settrace(tracer)
    try:
        yield work
    finally:
        sys.settrace(None)
        for mod, name, value in saved:
            setattr(mod, name, value)
