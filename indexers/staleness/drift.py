"""Drift: the name still exists, but what the doc says about it no longer holds.

Only claims the doc's text visibly makes count: a changed default or constant whose old
value appears on the reference's line (or the next) while the new one does not, and a
keyword argument the doc passes (``details["call_kwargs"]``, or ``name=`` on the line)
that the function no longer accepts. Values are compared as literals (numbers, strings,
``None``/``True``/``False``, dotted names); anything else is not claimed by a doc line
reliably enough to block on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from assistant.catalog.symbols import SymbolRecord

CALLABLE = frozenset({"function", "method", "class"})
VALUES = frozenset({"constant", "variable", "setting", "env"})
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$")
_NAME = re.compile(r"^[A-Za-z_][\w.]*$")
_STRING = re.compile(r"""^[rbuf]?(['"])(.*)\1$""", re.S)
# literals too common in prose to count as the doc stating them unless it names the parameter
_COMMON = frozenset({"None", "True", "False", "0", "1", "-1", "2", "null", "true", "false"})


@dataclass(frozen=True)
class Change:
    """One claim the doc makes that the code no longer supports."""

    aspect: str  # "default:attempt" | "value" | "param:timeout"
    old: str  # the value (or parameter) the doc states
    new: str | None  # what the code says now (None: the parameter is gone)

    def describe(self, name: str) -> str:
        """The claim and what the code says now, for a sentence (values between backticks
        lose their own backticks)."""
        old = self.old.replace("`", "'")
        new = self.new.replace("`", "'") if self.new is not None else None
        if self.aspect == "value":
            return f"`{name}` = {old}, now {new}"
        what, _, param = self.aspect.partition(":")
        if what == "default":
            return f"`{name}({param}={old})`, the default is now {new}"
        return f"`{name}({param}=...)`, which no longer takes `{param}`"


def literal(value: str | None) -> tuple[str, str] | None:
    """(kind, text to look for) of a simple literal, or ``None`` for anything else."""
    if value is None:
        return None
    v = value.strip()
    m = _STRING.match(v)
    if m:
        inner = m.group(2)
        return ("string", inner) if inner.strip() and len(inner) <= 200 and "\n" not in inner else None
    if _NUMBER.match(v):
        return "number", v
    if _NAME.match(v) and len(v) <= 100:
        return "name", v
    return None


def states(value: str, lines: Iterable[str]) -> bool:
    """Whether ``value`` (a literal's text) appears as a whole token in ``lines``."""
    lit = literal(value)
    if lit is None:
        return False
    kind, text = lit
    if kind == "number":
        pattern = r"(?<![\w.])" + re.escape(text) + r"(?!\w|\.\d)"
    else:
        pattern = r"(?<![\w])" + re.escape(text) + r"(?![\w])"
    rx = re.compile(pattern)
    return any(rx.search(line) for line in lines)


def _mentions(name: str, lines: Iterable[str]) -> bool:
    rx = re.compile(r"(?<![\w])" + re.escape(name) + r"(?![\w])")
    return any(rx.search(line) for line in lines)


def _params(rec: SymbolRecord) -> dict[str, str | None]:
    return {p[0]: p[1] for p in rec.params}


def changes(old: SymbolRecord, new: SymbolRecord, lines: Sequence[str],
            call_kwargs: Sequence[str] = ()) -> list[Change]:
    """What ``lines`` (the doc's reference line and the next) claim about ``old`` that
    ``new`` contradicts."""
    out: list[Change] = []
    if old.kind in VALUES and new.kind in VALUES and old.value is not None and new.value is not None:
        if old.value.strip() != new.value.strip() and literal(old.value) and literal(new.value) \
                and states(old.value, lines) and not states(new.value, lines):
            out.append(Change("value", old.value.strip(), new.value.strip()))
        return out
    if old.kind not in CALLABLE or new.kind not in CALLABLE:
        return out
    before, after = _params(old), _params(new)
    for name, default in before.items():
        if name.startswith("*") or name in ("/", "self", "cls") or name not in after:
            continue
        now = after[name]
        if default is None or now is None or default.strip() == now.strip():
            continue
        if not (literal(default) and literal(now)):
            continue
        if not states(default, lines) or states(now, lines):
            continue
        if default.strip() in _COMMON and not _mentions(name, lines):
            continue
        out.append(Change(f"default:{name}", default.strip(), now.strip()))
    takes_any = any(p.startswith("**") for p in after)
    if not takes_any:
        passed = set(call_kwargs)
        for name in before:
            if name.startswith("*") or name in ("/", "self", "cls") or name in after:
                continue
            kw = re.compile(r"(?<![\w.])" + re.escape(name) + r"\s*=(?!=)")
            if name in passed or any(kw.search(line) for line in lines):
                out.append(Change(f"param:{name}", name, None))
    return out
