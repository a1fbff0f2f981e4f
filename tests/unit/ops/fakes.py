"""A bag-of-words embedder for unit tests: questions sharing words land close together."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence

STOP = {"the", "a", "an", "how", "do", "i", "we", "is", "what", "where", "to", "of", "in", "our", "for", "does"}


class WordEmbedder:
    model_id = "test-words"
    dim = 256

    def __init__(self) -> None:
        self.calls = 0

    def _vec(self, text: str) -> list[float]:
        v = [0.0] * self.dim
        for w in text.lower().replace("?", " ").split():
            if w not in STOP:
                v[int(hashlib.sha1(w.encode()).hexdigest(), 16) % self.dim] += 1.0
        n = math.sqrt(sum(x * x for x in v)) or 1.0
        return [x / n for x in v]

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> list[list[float]]:
        self.calls += 1
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vec(text)
