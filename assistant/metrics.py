"""Prometheus metrics: one registry per app, typed helpers the services call.

The container builds one ``Metrics`` per process (DESIGN rule 5: no globals, so tests
can build several apps side by side; ``prometheus_client``'s default registry is never
used). Services (the Answerer, feedback, owners, the index runner) call the
``observe_*`` helpers, so every door (chat, API, OpenAI endpoint, CLI) counts the same
way. ``NullMetrics`` is what they get when metrics are off: the same methods, no work.

Labels are bounded: entry points, generators and outcomes come from fixed sets, model
names from settings (anything else is ``other``), sources from the admin's catalog.
Question text, user names and paths never become labels. Gauges that describe the
catalog (age of each source's last good index, open owner items) are computed when
Prometheus scrapes, by ``CatalogCollector``, so they are right after a restart and cost
nothing between scrapes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from assistant.settings import MetricsSettings, ModelPrice

log = logging.getLogger("sourcewise.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OTHER = "other"
ENTRIES = {"chat": "chat", "ui": "chat", "api": "api", "openai": "openai", "cli": "cli", "mcp": "mcp"}
GENERATORS = frozenset({"extractive", "openai", "llamacpp"})
OUTCOMES = frozenset({"answered", "fallback", "refused", "error", "abandoned"})
STAGES = ("cache", "condense", "embed", "retrieve", "generate", "validate", "total")
FEEDBACK = frozenset({"up", "down", "flag"})
INDEX_STATUSES = frozenset({"ok", "failed", "error", "cancelled"})
INDEX_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


def bounded(value: Any, allowed: Iterable[str]) -> str:
    """``value`` when it is one of ``allowed``, else ``other``: a label never carries free text."""
    return value if isinstance(value, str) and value in set(allowed) else OTHER


def entry_label(channel: str | None) -> str:
    """The door a question came through (the Answerer's ``channel``; the chat says ``ui``)."""
    return ENTRIES.get(channel or "", OTHER)


def cost(prices: Mapping[str, ModelPrice], model: str | None, prompt: int, completion: int) -> float | None:
    """Estimated cost of one answer in the price table's unit; ``None`` for an unpriced model."""
    price = prices.get(model or "")
    if price is None:
        return None
    return (prompt * price.prompt + completion * price.completion) / 1_000_000


class NullMetrics:
    """Metrics switched off (``metrics.enabled = false``): every helper does nothing."""

    enabled = False
    registry: CollectorRegistry | None = None

    def observe_answer(self, **_: Any) -> None:
        pass

    def observe_cache(self, hit: bool) -> None:
        pass

    def observe_first_token(self, **_: Any) -> None:
        pass

    def observe_feedback(self, kind: str) -> None:
        pass

    def observe_promotion(self, kind: str) -> None:
        pass

    def observe_owner_action(self, action: str) -> None:
        pass

    def observe_index_run(self, report: Any) -> None:
        pass

    def render(self) -> bytes:
        return b""


class Metrics(NullMetrics):
    """The process's metrics in their own ``CollectorRegistry``."""

    enabled = True

    def __init__(self, settings: MetricsSettings, *, models: Iterable[str | None] = (), db: Any = None) -> None:
        self.prices = dict(settings.prices)
        # Model names an operator configured (the generator's, the price table's): the only ones kept as labels.
        self.models = frozenset(m for m in (*models, *self.prices) if m)
        self.registry = CollectorRegistry(auto_describe=True)
        r, buckets = self.registry, tuple(settings.latency_buckets)
        self.questions = Counter("sourcewise_questions", "Questions by entry point, generator, model and outcome.",
                                 ["entry", "generator", "model", "outcome"], registry=r)
        self.stage_seconds = Histogram("sourcewise_answer_stage_seconds", "Seconds per answer stage.",
                                       ["entry", "stage"], buckets=buckets, registry=r)
        self.first_token = Histogram("sourcewise_time_to_first_token_seconds",
                                     "Seconds from the question to the first streamed text.",
                                     ["entry", "generator"], buckets=TTFT_BUCKETS, registry=r)
        self.tokens = Counter("sourcewise_tokens", "Prompt and completion tokens per model.",
                              ["model", "kind"], registry=r)
        self.cost = Counter("sourcewise_cost", "Estimated cost per model from the price table (metrics.prices).",
                            ["model"], registry=r)
        self.unpriced = Counter("sourcewise_unpriced_answers", "Answers with tokens from a model the price table "
                                "does not name (counted at cost 0).", ["model"], registry=r)
        self.cache = Counter("sourcewise_answer_cache", "Answer-cache lookups by result.", ["result"], registry=r)
        self.stale_citations = Counter("sourcewise_stale_citations", "Citations of stale or deprecated sources.",
                                       ["kind"], registry=r)
        self.feedback = Counter("sourcewise_feedback", "Feedback: thumbs up, thumbs down, source flags.",
                                ["kind"], registry=r)
        self.promotions = Counter("sourcewise_eval_promotions", "Feedback and flags promoted to eval cases.",
                                  ["kind"], registry=r)
        self.owner_actions = Counter("sourcewise_owner_actions", "Owner actions (fixed, dismissed, deprecated ...).",
                                     ["action"], registry=r)
        self.index_runs = Counter("sourcewise_index_runs", "Index runs per source and status.",
                                  ["source", "status"], registry=r)
        self.index_seconds = Histogram("sourcewise_index_run_seconds", "Seconds per index run.", ["source"],
                                       buckets=INDEX_BUCKETS, registry=r)
        self.index_files = Counter("sourcewise_index_files", "Files seen by index runs.", ["source"], registry=r)
        self.index_chunks = Counter("sourcewise_index_chunks", "Chunks written by index runs.", ["source"], registry=r)
        self.index_failures = Counter("sourcewise_index_failures", "Files an index run could not index.",
                                      ["source"], registry=r)
        if db is not None:
            r.register(CatalogCollector(db))

    # -- labels --------------------------------------------------------------------------
    def model_label(self, model: str | None) -> str:
        """A configured model's name (a GGUF path only by its file name), else ``other``."""
        if not model:
            return "none"
        if model not in self.models:
            return OTHER
        return model.replace("\\", "/").rsplit("/", 1)[-1][:200]

    # -- helpers the services call --------------------------------------------------------
    def observe_answer(self, *, channel: str | None, generator: str | None, model: str | None, outcome: str,
                       timings: Mapping[str, float] | None = None, tokens: Mapping[str, Any] | None = None,
                       stale: int = 0, deprecated: int = 0, **_: Any) -> None:
        """One question, whatever became of it (the Answerer calls this once per interaction row)."""
        entry, model_l = entry_label(channel), self.model_label(model)
        self.questions.labels(entry, bounded(generator, GENERATORS), model_l, bounded(outcome, OUTCOMES)).inc()
        for stage, seconds in (timings or {}).items():
            name = "embed" if stage == "retrieve.embed" else stage
            if name in STAGES and isinstance(seconds, (int, float)) and seconds >= 0:
                self.stage_seconds.labels(entry, name).observe(seconds)
        first = (timings or {}).get("first_token")
        if isinstance(first, (int, float)):
            self.observe_first_token(channel=channel, generator=generator, seconds=float(first))
        prompt, completion = _count(tokens, "prompt"), _count(tokens, "completion")
        if prompt or completion:
            self.tokens.labels(model_l, "prompt").inc(prompt)
            self.tokens.labels(model_l, "completion").inc(completion)
            spent = cost(self.prices, model, prompt, completion)
            if spent is None:
                self.unpriced.labels(model_l).inc()
            else:
                self.cost.labels(model_l).inc(spent)
        if stale:
            self.stale_citations.labels("stale").inc(stale)
        if deprecated:
            self.stale_citations.labels("deprecated").inc(deprecated)

    def observe_cache(self, hit: bool) -> None:
        self.cache.labels("hit" if hit else "miss").inc()

    def observe_first_token(self, *, channel: str | None, generator: str | None, seconds: float) -> None:
        self.first_token.labels(entry_label(channel), bounded(generator, GENERATORS)).observe(max(seconds, 0.0))

    def observe_feedback(self, kind: str) -> None:
        self.feedback.labels(bounded(kind, FEEDBACK)).inc()

    def observe_promotion(self, kind: str) -> None:
        self.promotions.labels(bounded(kind, ("feedback", "flag"))).inc()

    def observe_owner_action(self, action: str) -> None:
        self.owner_actions.labels(bounded(action, ("fixed", "dismissed", "deprecated", "restored", "reassigned",
                                                   "finding.dismissed", "finding.fixed"))).inc()

    def observe_index_run(self, report: Any) -> None:
        """A finished (or failed) ``indexers.pipeline.RunReport``; its source is a catalog name."""
        source = str(getattr(report, "source", "") or OTHER)[:200]
        self.index_runs.labels(source, bounded(getattr(report, "status", None), INDEX_STATUSES)).inc()
        self.index_seconds.labels(source).observe(float(getattr(report, "seconds", 0.0) or 0.0))
        self.index_files.labels(source).inc(int(getattr(report, "seen", 0) or 0))
        self.index_chunks.labels(source).inc(int(getattr(report, "chunks", 0) or 0))
        self.index_failures.labels(source).inc(len(getattr(report, "failures", ()) or ()))

    def render(self) -> bytes:
        """The Prometheus text format of this registry."""
        return generate_latest(self.registry)


def answer_outcome(answer: Any, error: str | None) -> str:
    """``answered``, ``fallback`` (another generator or a policy composed it), ``refused``
    (bad input, no access), ``error`` (a bug or an outage) or ``abandoned`` (the client left)."""
    if answer is not None:
        return "fallback" if getattr(answer, "fallback_reason", None) else "answered"
    if error and error.startswith("abandoned"):
        return "abandoned"
    return "error" if error and "internal: " in error else "refused"


def stale_counts(answer: Any, threshold: float) -> tuple[int, int]:
    """(stale, deprecated) citations of an answer, as its stale-source note counts them."""
    stale = deprecated = 0
    for c in getattr(answer, "citations", ()) or ():
        p = c.passage
        if getattr(p, "status", None) == "deprecated":
            deprecated += 1
        elif getattr(p, "status", None) == "stale" or (getattr(p, "staleness", 0.0) or 0.0) > threshold:
            stale += 1
    return stale, deprecated


def _count(tokens: Mapping[str, Any] | None, key: str) -> int:
    value = (tokens or {}).get(key)
    return int(value) if isinstance(value, (int, float)) and value > 0 else 0


class CatalogCollector(Collector):
    """Gauges read from the catalog when Prometheus scrapes: the age of each source's last
    successful index run, and the owners' open items (flags, staleness findings) per source."""

    def __init__(self, db: Any, clock: Any = None) -> None:
        self.db = db
        self.clock = clock or (lambda: datetime.now(UTC))

    def describe(self) -> Iterable[Metric]:
        return []  # nothing read at registration: the catalog may not be migrated yet

    def collect(self) -> Iterator[Metric]:
        age = GaugeMetricFamily("sourcewise_source_last_success_age_seconds",
                                "Seconds since each source's last successful index run (-1: never).",
                                labels=["source"])
        items = GaugeMetricFamily("sourcewise_owner_open_items", "Open owner items per source and kind.",
                                  labels=["source", "kind"])
        try:
            ages, open_items = self._read()
        except Exception:  # noqa: BLE001 - a scrape must not fail because the catalog hiccuped
            log.exception("metrics: could not read the catalog")
            ages, open_items = {}, {}
        for source, seconds in sorted(ages.items()):
            age.add_metric([source], seconds)
        for (source, kind), count in sorted(open_items.items()):
            items.add_metric([source, kind], count)
        yield age
        yield items

    def _read(self) -> tuple[dict[str, float], dict[tuple[str, str], int]]:
        from sqlalchemy import func, select

        from assistant.catalog.schema import FlagRow, IndexRunRow, SourceRow
        from assistant.catalog.staleness_schema import FindingRow

        now = self.clock()
        with self.db.session() as s:
            names = {sid: name for sid, name in s.execute(select(SourceRow.id, SourceRow.name))}
            last = dict(s.execute(select(IndexRunRow.source_id, func.max(IndexRunRow.finished_at))
                                  .where(IndexRunRow.status == "ok").group_by(IndexRunRow.source_id)).all())
            flags = s.execute(select(FlagRow.source_name, func.count()).where(FlagRow.status == "open")
                              .group_by(FlagRow.source_name)).all()
            findings = s.execute(select(FindingRow.source_id, func.count()).where(FindingRow.status == "open")
                                 .group_by(FindingRow.source_id)).all()
        ages: dict[str, float] = {}
        for sid, name in names.items():
            at = last.get(sid)
            if at is not None and at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            ages[name] = round((now - at).total_seconds(), 3) if at is not None else -1.0
        known = set(names.values())
        open_items: dict[tuple[str, str], int] = {(n, k): 0 for n in known for k in ("flags", "findings")}
        for name, count in flags:
            if name in known:  # a removed source's leftover rows never mint a label
                open_items[(name, "flags")] = int(count)
        for sid, count in findings:
            if sid in names:
                open_items[(names[sid], "findings")] = int(count)
        return ages, open_items


def build_metrics(settings: Any, db: Any = None) -> NullMetrics:
    """``Metrics`` for ``Settings`` (``NullMetrics`` when ``metrics.enabled`` is false)."""
    cfg: MetricsSettings = settings.metrics
    if not cfg.enabled:
        return NullMetrics()
    routed = [e.model for e in settings.routing.endpoints.values()]  # model routes' steps
    return Metrics(cfg, models=[settings.generation.model, *routed], db=db)
