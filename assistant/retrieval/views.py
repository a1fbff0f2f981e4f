"""Readings of a question for the dense model.

The embedding model reads the first 256 tokens of whatever it is given. A one-line
question fits; a pasted bug report does not: its first 256 tokens are often an issue
template's comments, a checklist and the top of a log, while the sentence that says
what is wrong is its first line. So a long question is embedded three ways, each its
own dense prefetch in the engine (``DenseView``): the whole question without template
noise, its headline (the first line, a bug report's title), and its prose with the code
blocks and logs taken out (those are matched word for word by the sparse leg anyway).
A short question is one reading, and costs one embedding as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_CHECKBOX = re.compile(r"^\s*[-*]\s*\[[ xX]\]")
_FENCE = re.compile(r"^\s*(```|~~~)")
MAX_HEADLINE_CHARS = 300
MIN_PART_CHARS = 12


@dataclass(frozen=True)
class Readings:
    """The texts to embed: ``main`` always; ``headline`` and ``prose`` when they add something."""

    main: str
    headline: str | None = None
    prose: str | None = None


def without_noise(text: str) -> str:
    """The question without HTML comments (issue-template instructions) and checklist
    lines (``- [x] minimal example if possible``): words every report shares."""
    text = _COMMENT.sub(" ", text)
    return "\n".join(line for line in text.splitlines() if not _CHECKBOX.match(line)).strip()


def without_code(text: str) -> str:
    """Text outside fenced blocks (```), where pasted code, output and tracebacks live."""
    kept: list[str] = []
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            kept.append(line)
    return "\n".join(kept).strip()


def readings(question: str) -> Readings:
    """How ``question`` is read by the dense legs (see the module docstring)."""
    main = without_noise(question) or question.strip()
    lines = [line.strip() for line in main.splitlines() if line.strip()]
    if len(lines) < 2:
        return Readings(main)
    first = lines[0]
    headline = first if MIN_PART_CHARS <= len(first) <= MAX_HEADLINE_CHARS else None
    prose = " ".join(without_code(main).split())
    if len(prose) < MIN_PART_CHARS or prose == " ".join(main.split()) or prose == headline:
        prose = None
    return Readings(main, headline, prose)
