"""The ``Embedder`` protocol: dense vectors for documents and queries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class Embedder(Protocol):
    model_id: str

    @property
    def dim(self) -> int:
        """Vector size; loads the model if needed."""

    def embed_documents(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> list[list[float]]:
        """Embed texts in batches; ``progress`` receives the count done after each batch."""

    def embed_query(self, text: str) -> list[float]:
        """Embed a query (may use a query prefix for asymmetric models)."""
