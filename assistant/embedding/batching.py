"""Concurrent questions share one forward pass of the embedding model.

Under load (many chat sessions asking at once) embedding questions one by one is the
bottleneck: each call pays the model's fixed overhead and competing torch calls fight
for the same cores. ``QueryBatcher`` lets the first caller embed alone and everyone who
arrives meanwhile go together in the next batch, so a burst of 50 questions costs two
forward passes instead of 50. A lone question is never delayed: there is no timer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from assistant.embedding.base import Embedder


class QueryBatcher:
    """An ``Embedder`` whose ``embed_query`` batches concurrent calls; the rest is delegated."""

    def __init__(self, inner: Embedder, max_batch: int = 64) -> None:
        self.inner = inner
        self.max_batch = max_batch
        self._cv = threading.Condition()
        self._pending: list[tuple[str, Future[list[float]]]] = []
        self._busy = False
        self.batches = 0  # forward passes run (for tests and benchmarks)

    @property
    def model_id(self) -> str:
        return self.inner.model_id  # type: ignore[attr-defined,no-any-return]

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> list[list[float]]:
        return self.inner.embed_documents(texts, progress)

    def embed_query(self, text: str) -> list[float]:
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        """Several readings of one question, batched with everyone else's."""
        futures: list[Future[list[float]]] = [Future() for _ in texts]
        with self._cv:
            self._pending.extend(zip(texts, futures, strict=True))
        while True:
            with self._cv:
                while self._busy and not all(f.done() for f in futures):
                    self._cv.wait()
                if all(f.done() for f in futures):
                    return [f.result() for f in futures]
                self._busy = True  # this caller runs the next batch (its own texts are in it)
                batch = self._pending[: self.max_batch]
                del self._pending[: len(batch)]
            try:
                self._run(batch)
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()

    def _run(self, batch: list[tuple[str, Future[list[float]]]]) -> None:
        texts = [t for t, _ in batch]
        try:
            many: Any = getattr(self.inner, "embed_queries", None)
            vectors = many(texts) if many is not None else [self.inner.embed_query(t) for t in texts]
        except BaseException as exc:  # noqa: BLE001 - every waiter gets the error, not a hang
            for _, f in batch:
                f.set_exception(exc)
            return
        finally:
            self.batches += 1
        for (_, f), v in zip(batch, vectors, strict=True):
            f.set_result(v)
