"""Request and response bodies of ``/api``, and the conversions from core types.

Requests are strict (no type coercion, unknown fields refused) so a client's mistake
is reported instead of silently reinterpreted. Responses carry, for every source, what
a reader needs to trust it: the citation string, link, age and staleness.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from assistant.models import Answer, Citation, Passage

FilterValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
FilterList = Annotated[list[FilterValue], Field(max_length=50)]


class FiltersIn(BaseModel):
    """Same meaning as ``repo:``/``path:``/``lang:``/``kind:`` written in the question."""

    model_config = ConfigDict(extra="forbid", strict=True)

    repos: FilterList = []
    paths: FilterList = Field(default=[], description="Globs, e.g. `payments/**`.")
    langs: FilterList = []
    kinds: FilterList = Field(default=[], description="code, docs or wiki.")


class HistoryMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["user", "assistant"]
    content: Annotated[str, Field(max_length=100_000)]


class AskRequest(BaseModel):
    """``POST /api/ask``. Length limits on ``question`` come from settings (checked later)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    question: str
    history: list[HistoryMessage] = []
    filters: FiltersIn | None = None
    stream: bool = False


class SourceOut(BaseModel):
    """Where a passage comes from, how old it is and whether it is trusted."""

    citation: str = Field(description="`source@commit:path#Lstart-Lend`")
    source: str
    path: str
    lines: str = Field(description="`Lstart-Lend`")
    start_line: int
    end_line: int
    commit: str
    kind: str
    url: str | None
    updated_at: datetime
    age_days: float
    status: str = Field(description="active | stale | deprecated")
    stale_reason: str | None = None
    symbol: str | None = None
    title: str | None = None
    owner: str | None = None


class CitationOut(SourceOut):
    n: int = Field(description="The `[n]` marker in the answer text.")


class PassageOut(SourceOut):
    rank: int
    id: str
    doc_id: str
    score: float
    language: str | None = None
    text: str


class AnswerOut(BaseModel):
    text: str
    citations: list[CitationOut]
    supported: bool = Field(description="False when no claim could be tied to a retrieved source.")
    stale_warnings: list[str]
    generator: str
    model: str | None
    fallback_reason: str | None
    cached: bool
    removed_citations: int
    timings: dict[str, float]
    tokens: dict[str, int]
    interaction_id: int | None


class SearchOut(BaseModel):
    query: str
    filters: dict[str, list[str]]
    passages: list[PassageOut]
    timings: dict[str, float]


def _source_fields(p: Passage, now: datetime | None) -> dict[str, Any]:
    return {
        "citation": p.citation, "source": p.source, "path": p.path,
        "lines": f"L{p.start_line}-L{p.end_line}", "start_line": p.start_line,
        "end_line": p.end_line, "commit": p.commit, "kind": p.kind, "url": p.url,
        "updated_at": p.updated_at, "age_days": round(p.age_days(now), 1), "status": p.status,
        "stale_reason": p.stale_reason, "symbol": p.symbol, "title": p.title, "owner": p.owner,
    }


def citation_out(c: Citation, now: datetime | None = None) -> CitationOut:
    return CitationOut(n=c.n, **_source_fields(c.passage, now))


def passage_out(p: Passage, rank: int, now: datetime | None = None) -> PassageOut:
    return PassageOut(rank=rank, id=p.id, doc_id=p.doc_id, score=round(p.score, 6),
                      language=p.language, text=p.text, **_source_fields(p, now))


def _floats(values: Mapping[str, Any]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in values.items() if isinstance(v, (int, float))}


def answer_out(a: Answer, now: datetime | None = None) -> AnswerOut:
    return AnswerOut(
        text=a.text, citations=[citation_out(c, now) for c in a.citations], supported=a.supported,
        stale_warnings=list(a.stale_warnings), generator=a.generator, model=a.model,
        fallback_reason=a.fallback_reason, cached=a.cached, removed_citations=a.removed_citations,
        timings=_floats(a.timings), tokens={k: int(v) for k, v in a.tokens.items()},
        interaction_id=a.interaction_id,
    )


def answer_json(a: Answer) -> dict[str, Any]:
    """The JSON body of an answer (also the ``answer`` SSE event)."""
    return answer_out(a).model_dump(mode="json")
