"""The Generator seam: anything that turns a question and retrieved passages into text.

Generators only write text with ``[n]`` markers (n = 1-based position in ``passages``);
checking those markers, naming stale sources, falling back and recording the
interaction is the Answerer's job, so every generator is held to the same rules.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from assistant.errors import SourcewiseError
from assistant.models import Passage

Message = dict[str, str]  # {"role": "user" | "assistant", "content": ...}


@dataclass(frozen=True)
class Generation:
    """What a generator produced: the raw text and token counts (empty when unknown)."""

    text: str
    tokens: dict[str, int] = field(default_factory=dict)


class GenerationError(SourcewiseError):
    """The model did not give a usable answer; the Answerer falls back to ``extractive``.

    ``reason`` is a short code stored with the interaction (``timeout``, ``unreachable``,
    ``refused``, ``empty``, ``malformed``, ``http-500``, ``error``) so failures can be
    counted; the message is a sentence fit for the user.
    """

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message or reason)
        self.reason = reason


@runtime_checkable
class Generator(Protocol):
    name: str  # "extractive" | "openai" | "llamacpp"
    model: str | None

    def generate(self, question: str, passages: Sequence[Passage], history: Sequence[Message]) -> Generation:
        """The whole answer text; raises ``GenerationError`` when the model fails."""
        ...

    def stream(self, question: str, passages: Sequence[Passage], history: Sequence[Message]) -> Iterator[str]:
        """The answer as text deltas; raises ``GenerationError`` when the model fails."""
        ...


@runtime_checkable
class Condenser(Protocol):
    """Optional extra of LLM generators: rewrite a follow-up into a standalone question."""

    def condense(self, question: str, history: Sequence[Message]) -> str: ...


def clean_history(history: Sequence[Message], max_messages: int) -> list[Message]:
    """Keep the last ``max_messages`` user/assistant turns with non-empty text.

    Clients send all sorts (system messages, tool calls, None content); only plain turns
    are meaningful to the prompt, and an unbounded history would crowd out the sources.
    """
    out: list[Message] = []
    for msg in history:
        if not isinstance(msg, dict):
            continue
        role, content = msg.get("role"), msg.get("content")
        if role in ("user", "assistant") and isinstance(content, str) and content.strip():
            out.append({"role": role, "content": content.strip()})
    return out[-max_messages:] if max_messages > 0 else []
