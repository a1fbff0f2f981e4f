"""What every LLM generator shares: the prompt, empty-output checks, condensing.

Subclasses only say how to send chat messages (``_chat``) and stream them
(``_stream_chat``), and map their library's exceptions to ``GenerationError`` so the
Answerer can fall back on one exception type with a countable reason.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from assistant.generation.base import Generation, GenerationError, Message, clean_history
from assistant.generation.prompts import build_messages, condense_messages
from assistant.models import Passage


class TokenStream:
    """An iterator of text deltas that knows the token counts once it is exhausted.

    ``Generator.stream`` returns plain ``Iterator[str]``; the Answerer reads ``tokens``
    from it when present, so streamed answers are counted like whole ones.
    """

    def __init__(self, deltas: Iterator[str]) -> None:
        self._deltas = deltas
        self.tokens: dict[str, int] = {}

    def __iter__(self) -> TokenStream:
        return self

    def __next__(self) -> str:
        return next(self._deltas)


class ChatGenerator:
    """Base for generators that talk to a chat model."""

    name = "llm"
    model: str | None = None

    def __init__(self, *, max_source_chars: int = 12_000, max_history: int = 6) -> None:
        self.max_source_chars = max_source_chars
        self.max_history = max_history

    # -- what subclasses implement ---------------------------------------------
    def _chat(self, messages: list[Message]) -> Generation:
        raise NotImplementedError

    def _stream_chat(self, messages: list[Message], stream: TokenStream) -> Iterator[str]:
        """Yield text deltas; set ``stream.tokens`` when the model reports usage."""
        raise NotImplementedError

    # -- the Generator protocol -------------------------------------------------
    def messages(self, question: str, passages: Sequence[Passage], history: Sequence[Message]) -> list[Message]:
        return build_messages(
            question, passages, clean_history(history, self.max_history), max_source_chars=self.max_source_chars
        )

    def generate(self, question: str, passages: Sequence[Passage], history: Sequence[Message] = ()) -> Generation:
        gen = self._chat(self.messages(question, passages, history))
        if not gen.text.strip():
            raise GenerationError("empty", f"{self.name} model {self.model} returned an empty answer")
        return gen

    def stream(self, question: str, passages: Sequence[Passage], history: Sequence[Message] = ()) -> TokenStream:
        msgs = self.messages(question, passages, history)
        holder = TokenStream(iter(()))

        def deltas() -> Iterator[str]:
            seen = False
            for delta in self._stream_chat(msgs, holder):
                if delta:
                    seen = seen or bool(delta.strip())
                    yield delta
            if not seen:
                raise GenerationError("empty", f"{self.name} model {self.model} returned an empty answer")

        holder._deltas = deltas()
        return holder

    def condense(self, question: str, history: Sequence[Message]) -> str:
        """A standalone version of a follow-up question, for retrieval."""
        turns = clean_history(history, self.max_history)
        if not turns:
            return question
        text = self._chat(condense_messages(question, turns)).text.strip()
        line = next((x.strip() for x in text.splitlines() if x.strip()), "")
        line = line.removeprefix("Standalone question:").strip().strip('"“”').strip()
        if not line or len(line) > 4 * len(question) + 400:
            raise GenerationError("malformed", "the model did not return a standalone question")
        return line


T = TypeVar("T")


def call_with_deadline(fn: Callable[[], T], seconds: float) -> T:
    """Run ``fn`` in a daemon thread; give up after ``seconds`` (the thread ends on its own timeout)."""
    box: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)

    def target() -> None:
        try:
            box.put((True, fn()))
        except BaseException as exc:  # handed to the caller
            box.put((False, exc))

    threading.Thread(target=target, name="sourcewise-generate", daemon=True).start()
    try:
        ok, value = box.get(timeout=seconds)
    except queue.Empty:
        raise GenerationError("timeout", f"the model did not finish within {seconds:g} s") from None
    if ok:
        return value
    raise value
