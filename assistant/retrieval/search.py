"""``HybridSearcher``: the CLI's search results, now a thin wrapper over the Retriever
(hybrid + exact legs, freshness formula, filters in the query, diversity)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assistant.embedding.base import Embedder
from assistant.embedding.sparse import SparseEncoder
from assistant.models import Hit, Passage, User
from assistant.retrieval.query import MAX_QUESTION_CHARS, QueryFilters
from assistant.retrieval.retriever import Retriever
from assistant.settings import RetrievalSettings
from assistant.store.base import VectorStore

MAX_QUERY_CHARS = MAX_QUESTION_CHARS


@dataclass(frozen=True)
class SearchResult:
    source: str
    path: str
    start_line: int
    end_line: int
    symbol: str | None
    title: str | None
    score: float
    updated_at: str
    commit: str
    url: str | None
    kind: str
    text: str

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "text"} | {"text": self.text}

    @property
    def citation(self) -> str:
        return f"{self.source}@{self.commit[:12]}:{self.path}#L{self.start_line}-L{self.end_line}"


def to_result(hit: Hit) -> SearchResult:
    p = hit.payload
    return SearchResult(
        source=p["source"], path=p["path"], start_line=int(p["start_line"]), end_line=int(p["end_line"]),
        symbol=p.get("symbol"), title=p.get("title") or p.get("doc_title"), score=round(hit.score, 6),
        updated_at=p["updated_at"], commit=p["commit"], url=p.get("url"), kind=p["kind"],
        text=p.get("text", ""),
    )


def passage_result(p: Passage) -> SearchResult:
    return SearchResult(
        source=p.source, path=p.path, start_line=p.start_line, end_line=p.end_line,
        symbol=p.symbol, title=p.title, score=round(p.score, 6),
        updated_at=p.updated_at.isoformat(), commit=p.commit, url=p.url, kind=p.kind,
        text=p.text,
    )


class HybridSearcher:
    """Search as the CLI calls it: ``groups=None`` is an admin caller."""

    def __init__(
        self, store: VectorStore, embedder: Embedder, sparse: SparseEncoder,
        settings: RetrievalSettings | None = None,
    ) -> None:
        self.retriever = Retriever(store, embedder, sparse, settings or RetrievalSettings())

    def search(
        self, query: str, *, k: int = 10, sources: Sequence[str] | None = None,
        groups: Sequence[str] | None = None,
    ) -> list[SearchResult]:
        """Top ``k`` passages; ``groups=None`` means an admin caller (no group filter)."""
        user = User("cli", is_admin=True) if groups is None else User("cli", tuple(groups))
        found = self.retriever.retrieve(
            query, user=user, k=k, filters=QueryFilters(repos=tuple(sources or ()))
        )
        return [passage_result(p) for p in found.passages]
