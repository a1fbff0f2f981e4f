"""Concurrent questions share one forward pass of the embedding model.

Under load (many chat sessions asking at once) embedding questions one by one is the
bottleneck: each call pays the model's fixed overhead and competing torch calls fight
for the same cores. ``QueryBatcher`` hands every question to one embedding thread, which
takes everything that queued while its previous pass ran, so a burst of 50 questions
costs two forward passes instead of 50. A lone question is never delayed: there is no
timer, the thread starts on it at once.

Callers wait on their own futures, not on a shared condition: with fifty threads
waiting, waking them all after every pass (to see whose turn it is) cost more CPU in
futex calls and GIL hand-offs than the batching saved.
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
        self._worker: threading.Thread | None = None
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
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._loop, name="query-embedder", daemon=True)
                self._worker.start()
            self._cv.notify()
        return [f.result() for f in futures]

    def _loop(self) -> None:
        """The embedding thread: one pass over whatever is queued, until the process ends."""
        while True:
            with self._cv:
                self._cv.wait_for(lambda: bool(self._pending))
                batch = self._pending[: self.max_batch]
                del self._pending[: len(batch)]
            self._run(batch)

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
