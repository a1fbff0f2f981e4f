"""The Answerer: retrieve -> generate -> validate citations -> record the interaction.

Everything a user can get wrong (an empty or huge question, an unknown filter) and
everything a model can do wrong (fail, hang, refuse, answer empty, cite nothing) ends
in a clear message and exactly one interaction row plus one structured log record, so
every answer is an eval record and every failure is countable. Generators only write
text; the rules (citations checked in code, stale sources named, fallback to
``extractive``) live here, once, for all of them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from assistant.answer_cache import AnswerCache, cache_key
from assistant.answer_route import open_stream, routed_text, settle
from assistant.audit import AuditLog
from assistant.catalog.interactions import InteractionLog
from assistant.catalog.repo import Catalog
from assistant.errors import ConfigError, SourcewiseError
from assistant.generation.base import GenerationError, Generator, Message, clean_history
from assistant.generation.citations import CitationCheck, check_citations, citations_for, stale_warnings
from assistant.generation.condense import standalone_question
from assistant.generation.extractive import EXTRACTIVE_VERSION, ExtractiveGenerator
from assistant.generation.factory import build_generator  # noqa: F401  (re-exported)
from assistant.generation.link_hosts import IndexedHosts, OutputFilter, answer_hosts, check_output, configured_hosts
from assistant.generation.llm import call_with_deadline
from assistant.generation.prompts import PROMPT_VERSION
from assistant.generation.routing import Router, RouteTrace, build_router
from assistant.generation.sanitize import LinkHosts, sanitize_markdown
from assistant.metrics import NullMetrics, answer_outcome, stale_counts
from assistant.models import Answer, Passage, User
from assistant.policy import ClassificationPolicy, source_classifications, withheld_note
from assistant.settings import GenerationSettings, Settings

if TYPE_CHECKING:
    from assistant.retrieval.query import QueryFilters

log = logging.getLogger("sourcewise.answers")

EMPTY_INDEX = (
    "Nothing is indexed yet, so there is nothing to answer from. Add a source with "
    "`sourcewise source add NAME --git PATH` and run `sourcewise index`."
)
_STORED_CHARS = 20_000  # longest question/answer text kept in an interaction row


@dataclasses.dataclass
class _Run:
    """One interaction being built; becomes the row and the log record."""

    question: str
    user: User | None
    channel: str
    history: list[Message] = dataclasses.field(default_factory=list)
    filters: dict[str, Any] = dataclasses.field(default_factory=dict)
    started: float = dataclasses.field(default_factory=time.perf_counter)
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    passages: tuple[Passage, ...] = ()
    retrieval_query: str = ""  # standalone (condensed) question, filters stripped
    model_question: str = ""  # what the generator is asked
    index_version: str | None = None
    key: str | None = None
    errors: list[str] = dataclasses.field(default_factory=list)
    generator: Generator | None = None  # who answers (the classification policy may pick extractive)
    withheld: int = 0  # passages the policy kept from the configured generator
    route: RouteTrace | None = None  # the route's steps, when ``routing.routes`` is configured

    def lap(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[name] = round(now - since, 6)
        return now


class Answerer:
    """Answers questions for one process; holds the answer cache, so build it once."""

    def __init__(
        self,
        retriever: Any,
        generator: Generator,
        catalog: Catalog,
        settings: Settings,
        *,
        fallback: Generator | None = None,
        index_version: Callable[[], str] | None = None,
        router: Router | None | bool = True,
        metrics: NullMetrics | None = None,
    ) -> None:
        self.retriever = retriever
        self.generator = generator
        self.cfg: GenerationSettings = settings.generation
        self.stale_threshold = settings.staleness.warn_threshold
        self.fallback = fallback or ExtractiveGenerator()
        self.interactions = InteractionLog(catalog)
        self.audit = AuditLog(self.interactions.db)  # one question row per interaction, every door
        self.index_version = index_version or self.interactions.index_version
        self.cache = AnswerCache(self.cfg.cache_size, self.cfg.cache_ttl_s)
        self.metrics = metrics or NullMetrics()  # assistant.metrics: one row, one count, every door
        self._link_hosts = configured_hosts(settings)
        self._indexed_hosts = IndexedHosts(self.interactions.db)
        # Which generator may see which sources: read from the catalog per question.
        self.policy = ClassificationPolicy(settings.policy, lambda: source_classifications(catalog.db),
                                           base_url=self.cfg.base_url)
        # Routes per classification (``routing.routes``); ``router=False``: this generator only.
        self.router = (build_router(settings, self.policy.classifications) if router is True
                       else router or None)

    # -- public API ---------------------------------------------------------------
    def answer(self, question: str, history: Sequence[Message] = (), user: User | None = None, *,
               filters: QueryFilters | None = None, channel: str = "cli") -> Answer:
        """A complete answer; raises ``SourcewiseError`` (with ``interaction_id``) for bad input."""
        run, early = self._prepare(question, history, user, filters, channel)
        if early is not None:
            return early
        try:
            t = time.perf_counter()
            text, tokens, gen, fallback_reason = self._generate_text(run)
            run.lap("generate", t)
            return self._finish(run, text, tokens, gen, fallback_reason)
        except BaseException as exc:
            self._fail(run, exc)
            raise

    def stream(self, question: str, history: Sequence[Message] = (), user: User | None = None, *,
               filters: QueryFilters | None = None, channel: str = "cli") -> Iterator[dict[str, Any]]:
        """``{"type": "delta", "text"}`` events, then one ``{"type": "answer", "answer"}``.

        Input is checked and sources retrieved *before* this returns, so bad input raises
        here (an API can still answer 400) rather than in the middle of an event stream.
        The concatenated deltas equal the final answer's text.
        """
        run, early = self._prepare(question, history, user, filters, channel)
        if early is not None:
            return iter(({"type": "delta", "text": early.text}, {"type": "answer", "answer": early}))
        return self._stream_events(run)

    # -- stages -------------------------------------------------------------------
    def _prepare(self, question: str, history: Sequence[Message], user: User | None,
                 filters: QueryFilters | None, channel: str) -> tuple[_Run, Answer | None]:
        run = _Run(question=question if isinstance(question, str) else str(question), user=user,
                   channel=(channel or "cli")[:40], filters=_filters_json(filters))
        try:
            if user is None:
                raise TypeError("Answerer needs the calling user (User); the CLI passes an admin explicitly")
            question = self._check_question(run.question)
            run.history = clean_history(history, self.cfg.max_history_messages)
            t = time.perf_counter()
            run.index_version = self.index_version()
            self.cache.advance(run.index_version)
            run.key = cache_key(
                question=question, history=run.history, filters=run.filters, groups=user.access_groups(),
                index_version=run.index_version, generator=self.generator.name, model=self.generator.model,
                prompt_version=self._prompt_version(self.generator),
            )
            hit = self.cache.get(run.key)
            if self.cache.max_entries > 0:
                self.metrics.observe_cache(hit is not None)
            t = run.lap("cache", t)
            if hit is not None:
                return run, self._cached(run, hit)
            retrieval_question = question
            if run.history and self.cfg.condense:
                retrieval_question, note = standalone_question(
                    self.generator, question, run.history, self.cfg.deadline_s
                )
                if note:
                    run.errors.append(note)
                t = run.lap("condense", t)
            retrieval = self.retriever.retrieve(retrieval_question, user=user, filters=filters)
            t = run.lap("retrieve", t)
            run.passages = tuple(retrieval.passages)
            run.generator = self._apply_policy(run)
            run.retrieval_query = getattr(retrieval, "query", None) or retrieval_question
            run.model_question = self._model_question(question, run)
            if getattr(retrieval, "filters", None) is not None:
                run.filters = _filters_json(retrieval.filters) or run.filters
            for name, seconds in (getattr(retrieval, "timings", None) or {}).items():
                run.timings[f"retrieve.{name}"] = round(float(seconds), 6)
            if not run.passages:
                if self.interactions.document_count() == 0:
                    return run, self._finish(run, EMPTY_INDEX, {}, self.fallback, None)
                text = self.fallback.generate(run.retrieval_query, (), run.history).text
                return run, self._finish(run, text, {}, self.fallback, None)
            return run, None
        except BaseException as exc:
            self._fail(run, exc)
            raise

    def _apply_policy(self, run: _Run) -> Generator:
        """Withhold what the configured generator may not see (``assistant.policy``); when
        that is everything, ``extractive`` composes the answer from all of it instead."""
        if self.router is not None and (plan := self.router.plan(run.passages)) is not None:
            run.route = RouteTrace(plan)  # each step is checked against the policy as it comes up
            return plan.first_model() or self.fallback
        decision = self.policy.decide(run.passages, self.generator.name)
        run.withheld = decision.withheld
        if not decision.withheld:
            return self.generator
        if decision.passages:
            run.passages = decision.passages
            return self.generator
        return self.fallback

    def _model_question(self, question: str, run: _Run) -> str:
        """LLMs get the user's own words (they see the conversation); extractive the standalone form."""
        if (run.generator or self.generator).name == self.fallback.name or not run.history:
            return run.retrieval_query
        from assistant.retrieval.query import parse_query

        try:
            return parse_query(question)[0] or run.retrieval_query
        except SourcewiseError:
            return run.retrieval_query

    def _check_question(self, question: str) -> str:
        q = question.strip()
        if not q:
            raise ConfigError(
                "the question is empty: ask about the code or docs, e.g. `where do we retry failed payments?`"
            )
        limit = self.cfg.max_question_chars
        if len(q) > limit:
            raise ConfigError(
                f"the question is {len(q):,} characters; the limit is {limit:,}. Ask about one thing, "
                "and paste only the lines that matter (SOURCEWISE_GENERATION__MAX_QUESTION_CHARS)"
            )
        return q

    def _generate_text(self, run: _Run) -> tuple[str, dict[str, int], Generator, str | None]:
        """The answer text from the generator, or from ``extractive`` with a notice."""
        if run.route is not None:
            return routed_text(self, run)
        gen, passages = run.generator or self.generator, run.passages
        if gen.name == self.fallback.name:
            g = gen.generate(run.model_question, passages, run.history)
            return g.text, dict(g.tokens), gen, None
        try:
            g = call_with_deadline(
                lambda: gen.generate(run.model_question, passages, run.history), self.cfg.deadline_s
            )
            check = check_citations(g.text, len(passages))
            if check.supported or not self.cfg.fallback_on_uncited:
                return g.text, dict(g.tokens), gen, None
            reason = GenerationError("no-citations", "the model's answer cited none of the sources")
        except GenerationError as exc:
            reason = exc
        except Exception as exc:  # a library bug must not cost the user an answer
            log.exception("generator %s failed", gen.name)
            reason = GenerationError("error", f"the model failed: {type(exc).__name__}")
        run.errors.append(f"{gen.name}: {reason.reason}: {reason}")
        fb = self.fallback.generate(run.retrieval_query, passages, run.history)
        if reason.reason == "no-citations" and not check_citations(fb.text, len(passages)).supported:
            return g.text, dict(g.tokens), gen, None  # nothing better to offer: keep it, unsupported
        if not self.cfg.fallback:
            raise reason
        return _notice(reason) + fb.text, {}, self.fallback, f"{reason.reason}: {reason}"

    def _stream_events(self, run: _Run) -> Iterator[dict[str, Any]]:
        gen, passages = run.generator or self.generator, run.passages
        filt = OutputFilter(len(passages), self._hosts(run))
        shown: list[str] = []
        tokens: dict[str, int] = {}
        used_gen, fallback_reason, step = gen, None, None
        t = time.perf_counter()

        def emit(text: str) -> Iterator[dict[str, Any]]:
            if text:
                if not shown:  # time to first token, for the interaction row and the metrics
                    run.timings["first_token"] = round(time.perf_counter() - run.started, 6)
                shown.append(text)
                yield {"type": "delta", "text": text}

        try:
            reason: GenerationError | None = None
            is_fallback = gen.name == self.fallback.name
            try:
                deadline = time.monotonic() + self.cfg.deadline_s
                if run.route is not None:  # steps failing before their first token are passed over
                    gen, deltas, step = open_stream(self, run)
                    used_gen, is_fallback = gen, gen.name == self.fallback.name
                else:
                    deltas = gen.stream(run.model_question, passages, run.history)
                for delta in deltas:
                    yield from emit(filt.feed(delta))
                    if not is_fallback and time.monotonic() > deadline:
                        raise GenerationError("timeout", f"the model did not finish within {self.cfg.deadline_s:g} s")
                yield from emit(filt.flush())
                tokens = dict(getattr(deltas, "tokens", {}) or {})
                if not is_fallback and not filt.used and self.cfg.fallback_on_uncited:
                    fb = self.fallback.generate(run.retrieval_query, passages, run.history)
                    if check_citations(fb.text, len(passages)).supported:
                        reason = GenerationError("no-citations", "the model's answer cited none of the sources")
            except Exception as exc:
                if is_fallback:
                    raise
                if not isinstance(exc, GenerationError):
                    log.exception("generator %s failed while streaming", gen.name)
                reason = exc if isinstance(exc, GenerationError) else GenerationError(
                    "error", f"the model failed: {type(exc).__name__}")
            settle(run, step, reason, self.fallback.name)
            if reason is None and run.route is not None:
                fallback_reason = run.route.degraded()  # a later step answered: say which failed
            if reason is not None:
                if not getattr(reason, "settled", False):
                    run.errors.append(f"{gen.name}: {reason.reason}: {reason}")
                if not self.cfg.fallback:
                    raise reason
                used_gen, fallback_reason = self.fallback, f"{reason.reason}: {reason}"
                yield from emit(filt.close())
                sep = "" if not shown or "".join(shown).endswith("\n\n") else "\n\n"
                yield from emit(filt.feed(sep + _notice(reason, after_text=bool(shown))))
                for piece in self.fallback.stream(run.retrieval_query, passages, run.history):
                    yield from emit(filt.feed(piece))
                yield from emit(filt.close())
            run.lap("generate", t)
            check = CitationCheck("".join(shown), filt.used, filt.removed)
            answer = self._finish(run, check, tokens, used_gen, fallback_reason)
        except GeneratorExit:  # the client stopped reading (closed the connection)
            run.timings["total"] = round(time.perf_counter() - run.started, 6)
            shown_chars = len("".join(shown))
            self._record(run, None, gen, f"abandoned: the client stopped reading after {shown_chars} characters")
            raise
        except BaseException as exc:
            self._fail(run, exc)
            raise
        yield from emit(answer.text[len(check.text):])  # the stale-source note, if any
        yield {"type": "answer", "answer": answer}

    def _finish(self, run: _Run, text: str | CitationCheck, tokens: dict[str, int], gen: Generator,
                fallback_reason: str | None) -> Answer:
        """Validate citations (unless a stream already did), name stale sources, record, log, cache."""
        t = time.perf_counter()
        passages = run.passages
        hosts = self._hosts(run)
        if isinstance(text, CitationCheck):  # streamed: the text is what the user already saw
            check = text
        else:  # citations checked, then images/links/HTML neutralised (generation.sanitize)
            check = check_output(text.strip(), len(passages), hosts)
        text = check.text
        cited = [(n, passages[n - 1]) for n in check.used]
        warnings = [sanitize_markdown(w, hosts)  # paths and owners' reasons are data too
                    for w in stale_warnings(cited, self.cfg.max_age_days(), datetime.now(UTC), self.stale_threshold)]
        if warnings:
            sep = "" if text.endswith("\n\n") else "\n" if text.endswith("\n") else "\n\n"
            text += sep + "Check before relying on it:\n" + "\n".join(f"- {w}" for w in warnings)
        composed = run.withheld > 0 and run.generator is not self.generator
        if run.withheld:
            sep = "" if text.endswith("\n\n") else "\n" if text.endswith("\n") else "\n\n"
            text += sep + withheld_note(run.withheld, self.generator.name, composed=composed)
            if composed and fallback_reason is None:
                fallback_reason = f"policy: {run.withheld} source(s) withheld from {self.generator.name}"
        run.lap("validate", t)
        run.timings["total"] = round(time.perf_counter() - run.started, 6)
        answer = Answer(
            text=text, citations=citations_for(check.used, passages), passages=passages,
            supported=check.supported, generator=gen.name, model=gen.model, stale_warnings=tuple(warnings),
            removed_citations=check.removed, fallback_reason=fallback_reason, timings=dict(run.timings),
            tokens=dict(tokens), route=run.route.as_dict() if run.route else None,
        )
        answer = dataclasses.replace(answer, interaction_id=self._record(run, answer, gen))
        if (fallback_reason is None or composed) and not run.errors and run.key is not None:
            self.cache.put(run.key, answer)
        return answer

    def _cached(self, run: _Run, hit: Answer) -> Answer:
        run.passages = hit.passages
        run.timings["total"] = round(time.perf_counter() - run.started, 6)
        answer = dataclasses.replace(hit, text=sanitize_markdown(hit.text, self._hosts(run)), cached=True,
                                     timings=dict(run.timings), tokens={})
        gen = self.generator
        return dataclasses.replace(answer, interaction_id=self._record(run, answer, gen))

    def _hosts(self, run: _Run) -> LinkHosts:
        """Hosts this answer may link to (``generation.link_hosts``)."""
        return answer_hosts(self._link_hosts, self._indexed_hosts.get(run.index_version), run.passages)

    # -- records ------------------------------------------------------------------
    def _prompt_version(self, gen: Generator) -> str:
        return EXTRACTIVE_VERSION if gen.name == self.fallback.name else PROMPT_VERSION

    def _record(self, run: _Run, answer: Answer | None, gen: Generator | None, error: str | None = None) -> int | None:
        fields: dict[str, Any] = {
            "user_name": run.user.name if isinstance(run.user, User) else "?",
            "channel": run.channel,
            "question": _clip(run.question),
            "history": run.history,
            "filters": run.filters,
            "retrieved": [{"n": n, "id": p.id, "doc_id": p.doc_id, "path": p.path, "score": round(p.score, 6)}
                          for n, p in enumerate(run.passages, 1)],
            "prompt_version": self._prompt_version(self.generator if run.route is None else gen or self.generator),
            "generator": gen.name if gen else None,
            "model": gen.model if gen else None,
            "index_version": run.index_version,
            "timings": dict(run.timings) | ({"route": run.route.as_dict()} if run.route else {}),
            "error": "; ".join([*run.errors, *([error] if error else [])]) or None,
        }
        if answer is not None:
            fields |= {
                "answer": _clip(answer.text),
                "citations": [{"n": c.n, "id": c.passage.id, "citation": c.passage.citation} for c in answer.citations],
                "supported": answer.supported, "removed_citations": answer.removed_citations,
                "fallback_reason": answer.fallback_reason, "cached": answer.cached, "tokens": dict(answer.tokens),
            }
        interaction_id = self.interactions.record(**fields)
        try:
            self.audit.record(fields["user_name"], *_question_audit(run, answer, gen, self.generator, interaction_id,
                                                                    fields["error"]))
        except Exception:  # like the interaction row: logged, never the user's failure
            log.exception("could not write the question's audit row")
        log.info("answer %s", json.dumps({"interaction_id": interaction_id, **fields} |
                                         {"question": _clip(run.question, 2000), "answer": None}, default=str))
        try:
            stale, deprecated = stale_counts(answer, self.stale_threshold)
            self.metrics.observe_answer(
                channel=run.channel, generator=fields["generator"], model=fields["model"],
                outcome=answer_outcome(answer, fields["error"]), timings=run.timings,
                tokens=answer.tokens if answer is not None else None, stale=stale, deprecated=deprecated)
        except Exception:  # like the audit row: a counting bug never costs the answer
            log.exception("could not count the question in the metrics")
        return interaction_id

    def _fail(self, run: _Run, exc: BaseException) -> None:
        """Record a refused or failed question; the exception carries the interaction id."""
        if getattr(exc, "interaction_id", None) is not None or isinstance(exc, (GeneratorExit, KeyboardInterrupt)):
            return
        run.timings["total"] = round(time.perf_counter() - run.started, 6)
        if isinstance(exc, SourcewiseError):
            error = f"{type(exc).__name__}: {exc}"
        else:
            log.error("answering failed", exc_info=exc)
            error = f"internal: {type(exc).__name__}: {exc}"
        try:
            exc.interaction_id = self._record(run, None, self.generator, error)  # type: ignore[attr-defined]
        except Exception:  # never mask the original error
            log.exception("could not record the failed interaction")


def _question_audit(run: _Run, answer: Answer | None, gen: Generator | None, configured: Generator,
                    interaction_id: int | None, error: str | None) -> tuple[str, str, dict[str, Any]]:
    """Action, target and details of a question's audit row: who asked, what was retrieved,
    which generators and models were sent those passages (not the question or answer text;
    the interaction row keeps those, and its question must hash to ``question_sha256``)."""
    if answer is not None:
        action = "question.answer"
    elif error and error.startswith("abandoned"):
        action = "question.abandoned"
    else:
        action = "question.failed" if error and "internal: " in error else "question.refused"
    sent: list[dict[str, Any]] = []
    if run.passages and not (answer is not None and answer.cached):
        # the configured generator first (it saw them even if it failed); with a route, every step tried
        tried = run.route.tried() if run.route else [(configured.name, configured.model)]
        for name, model in [*tried, *([(gen.name, gen.model)] if gen is not None else [])]:
            if {"generator": name, "model": model} not in sent:
                sent.append({"generator": name, "model": model})
    details = {
        "channel": run.channel, "interaction_id": interaction_id,
        "question_sha256": hashlib.sha256(_clip(run.question).encode("utf-8", "replace")).hexdigest(),
        "sources": sorted({p.source for p in run.passages}), "chunks": [p.id for p in run.passages],
        "generator": gen.name if gen else None, "model": gen.model if gen else None, "sent_to": sent,
        "cached": bool(answer is not None and answer.cached), **({"error": error[:500]} if error else {}),
    }
    return action, f"interaction:{interaction_id}" if interaction_id is not None else "interaction:-", details


def _notice(reason: GenerationError, *, after_text: bool = False) -> str:
    """The sentence that tells the reader the model was replaced, and why."""
    rest = "here is an answer composed directly from the sources" if after_text else \
        "this answer was composed directly from the sources instead"
    return f"_{_sentence(str(reason))}; {rest}._\n\n"


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:]


def _clip(text: str, limit: int = _STORED_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit:,} more characters]"


def _filters_json(filters: Any) -> dict[str, Any]:
    if filters is None:
        return {}
    if dataclasses.is_dataclass(filters) and not isinstance(filters, type):
        data = dataclasses.asdict(filters)
    elif isinstance(filters, dict):
        data = dict(filters)
    else:
        return {"repr": repr(filters)}
    return {
        k: list(v) if isinstance(v, (tuple, list, set)) else v
        for k, v in data.items()
        if v not in ((), [], None, "")
    }


def build_answerer(container: Any) -> Answerer:
    """An Answerer from ``assistant.container.Container``; needs ``container.retriever``."""
    return Answerer(container.retriever, build_generator(container.settings.generation), container.catalog,
                    container.settings, metrics=getattr(container, "metrics", None))
