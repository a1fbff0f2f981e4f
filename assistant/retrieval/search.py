"""Plain hybrid search: dense + code-aware sparse, fused with RRF inside the engine.

The retrieval issue builds freshness, boosts and diversity on top; this is the floor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assistant.embedding.base import Embedder
from assistant.embedding.sparse import SparseEncoder
from assistant.errors import ConfigError
from assistant.models import Filter, Hit
from assistant.store.base import VectorStore

MAX_QUERY_CHARS = 10_000


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


class HybridSearcher:
    def __init__(self, store: VectorStore, embedder: Embedder, sparse: SparseEncoder) -> None:
        self.store = store
        self.embedder = embedder
        self.sparse = sparse

    def search(
        self, query: str, *, k: int = 10, sources: Sequence[str] | None = None,
        groups: Sequence[str] | None = None,
    ) -> list[SearchResult]:
        """Top ``k`` chunks; ``groups=None`` means an admin caller (no group filter)."""
        query = query.strip()
        if not query:
            raise ConfigError("the query is empty: type what you are looking for")
        if len(query) > MAX_QUERY_CHARS:
            raise ConfigError(f"the query is {len(query)} characters; the limit is {MAX_QUERY_CHARS}")
        if k < 1 or k > 200:
            raise ConfigError("k must be between 1 and 200")
        flt = Filter()
        if sources:
            flt = flt.and_("source", list(sources))
        if groups is not None:
            flt = flt.and_("access_groups", list(groups))
        hits = self.store.query(
            self.embedder.embed_query(query), self.sparse.encode_query(query),
            flt if flt.any_of else None, k,
        )
        return [to_result(h) for h in hits]
