"""Model routing: an ordered list of generators per classification, each behind a circuit.

``routing.routes`` maps a classification (``public``, ``internal``, ``restricted``, or
``*`` for any) to endpoint names tried in order; ``routing.endpoints`` says what each
name is (an OpenAI-compatible URL and model, an in-process GGUF, or ``extractive``).
The route for a question is the one of the most restrictive classification among its
retrieved sources, the way the classification policy reasons; a step the policy does
not allow to see every retrieved class is skipped (never called), and so is a step whose
circuit is open (``assistant.generation.circuit``). Swapping a route's model is a
settings change. The Answerer runs the steps (``assistant.answer_route``); this module
only builds them, chooses them and remembers what happened, for the interaction row.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.generation.base import GenerationError, Generator
from assistant.generation.circuit import CircuitBreaker
from assistant.generation.extractive import ExtractiveGenerator
from assistant.models import Passage
from assistant.policy import CLASSIFICATIONS, UNKNOWN_CLASS, ClassificationPolicy
from assistant.settings import EndpointSettings, GenerationSettings, Settings

EXTRACTIVE = "extractive"
ANY = "*"


@dataclass
class Endpoint:
    """A named generator with its own circuit and its own view of the classification policy."""

    name: str
    generator: Generator
    policy: ClassificationPolicy
    breaker: CircuitBreaker | None  # None for extractive: nothing to fail

    @property
    def is_extractive(self) -> bool:
        return self.generator.name == EXTRACTIVE


@dataclass(frozen=True)
class RoutePlan:
    """The route chosen for one question: its key, the classification that chose it, the steps."""

    key: str
    classification: str
    classes: frozenset[str]  # every classification among the retrieved sources
    steps: tuple[Endpoint, ...]

    def allowed(self, step: Endpoint) -> bool:
        """Whether the policy lets ``step`` see every retrieved classification."""
        return step.is_extractive or all(step.policy.allows(step.generator.name, c) for c in self.classes)

    def first_model(self) -> Generator | None:
        """The first step the policy allows (who the prompt is shaped for)."""
        return next((s.generator for s in self.steps if self.allowed(s)), None)


@dataclass
class RouteTrace:
    """What a route did for one question; stored in the interaction row and on the Answer."""

    plan: RoutePlan
    steps: list[dict[str, Any]] = field(default_factory=list)
    answered_by: str | None = None
    _started: float = 0.0

    def start(self) -> None:
        self._started = time.perf_counter()

    def _seconds(self) -> float:
        return round(time.perf_counter() - self._started, 6) if self._started else 0.0

    def _add(self, step: Endpoint, outcome: str, reason: str | None, seconds: float | None = None) -> None:
        row: dict[str, Any] = {"endpoint": step.name, "generator": step.generator.name, "model": step.generator.model,
                               "outcome": outcome}
        if reason:
            row["reason"] = reason
        if seconds is not None:
            row["seconds"] = seconds
        self.steps.append(row)

    def skipped(self, step: Endpoint, reason: str) -> None:
        self._add(step, "skipped", reason)

    def failed(self, step: Endpoint, error: GenerationError) -> None:
        if step.breaker is not None:
            step.breaker.failure(error.reason)
        self._add(step, "failed", error.reason, self._seconds())

    def answered(self, step: Endpoint) -> None:
        if step.breaker is not None:
            step.breaker.success()
        self.answered_by = step.name
        self._add(step, "answered", None, self._seconds())

    def tried(self) -> list[tuple[str, str | None]]:
        """(generator, model) of every step that was sent the passages."""
        return [(s["generator"], s["model"]) for s in self.steps if s["outcome"] != "skipped"]

    def degraded(self) -> str | None:
        """Why the answer did not come from the route's first usable step (policy skips are by design)."""
        for s in self.steps:
            if s["outcome"] == "failed" or (s["outcome"] == "skipped" and s.get("reason") == "circuit-open"):
                return f"{s['endpoint']}: {s.get('reason')}"
        return None

    def as_dict(self) -> dict[str, Any]:
        return {"route": self.plan.key, "classification": self.plan.classification,
                "answered_by": self.answered_by, "steps": list(self.steps)}


class Router:
    """Routes and endpoints from settings; one per process (the circuits live here)."""

    def __init__(self, settings: Settings, classifications: Callable[[], Mapping[str, str]], *,
                 clock: Callable[[], float] = time.monotonic,
                 build: Callable[[EndpointSettings, GenerationSettings], Generator] | None = None) -> None:
        cfg = settings.routing
        self.routes = {key: tuple(steps) for key, steps in cfg.routes.items()}
        self.classifications = classifications
        self._lock = threading.Lock()
        make = build or build_endpoint_generator
        self.endpoints: dict[str, Endpoint] = {}
        names = {n for steps in self.routes.values() for n in steps}
        for name in sorted(names):
            ep = cfg.endpoints.get(name) or EndpointSettings(kind="extractive")
            gen = ExtractiveGenerator() if ep.kind == EXTRACTIVE else make(ep, settings.generation)
            policy = ClassificationPolicy(settings.policy, classifications, base_url=ep.base_url)
            breaker = None if ep.kind == EXTRACTIVE else CircuitBreaker(
                cfg.failure_threshold, cfg.failure_window_s, cfg.cooldown_s, clock=clock)
            self.endpoints[name] = Endpoint(name, gen, policy, breaker)

    def plan(self, passages: Sequence[Passage]) -> RoutePlan | None:
        """The route for these passages, or ``None`` when no route covers their classification."""
        known = self.classifications()
        classes = frozenset(known.get(p.source, UNKNOWN_CLASS) for p in passages) or frozenset({UNKNOWN_CLASS})
        strictest = max(classes, key=lambda c: CLASSIFICATIONS.index(c) if c in CLASSIFICATIONS else len(CLASSIFICATIONS))
        key = strictest if strictest in self.routes else ANY if ANY in self.routes else None
        if key is None:
            return None
        return RoutePlan(key, strictest, classes, tuple(self.endpoints[n] for n in self.routes[key]))

    def status(self) -> list[dict[str, Any]]:
        """Each route, each step's kind, model and circuit: what ``/admin/settings`` shows."""
        out = []
        for key, names in sorted(self.routes.items()):
            steps = []
            for name in names:
                ep = self.endpoints[name]
                circuit = ep.breaker.snapshot() if ep.breaker else {"state": "n/a", "recent": []}
                steps.append({"endpoint": name, "generator": ep.generator.name, "model": ep.generator.model,
                              **circuit})
            out.append({"route": key, "steps": steps})
        return out


def build_endpoint_generator(ep: EndpointSettings, gen: GenerationSettings) -> Generator:
    """A generator for one endpoint: its own kind, URL, model and key; the rest from ``generation``."""
    from assistant.generation.factory import build_generator

    update: dict[str, Any] = {"generator": ep.kind, "base_url": ep.base_url, "model": ep.model,
                              "api_key": ep.api_key}
    if ep.timeout_s is not None:
        update["timeout_s"] = ep.timeout_s
    if ep.max_retries is not None:
        update["max_retries"] = ep.max_retries
    return build_generator(gen.model_copy(update=update))


def build_router(settings: Settings, classifications: Callable[[], Mapping[str, str]]) -> Router | None:
    """A Router when routes are configured, else ``None`` (the single ``generation.*`` generator answers)."""
    return Router(settings, classifications) if settings.routing.routes else None
