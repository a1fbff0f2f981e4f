"""The Retriever: a question in, the passages an answer should cite out.

One engine query per question (dense + code-aware sparse + exact symbol/path legs, fused
with RRF, rescored by the freshness/status/feedback/exact-match formula; see
``assistant.retrieval.scoring``), under the caller's access groups as a ``must`` filter.
Python then applies what Qdrant cannot: the exact ``path:`` glob, near-duplicate
collapse and the per-file cap.

An unknown ``repo:`` is refused with the names of the sources the caller may read, and
only those: a source outside their groups gets exactly the error a source that does not
exist gets (``known_sources`` maps each source to its access groups).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from assistant.access import readable_sources
from assistant.embedding.base import Embedder
from assistant.embedding.sparse import SparseEncoder
from assistant.errors import ConfigError
from assistant.models import Hit, Passage, User
from assistant.retrieval.diversity import (
    cap_families,
    diversify,
    file_key,
    fuse_rankings,
    lexical_file_scores,
)
from assistant.retrieval.diversity import rank_files as aggregate_files
from assistant.retrieval.identifiers import question_identifiers, question_path_keys
from assistant.retrieval.query import MAX_QUESTION_CHARS, QueryFilters, parse_query
from assistant.retrieval.scoring import build_filter, build_request
from assistant.retrieval.views import readings
from assistant.settings import RetrievalSettings
from assistant.store.base import DenseView, VectorStore

MAX_K = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Retrieval:
    """What a question retrieved, with per-stage timings for the interaction record."""

    query: str  # question without filter tokens
    filters: QueryFilters
    passages: tuple[Passage, ...]  # best first, diversified, at most k
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage

    def files(self) -> list[str]:
        """Distinct ``source:path`` in rank order."""
        return list(dict.fromkeys(file_key(p) for p in self.passages))


def parse_datetime(value: Any, fallback_ts: Any = None) -> datetime:
    """Payload ``updated_at`` (ISO 8601) as a tz-aware UTC datetime; ``updated_ts`` or the
    epoch when it is missing or unreadable (an unknown age reads as old, never as new)."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    if isinstance(fallback_ts, (int, float)):
        return datetime.fromtimestamp(fallback_ts, tz=UTC)
    return _EPOCH


def to_passage(hit: Hit) -> Passage:
    """A ``Passage`` from a point's payload (everything a citation and an age badge need)."""
    p = hit.payload
    return Passage(
        id=hit.id,
        doc_id=str(p.get("doc_id", "")),
        source=str(p.get("source", "")),
        path=str(p.get("path", "")),
        kind=str(p.get("kind", "code")),
        start_line=int(p.get("start_line") or 1),
        end_line=int(p.get("end_line") or p.get("start_line") or 1),
        text=str(p.get("text") or ""),
        score=float(hit.score),
        updated_at=parse_datetime(p.get("updated_at"), p.get("updated_ts")),
        commit=str(p.get("commit") or ""),
        language=p.get("language"),
        symbol=p.get("symbol"),
        title=p.get("title") or p.get("doc_title"),
        url=p.get("url"),
        owner=p.get("owner"),
        status=str(p.get("status") or "active"),
        stale_reason=p.get("stale_reason"),
        staleness=float(p["staleness"]) if isinstance(p.get("staleness"), (int, float)) else 0.0,
    )


def embed_all(embedder: Embedder, texts: list[str]) -> list[list[float]]:
    """One forward pass for several readings when the embedder can batch them."""
    many = getattr(embedder, "embed_queries", None)
    return list(many(texts)) if many is not None else [embedder.embed_query(t) for t in texts]


class Retriever:
    """Hybrid, freshness-aware, ACL-filtered retrieval over one ``VectorStore``."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        sparse: SparseEncoder,
        settings: RetrievalSettings,
        *,
        known_sources: Callable[[], Mapping[str, Sequence[str]] | Collection[str]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.sparse = sparse
        self.settings = settings
        self.known_sources = known_sources
        self.clock = clock  # "now" for freshness; injectable so tests pin ages

    def retrieve(
        self,
        question: str,
        *,
        user: User,
        k: int | None = None,
        filters: QueryFilters | None = None,
    ) -> Retrieval:
        """The best ``k`` passages for ``question`` that ``user`` may read.

        Filter tokens in the question (``repo:``, ``path:``, ``lang:``, ``kind:``) merge
        with ``filters``. Raises ``ConfigError`` for an empty or oversized question, an
        unknown repo, language or kind.
        """
        started = time.perf_counter()
        k = self._check_k(self.settings.k if k is None else k)
        text, merged = self._prepare(question, filters, user)
        limit = max(self.settings.candidates, 4 * k)
        hits, timings = self._search(text, merged, user, limit)
        t0 = time.perf_counter()
        passages = [to_passage(h) for h in hits if merged.path_matches(str(h.payload.get("path", "")))]
        chosen = diversify(
            passages, k,
            per_file=self.settings.max_chunks_per_file,
            duplicate_similarity=self.settings.duplicate_similarity,
        )
        timings["diversify"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - started
        return Retrieval(query=text, filters=merged, passages=tuple(chosen), timings=timings)

    def rank_files(
        self,
        question: str,
        *,
        user: User,
        k: int = 10,
        filters: QueryFilters | None = None,
    ) -> list[tuple[str, float]]:
        """Files (``source:path``) best first with their scores; used by eval.

        Two views of the same index, fused per file: the hybrid chunk list aggregated over
        ``file_candidates`` chunks (``diversity.rank_files``), and the lexical list alone
        (``file_lexical_candidates`` chunks by BM25 x the same priors, summed per file by
        ``diversity.lexical_file_scores``). The first finds the one passage that says it;
        the second the file that is about it all the way through. Test and example files
        beyond ``file_family_cap`` per file name go last (``diversity.cap_families``).
        """
        k = self._check_k(k, limit=10_000)
        text, merged = self._prepare(question, filters, user)
        hits, _ = self._search(text, merged, user, max(self.settings.file_candidates, k))
        hybrid = aggregate_files(self._file_pairs(hits, merged), decay=self.settings.file_chunk_decay)
        weight = self.settings.file_lexical_weight
        ranked = hybrid
        if weight > 0:
            lexical = lexical_file_scores(self._file_pairs(self._lexical(text, merged, user), merged))
            ranked = fuse_rankings([([key for key, _ in hybrid], 1.0), ([key for key, _ in lexical], weight)],
                                   k=self.settings.file_fusion_k)
        return cap_families(ranked, self.settings.file_family_cap)[:k]

    # -- internals ---------------------------------------------------------------------

    def _prepare(self, question: str, filters: QueryFilters | None, user: User) -> tuple[str, QueryFilters]:
        if not isinstance(question, str) or not question.strip():
            raise ConfigError(
                "the question is empty: ask about the code or docs, "
                'e.g. "where do we retry failed payments?"'
            )
        if len(question) > MAX_QUESTION_CHARS:
            raise ConfigError(
                f"the question is {len(question)} characters; the limit is "
                f"{MAX_QUESTION_CHARS}: keep the part that matters (the error message, the "
                "function or file names)"
            )
        text, parsed = parse_query(question)
        merged = (filters or QueryFilters()).merged(parsed).normalized()
        if not text:
            raise ConfigError(
                "the question has only filters (repo:, path:, lang:, kind:); "
                "add what you are looking for"
            )
        if merged.repos and self.known_sources is not None:
            visible = self._visible_sources(user)
            if visible is not None:
                merged.check_repos(visible)
        return text, merged

    def _visible_sources(self, user: User) -> set[str] | None:
        """The source names ``user`` may read; ``None`` when that cannot be told (a bare
        name list and a non-admin caller: no check, the access filter alone applies)."""
        known = self.known_sources() if self.known_sources is not None else {}
        if isinstance(known, Mapping):
            return readable_sources(known, user)
        return set(known) if user.access_groups() is None else None

    def _search(
        self, text: str, filters: QueryFilters, user: User, limit: int
    ) -> tuple[list[Hit], dict[str, float]]:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        read = readings(text)
        weighted = [(t, w) for t, w in ((read.headline, self.settings.headline_weight),
                                        (read.prose, self.settings.prose_weight)) if t and w > 0]
        vectors = embed_all(self.embedder, [read.main, *(t for t, _ in weighted)])
        sparse = self.sparse.encode_query(read.main, self.settings.phrase_weight)
        timings["embed"] = time.perf_counter() - t0
        request = build_request(
            self.settings,
            dense=vectors[0],
            views=tuple(DenseView(v, w) for v, (_, w) in zip(vectors[1:], weighted, strict=True)),
            sparse=sparse,
            flt=build_filter(filters, user.access_groups()),
            limit=limit,
            now_ts=self.clock(),
            identifiers=question_identifiers(read.main),
            path_keys=question_path_keys(read.main),
        )
        t0 = time.perf_counter()
        hits = self.store.search(request)
        timings["search"] = time.perf_counter() - t0
        return hits, timings

    def _lexical(self, text: str, filters: QueryFilters, user: User) -> list[Hit]:
        """The sparse list alone, raw scores x the formula (``SearchRequest.lexical``)."""
        read = readings(text)
        request = build_request(
            self.settings,
            dense=(),
            sparse=self.sparse.encode_query(read.main, self.settings.phrase_weight),
            flt=build_filter(filters, user.access_groups()),
            limit=self.settings.file_lexical_candidates,
            now_ts=self.clock(),
            identifiers=question_identifiers(read.main),
            path_keys=question_path_keys(read.main),
        )
        return self.store.search(dataclasses.replace(request, lexical=True, legs=(),
                                                     payload_fields=("source", "path")))

    @staticmethod
    def _file_pairs(hits: list[Hit], filters: QueryFilters) -> list[tuple[str, float]]:
        return [
            (f"{h.payload.get('source', '')}:{h.payload.get('path', '')}", float(h.score))
            for h in hits
            if filters.path_matches(str(h.payload.get("path", "")))
        ]

    @staticmethod
    def _check_k(k: int, limit: int = MAX_K) -> int:
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= limit:
            raise ConfigError(f"k must be a whole number between 1 and {limit}, got {k!r}")
        return k
