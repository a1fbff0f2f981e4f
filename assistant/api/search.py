"""``GET /api/search``: ranked passages, the same retrieval the answers use, no generation."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from assistant.api.auth import CurrentUser
from assistant.api.deps import ServicesDep
from assistant.api.schemas import SearchOut, passage_out
from assistant.errors import ConfigError
from assistant.retrieval.query import QueryFilters

router = APIRouter(prefix="/api", tags=["search"])

Values = Annotated[list[str], Query(max_length=50)]


@router.get("/search", response_model=SearchOut)
def search(
    user: CurrentUser,
    svc: ServicesDep,
    q: Annotated[str, Query(description="The query; may contain repo:/path:/lang:/kind: filters.")],
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    repo: Values = [],  # noqa: B006 - FastAPI copies defaults
    path: Values = [],  # noqa: B006
    lang: Values = [],  # noqa: B006
    kind: Values = [],  # noqa: B006
) -> SearchOut:
    """Top ``k`` passages the caller may see (a sync def: FastAPI runs it in a thread)."""
    limit = svc.container.settings.generation.max_question_chars  # the same limit as /api/ask, before any parsing
    if len(q) > limit:
        raise ConfigError(f"the query is {len(q):,} characters; the limit is {limit:,} "
                          "(SOURCEWISE_GENERATION__MAX_QUESTION_CHARS)")
    filters = QueryFilters(repos=tuple(repo), paths=tuple(path), langs=tuple(lang), kinds=tuple(kind))
    given = None if filters.is_empty() else filters
    result = svc.retriever().retrieve(q, user=user, k=k, filters=given)  # it checks q
    now = datetime.now(UTC)
    return SearchOut(
        query=result.query,
        filters={key: list(values) for key, values in asdict(result.filters).items()},
        passages=[passage_out(p, rank, now) for rank, p in enumerate(result.passages, 1)],
        timings={key: round(float(v), 4) for key, v in result.timings.items()},
    )
