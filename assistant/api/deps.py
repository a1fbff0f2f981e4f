"""What every router needs: the lazily built answerer and retriever, and filter input.

They load the embedding model and open the store, so they are built on the first
request that needs them (once, under a lock) rather than at import or app creation;
tests inject fakes instead. Questions are not checked here: the Answerer and Retriever
refuse empty or oversized ones with a ``ConfigError`` (and the Answerer records the
refusal as an interaction, so bad input shows up in the eval data too).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request

from assistant.api.schemas import FiltersIn
from assistant.retrieval.query import QueryFilters
from assistant.settings import ApiSettings

if TYPE_CHECKING:
    from assistant.answer import Answerer
    from assistant.container import Container
    from assistant.retrieval.retriever import Retriever

Message = dict[str, str]


class Services:
    """The app's view of the container: settings plus the answerer and retriever."""

    def __init__(self, container: Container, *, answerer: Any = None, retriever: Any = None) -> None:
        self.container = container
        self._answerer = answerer
        self._retriever = retriever
        self._lock = threading.Lock()

    @property
    def api(self) -> ApiSettings:
        return self.container.settings.api

    def answerer(self) -> Answerer:
        """Blocking on first use (model load): call from a worker thread."""
        if self._answerer is None:
            retriever = self.retriever()
            with self._lock:
                if self._answerer is None:
                    self._answerer = _build_answerer(self.container, retriever)
        return self._answerer

    def retriever(self) -> Retriever:
        """The container's retriever when it offers one (then shared with the answerer)."""
        if self._retriever is None:
            with self._lock:
                if self._retriever is None:
                    self._retriever = _build_retriever(self.container)
        return self._retriever

    def route_status(self) -> list[dict[str, Any]] | None:
        """The live routes and circuits of this process (``None`` without routes); before the
        first question the answerer is not built yet, so the configured routes, all closed."""
        if not self.container.settings.routing.routes:
            return None
        router = getattr(self._answerer, "router", None)
        if router is not None:
            return router.status()  # type: ignore[no-any-return]
        from assistant.route_status import configured_status

        return configured_status(self.container.settings)

    def generator_info(self) -> dict[str, str | None]:
        """Which generator answers (from settings; building it is not needed to say so)."""
        gen = self.container.settings.generation
        return {"generator": gen.generator, "model": gen.model}


def _container_has_retriever(container: Container) -> bool:
    return hasattr(type(container), "retriever")


def _build_retriever(container: Container) -> Retriever:
    if _container_has_retriever(container):
        return container.retriever  # type: ignore[attr-defined,no-any-return]
    from assistant.access import source_groups
    from assistant.retrieval.retriever import Retriever

    return Retriever(container.store, container.embedder, container.sparse, container.settings.retrieval,
                     known_sources=lambda: source_groups(container.db))


def _build_answerer(container: Container, retriever: Retriever) -> Answerer:
    from assistant.answer import Answerer, build_answerer, build_generator

    if _container_has_retriever(container):
        return build_answerer(container)
    settings = container.settings
    return Answerer(retriever, build_generator(settings.generation), container.catalog, settings,
                    metrics=getattr(container, "metrics", None))


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(services)]


def query_filters(filters: FiltersIn | None) -> QueryFilters | None:
    """Body filters as the retriever's type; ``None`` when none were given."""
    if filters is None:
        return None
    qf = QueryFilters(repos=tuple(filters.repos), paths=tuple(filters.paths),
                      langs=tuple(filters.langs), kinds=tuple(filters.kinds))
    return None if qf.is_empty() else qf
