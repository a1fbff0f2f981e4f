"""The ``Source`` protocol: turn a repo, docs tree or wiki into ``Document``s.

Sources yield, the pipeline writes: a source never touches the store or the catalog.
Per-item problems are yielded as ``ItemFailure`` values (or raised as ``ItemError`` from
``Document.read_text``); a source that cannot be read at all raises ``SourceError``
with a message that says what to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from assistant.models import Document, ItemFailure, sha256_text


def make_doc_id(source: str, path: str) -> str:
    """Stable document id: the same source and path always give the same id."""
    return f"{source}:{path}"


def scan_version(items: list[tuple[str, str]]) -> str:
    """A version for sources without commits: a hash over every (path, content_hash)."""
    return sha256_text("\n".join(f"{p}\0{h}" for p, h in sorted(items)))


@runtime_checkable
class Source(Protocol):
    name: str

    def scan(self) -> Iterator[Document | ItemFailure]:
        """Every current item of the source, or a failure value per bad item."""

    @property
    def version(self) -> str:
        """What was scanned (a commit sha, an export's hash); valid after ``scan``."""
