"""Frozen value types shared by every layer.

Sources produce ``Document``s and ``ItemFailure``s, chunkers produce ``Chunk``s, the
pipeline turns them into ``Point``s for a ``VectorStore``, and queries return ``Hit``s.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

DocKind = Literal["code", "docs", "wiki"]

# Namespace for deterministic point ids: uuid5(NAMESPACE, f"{doc_id}#{index}").
POINT_NAMESPACE = uuid.UUID("5f0c1d2e-9a7b-4c3d-8e6f-0a1b2c3d4e5f")


def point_id(doc_id: str, chunk_index: int) -> str:
    """Deterministic point id, so re-indexing overwrites instead of duplicating."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{doc_id}#{chunk_index}"))


def is_source_name(name: str) -> bool:
    """Letters, digits, '-', '_' and '.', at most 200 characters: never ':' or '/', so the
    first ':' of a ``doc_id`` ends the source and a path may hold ':' of its own."""
    return 0 < len(name) <= 200 and name.replace("-", "").replace("_", "").replace(".", "").isalnum()


def split_doc_id(doc_id: str) -> tuple[str | None, str]:
    """``source:path`` -> (source, path); text without a source prefix -> (None, text).

    One reading for document ids, file-ranking keys and typed ``[SOURCE:]PATH`` gold
    specs, so ``docs/a:b.md`` stays a path and ``pytest:src/x.py`` names a source."""
    prefix, sep, rest = doc_id.partition(":")
    if sep and rest and is_source_name(prefix):
        return prefix, rest
    return None, doc_id


def sha256_text(text: str | bytes) -> str:
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Document:
    """One indexable item (a file, a page) as a source sees it.

    ``content_hash`` must change whenever the text changes and be cheap to get (a git
    blob sha, a page revision hash) so the pipeline's hash gate can skip unchanged items
    without reading them. ``loader`` returns the text and raises ``ItemError`` for
    per-item problems (binary, too large, undecodable).
    """

    doc_id: str
    source: str
    path: str
    kind: DocKind
    content_hash: str
    updated_at: datetime
    version: str
    loader: Callable[[], str] = field(repr=False, compare=False)
    url: str | None = None
    title: str | None = None
    author: str | None = None
    owner: str | None = None
    language: str | None = None
    size: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def read_text(self) -> str:
        return self.loader()

    def meta_hash(self, access_groups: Sequence[str] = ()) -> str:
        """Hash of everything in the payload that is not the text.

        A change here with the same ``content_hash`` updates payloads without
        re-chunking or re-embedding.
        """
        meta = {
            "updated_at": self.updated_at.isoformat(),
            "version": self.version,
            "url": self.url,
            "title": self.title,
            "author": self.author,
            "owner": self.owner,
            "groups": sorted(access_groups),
            "extra": {k: str(v) for k, v in sorted(self.extra.items())},
        }
        return sha256_text(json.dumps(meta, sort_keys=True))


@dataclass(frozen=True)
class ItemFailure:
    """A per-item problem reported by a source as a value; the run goes on."""

    path: str
    reason: str
    message: str = ""


@dataclass(frozen=True)
class Chunk:
    """A line-exact slice of a document.

    ``start_line``/``end_line`` are 1-based and inclusive. ``symbol`` is a dotted path
    (``HttpClient.send``) for code; ``title`` the heading path for prose; ``context`` the
    enclosing signature kept with a split body.
    """

    index: int
    text: str
    start_line: int
    end_line: int
    symbol: str | None = None
    title: str | None = None
    context: str | None = None
    chunk_kind: str = "window"


@dataclass(frozen=True)
class SparseVector:
    indices: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class Point:
    id: str
    dense: Sequence[float]
    sparse: SparseVector
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Filter:
    """Conjunction of ``field in values`` conditions (Qdrant MatchAny on keyword fields).

    An empty value list matches nothing: an empty access-group list must never mean
    "everything".
    """

    any_of: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # ``field in values`` conditions that must NOT hold (Qdrant ``must_not``); a point
    # without the field passes. Used to hide documents an owner marked deprecated.
    none_of: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def and_(self, key: str, values: Sequence[str]) -> Filter:
        merged = dict(self.any_of)
        merged[key] = tuple(values)
        return Filter(merged, self.none_of)

    def and_not(self, key: str, values: Sequence[str]) -> Filter:
        merged = dict(self.none_of)
        merged[key] = tuple(values)
        return Filter(self.any_of, merged)

    def is_empty(self) -> bool:
        return not self.any_of and not any(self.none_of.values())


# Every user belongs to this group; sources added without --groups carry it, so an empty
# group list can keep meaning "matches nothing".
PUBLIC_GROUP = "everyone"


@dataclass(frozen=True)
class User:
    """The caller of a query. Admins see every source; others see their groups' sources."""

    name: str
    groups: tuple[str, ...] = ()
    is_admin: bool = False

    def access_groups(self) -> list[str] | None:
        """The ``access_groups`` filter values, or ``None`` for an admin (no filter)."""
        if self.is_admin:
            return None
        return sorted({*self.groups, PUBLIC_GROUP})


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with everything a citation, an age badge and a filter need."""

    id: str
    doc_id: str
    source: str
    path: str
    kind: str
    start_line: int
    end_line: int
    text: str
    score: float
    updated_at: datetime
    commit: str
    language: str | None = None
    symbol: str | None = None
    title: str | None = None
    url: str | None = None
    owner: str | None = None
    status: str = "active"  # active | deprecated (| stale, from before staleness scores)
    stale_reason: str | None = None  # what is wrong, from the staleness findings
    staleness: float = 0.0  # 0 (fresh) .. 1, from the document's open findings and flags

    @property
    def citation(self) -> str:
        return f"{self.source}@{self.commit[:12]}:{self.path}#L{self.start_line}-L{self.end_line}"

    def age_days(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.updated_at).total_seconds() / 86400


@dataclass(frozen=True)
class Citation:
    """``[n]`` in an answer's text, pointing at the n-th passage given to the generator."""

    n: int
    passage: Passage


@dataclass(frozen=True)
class Answer:
    text: str
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]
    supported: bool
    generator: str
    model: str | None = None
    stale_warnings: tuple[str, ...] = ()
    removed_citations: int = 0
    fallback_reason: str | None = None
    cached: bool = False
    timings: Mapping[str, float] = field(default_factory=dict)
    tokens: Mapping[str, int] = field(default_factory=dict)
    interaction_id: int | None = None
    route: Mapping[str, Any] | None = None  # the route's steps (``assistant.generation.routing``), if routed
