"""Fake retriever and scripted generators for Answerer tests (the real ones need models)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.generation.base import Generation, GenerationError, Message
from assistant.models import Passage, User


@dataclass(frozen=True)
class FakeRetrieval:
    query: str
    filters: Any
    passages: tuple[Passage, ...]
    timings: dict[str, float]


@dataclass
class FakeRetriever:
    passages: Sequence[Passage] = ()
    error: Exception | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def retrieve(self, question: str, *, user: User, k: int | None = None, filters: Any = None) -> FakeRetrieval:
        self.calls.append({"question": question, "user": user, "k": k, "filters": filters})
        if self.error is not None:
            raise self.error
        return FakeRetrieval(question, filters, tuple(self.passages), {"dense": 0.002, "sparse": 0.001})


@dataclass
class ScriptedGenerator:
    """Acts like an LLM generator: returns ``text``, raises ``error``, or hangs on ``block``.

    ``stream_fail_after`` yields that many deltas of ``text`` and then raises ``error``.
    """

    text: str = "Payments are retried in `retry_failed_payment` [1]."
    error: Exception | None = None
    block: threading.Event | None = None
    stream_fail_after: int | None = None
    tokens: dict[str, int] = field(default_factory=lambda: {"prompt": 120, "completion": 12, "total": 132})
    name: str = "openai"
    model: str | None = "fake-model"
    calls: int = 0
    questions: list[str] = field(default_factory=list)

    def generate(self, question: str, passages: Sequence[Passage], history: Sequence[Message]) -> Generation:
        self.calls += 1
        self.questions.append(question)
        if self.block is not None:
            self.block.wait(10)
        if self.error is not None:
            raise self.error
        return Generation(self.text, dict(self.tokens))

    def stream(self, question: str, passages: Sequence[Passage], history: Sequence[Message]) -> Iterator[str]:
        self.calls += 1
        words = [w + " " for w in self.text.split(" ")]
        for i, w in enumerate(words):
            if self.stream_fail_after is not None and i >= self.stream_fail_after:
                raise self.error or GenerationError("error", "the model broke off")
            yield w
        if self.error is not None and self.stream_fail_after is None:
            raise self.error


@dataclass
class CondensingGenerator(ScriptedGenerator):
    standalone: str = "where are failed payments retried and how often"
    condensed: list[tuple[str, list[Message]]] = field(default_factory=list)

    def condense(self, question: str, history: Sequence[Message]) -> str:
        self.condensed.append((question, list(history)))
        return self.standalone
