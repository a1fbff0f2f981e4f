"""``.sourcewise-stale-ignore``: what a team decided is not staleness.

One entry per line at the root of the code or docs repository, ``#`` starts a comment
(the reason, on its own line or after the entry)::

    # generated API reference, rebuilt on release
    docs/api/**
    legacy_client        # kept for old integrations, documented on purpose
    --verbose

Every entry is matched two ways: as a glob against document paths (a matching
document is not checked at all) and as a token against references (``fnmatch`` on the
reference text, so ``legacy_*`` works too).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field

import pathspec

IGNORE_FILE = ".sourcewise-stale-ignore"
MAX_ENTRIES = 2000


@dataclass(frozen=True)
class StaleIgnore:
    entries: tuple[str, ...] = ()
    _spec: pathspec.GitIgnoreSpec | None = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(cls, texts: Iterable[str | None]) -> StaleIgnore:
        entries: list[str] = []
        for text in texts:
            for raw in (text or "").splitlines():
                line = raw.split(" #", 1)[0].split("\t#", 1)[0].strip()
                if line and not line.startswith("#") and line not in entries:
                    entries.append(line)
        entries = entries[:MAX_ENTRIES]
        return cls(tuple(entries), pathspec.GitIgnoreSpec.from_lines(entries) if entries else None)

    def ignores_doc(self, path: str) -> bool:
        return self._spec is not None and self._spec.match_file(path)

    def ignores_reference(self, text: str) -> bool:
        bare = text.strip()
        return any(bare == e or fnmatch.fnmatchcase(bare, e) for e in self.entries)
