"""Running a route's steps for the Answerer (``assistant.generation.routing``).

Blocking: each step the policy allows and whose circuit is closed (or due a probe) is
asked in turn; a failure (unreachable, timeout, HTTP 5xx, refusal, empty, uncited — the
rules of the single-generator fallback) is counted on its circuit and the next step is
asked, silently. ``extractive`` answers when the route reaches it, or when every step
failed (with the same notice as before). Streaming: a step that fails before its first
token is passed over the same way; once text has streamed, the Answerer's usual
notice-and-extractive path takes over and the trace is settled from there.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from assistant.generation.base import Generation, GenerationError, Generator
from assistant.generation.citations import check_citations
from assistant.generation.llm import call_with_deadline
from assistant.generation.routing import Endpoint, RouteTrace

if TYPE_CHECKING:
    from assistant.answer import Answerer, _Run

log = logging.getLogger("sourcewise.answers")


def _usable(trace: RouteTrace, step: Endpoint) -> bool:
    """Policy first (a forbidden step is never called), then the circuit."""
    if not trace.plan.allowed(step):
        trace.skipped(step, "policy")
        return False
    if step.breaker is not None and not step.breaker.allow():
        trace.skipped(step, "circuit-open")
        return False
    return True


def _as_error(exc: Exception, step: Endpoint) -> GenerationError:
    if isinstance(exc, GenerationError):
        return exc
    log.exception("generator %s (%s) failed", step.generator.name, step.name)
    return GenerationError("error", f"the model failed: {type(exc).__name__}")


def _skipped_error(trace: RouteTrace) -> GenerationError | None:
    """Why no model answered when steps were only skipped for open circuits."""
    names = [s["endpoint"] for s in trace.steps if s.get("reason") == "circuit-open"]
    if not names:
        return None
    return GenerationError("circuit-open", f"the model endpoint(s) {', '.join(names)} failed repeatedly "
                                           "and are skipped for now")


def routed_text(answerer: Answerer, run: _Run) -> tuple[str, dict[str, int], Generator, str | None]:
    """The answer text from the first step that gives a usable one (see the module doc)."""
    from assistant.answer import _notice

    trace: RouteTrace = run.route  # type: ignore[assignment]
    passages, cfg = run.passages, answerer.cfg
    last: GenerationError | None = None
    uncited: tuple[Generation, Endpoint] | None = None
    for step in trace.plan.steps:
        if not _usable(trace, step):
            continue
        trace.start()
        if step.is_extractive:
            g = step.generator.generate(run.retrieval_query, passages, run.history)
            if uncited is not None and not check_citations(g.text, len(passages)).supported:
                break  # nothing better than the uncited model answer: keep it (as without routes)
            trace.answered(step)
            why = last or _skipped_error(trace)
            if why is None:
                return g.text, dict(g.tokens), step.generator, None
            return _notice(why) + g.text, {}, step.generator, f"{why.reason}: {why}"
        gen = step.generator
        try:
            g = call_with_deadline(lambda: gen.generate(run.model_question, passages, run.history), cfg.deadline_s)
            if check_citations(g.text, len(passages)).supported or not cfg.fallback_on_uncited:
                trace.answered(step)
                return g.text, dict(g.tokens), gen, trace.degraded()
            err = GenerationError("no-citations", "the model's answer cited none of the sources")
            uncited = uncited or (g, step)
        except Exception as exc:
            err = _as_error(exc, step)
        trace.failed(step, err)
        run.errors.append(f"{step.name}: {err.reason}: {err}")
        last = err
    # the route ran out without a usable answer: the Answerer's own fallback, as without routes
    fb = answerer.fallback.generate(run.retrieval_query, passages, run.history)
    if uncited is not None and not check_citations(fb.text, len(passages)).supported:
        g, step = uncited
        trace.answered_by = step.name
        trace.steps.append({"endpoint": step.name, "generator": step.generator.name, "model": step.generator.model,
                            "outcome": "kept-uncited"})
        return g.text, dict(g.tokens), step.generator, None
    why = last or _skipped_error(trace)
    if why is None:  # every step was forbidden by the policy: extractive composes it, by design
        trace.answered_by = answerer.fallback.name
        return fb.text, dict(fb.tokens), answerer.fallback, None
    if not cfg.fallback:
        raise why
    trace.answered_by = answerer.fallback.name
    return _notice(why) + fb.text, {}, answerer.fallback, f"{why.reason}: {why}"


class _Started:
    """A stream whose first delta was already read (to know the step works); keeps ``tokens``."""

    def __init__(self, first: str, rest: Any) -> None:
        self._rest = rest
        self._it = itertools.chain((first,), rest)

    def __iter__(self) -> _Started:
        return self

    def __next__(self) -> str:
        return next(self._it)

    @property
    def tokens(self) -> dict[str, int]:
        return dict(getattr(self._rest, "tokens", {}) or {})


def open_stream(answerer: Answerer, run: _Run) -> tuple[Generator, Iterator[str], Endpoint | None]:
    """The first step that yields a token, with its stream and the step (the caller settles
    it). Raises the last failure when every model step failed before its first token, or
    a ``circuit-open`` error when all were skipped for open circuits: the Answerer then
    streams the extractive fallback with its notice, as without routes."""
    trace: RouteTrace = run.route  # type: ignore[assignment]
    passages = run.passages
    last: GenerationError | None = None
    for step in trace.plan.steps:
        if not _usable(trace, step):
            continue
        trace.start()
        if step.is_extractive:
            why = last or _skipped_error(trace)
            if why is not None:
                raise _settled(why)
            return step.generator, step.generator.stream(run.retrieval_query, passages, run.history), step
        try:
            deltas = step.generator.stream(run.model_question, passages, run.history)
            it = iter(deltas)
            first = next(it)
            return step.generator, _Started(first, deltas), step
        except StopIteration:
            err = GenerationError("empty", f"{step.generator.name} model {step.generator.model} returned nothing")
        except Exception as exc:
            err = _as_error(exc, step)
        trace.failed(step, err)
        run.errors.append(f"{step.name}: {err.reason}: {err}")
        last = err
    why = last or _skipped_error(trace)
    if why is not None:
        raise _settled(why)
    return answerer.fallback, answerer.fallback.stream(run.retrieval_query, passages, run.history), None


def _settled(error: GenerationError) -> GenerationError:
    """Mark a failure as already counted on its circuit and in the interaction's errors."""
    error.settled = True  # type: ignore[attr-defined]
    return error


def settle(run: _Run, step: Endpoint | None, reason: GenerationError | None, fallback: str) -> None:
    """After a streamed answer: count the step's success or failure (mid-stream, uncited)
    on its circuit, and note who answered (``fallback`` when the reason made it take over)."""
    trace: RouteTrace | None = run.route
    if trace is None:
        return
    if reason is None:
        if step is not None:
            trace.answered(step)
        else:
            trace.answered_by = fallback
        return
    if step is not None and not getattr(reason, "settled", False):
        trace.failed(step, reason)
    trace.answered_by = fallback
