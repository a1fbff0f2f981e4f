"""CODEOWNERS: who owns a path. The last matching rule wins, as on GitHub and GitLab."""

from __future__ import annotations

import re

import pathspec

# Where the forges look, in their order of precedence.
CODEOWNERS_PATHS = ("CODEOWNERS", ".github/CODEOWNERS", ".gitlab/CODEOWNERS", "docs/CODEOWNERS")

_SECTION = re.compile(r"^\^?\[[^\]]*\](\[\d+\])?(\s+.*)?$")  # GitLab "[Section] @owners"


class CodeOwners:
    """Parsed CODEOWNERS rules; ``owner_of(path)`` returns the owners as one string."""

    def __init__(self, text: str) -> None:
        self._rules: list[tuple[pathspec.PathSpec, str]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#") or _SECTION.match(line):
                continue
            parts = line.split()
            pattern, owners = parts[0], [p for p in parts[1:] if not p.startswith("#")]
            if not owners:
                continue
            try:
                spec = pathspec.PathSpec.from_lines("gitignore", [pattern])
            except (ValueError, TypeError):
                continue  # an unparseable rule is ignored, like the forges do
            self._rules.append((spec, " ".join(owners)))
        self._rules.reverse()

    def owner_of(self, path: str) -> str | None:
        for spec, owners in self._rules:
            if spec.match_file(path):
                return owners
        return None

    def __bool__(self) -> bool:
        return bool(self._rules)
