"""Follow-up questions become standalone questions before retrieval.

"and where is it configured?" retrieves nothing useful on its own. LLM generators
rewrite it with the model (better, costs a call); the extractive generator and any
failed rewrite use a cheap rule: a short or pronoun-led follow-up is joined to the
previous user question, so its identifiers still reach the retriever.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from assistant.generation.base import Condenser, Generator, Message, clean_history
from assistant.generation.llm import call_with_deadline
from assistant.generation.text import terms

log = logging.getLogger(__name__)

_FOLLOW_UP = re.compile(
    r"^\s*(and|but|also|so|then|what about|how about|same for)\b|"
    r"\b(it|its|it's|that|this|these|those|they|them|their|there|the same|above|previous|former|latter)\b",
    re.I,
)


def heuristic_standalone(question: str, history: Sequence[Message]) -> str:
    """Join a follow-up to the last user question when it refers back or says too little alone.

    A question with its own subject ("where is RETRY_LIMIT set?") stays as it is, so an
    unrelated new question does not drag the old topic into retrieval.
    """
    previous = [m["content"] for m in clean_history(history, 20) if m["role"] == "user"]
    if not previous:
        return question
    if _FOLLOW_UP.search(question) or len(terms(question)) < 2:
        return f"{previous[-1][:500]} {question}"
    return question


def standalone_question(
    generator: Generator, question: str, history: Sequence[Message], deadline_s: float = 60.0
) -> tuple[str, str | None]:
    """The question to retrieve with, and an error note if the model's rewrite failed."""
    if not clean_history(history, 20):
        return question, None
    if isinstance(generator, Condenser):
        condenser = generator
        try:
            return call_with_deadline(lambda: condenser.condense(question, history), deadline_s), None
        except Exception as exc:  # a failed rewrite must not fail the answer
            log.warning("condensing the follow-up with %s failed: %s", generator.name, exc)
            return heuristic_standalone(question, history), f"condense: {type(exc).__name__}: {exc}"
    return heuristic_standalone(question, history), None
