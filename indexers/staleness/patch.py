"""The fix an owner can download: the doc with the dead name (or path) replaced, as a
unified diff that ``git apply`` / ``patch -p1`` take."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

MAX_PATCH_CHARS = 20_000


def replace_on_lines(text: str, lines: Iterable[int], old: str, new: str) -> str | None:
    """``text`` with whole-token ``old`` replaced by ``new`` on the given 1-based lines;
    ``None`` when none of them contains it."""
    rx = re.compile(r"(?<![\w/.-])" + re.escape(old) + r"(?![\w/-])")
    rows = text.splitlines(keepends=True)
    changed = False
    for n in sorted(set(lines)):
        if 1 <= n <= len(rows):
            new_row, count = rx.subn(new.replace("\\", "\\\\"), rows[n - 1])
            if count:
                rows[n - 1], changed = new_row, True
    return "".join(rows) if changed else None


def unified_patch(path: str, before: str, after: str) -> str | None:
    """A ``git apply``-able diff of one file (``a/path`` -> ``b/path``), clipped for storage."""
    diff = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                fromfile=f"a/{path}", tofile=f"b/{path}", n=3)
    out = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in diff)
    if not out or len(out) > MAX_PATCH_CHARS:
        return None
    return out
