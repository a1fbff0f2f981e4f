"""Model routing: the circuit breaker (fake clock), route choice, policy skips, settings,
and the Answerer running a route on a real SQLite catalog with scripted models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.answer import Answerer
from assistant.catalog.db import Database
from assistant.catalog.interactions import InteractionLog
from assistant.catalog.repo import Catalog
from assistant.errors import ConfigError
from assistant.generation.base import GenerationError
from assistant.generation.circuit import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from assistant.generation.routing import Router
from assistant.models import User
from assistant.settings import GenerationSettings, PolicySettings, RoutingSettings, Settings, load_settings
from tests.unit.generation.fakes import FakeRetriever, ScriptedGenerator
from tests.unit.generation.passages import passage, retry_passages

USER = User("sam", ("payments",))
Q = "where do we retry failed payments?"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the circuit breaker ---------------------------------------------------------------
def test_circuit_opens_after_threshold_failures_within_the_window() -> None:
    clock = Clock()
    cb = CircuitBreaker(threshold=3, window_s=60, cooldown_s=30, clock=clock)
    cb.failure("timeout")
    clock.now += 61  # the first failure leaves the window
    cb.failure("timeout")
    cb.failure("http-500")
    assert cb.state == CLOSED and cb.allow()
    cb.failure("unreachable")
    assert cb.state == OPEN and not cb.allow()
    snap = cb.snapshot()
    assert snap["retry_in_s"] == 30 and [r["reason"] for r in snap["recent"]][:2] == ["unreachable", "http-500"]


def test_open_circuit_is_skipped_until_cooldown_then_lets_one_probe_through() -> None:
    clock = Clock()
    cb = CircuitBreaker(threshold=1, window_s=60, cooldown_s=30, clock=clock)
    cb.failure("unreachable")
    clock.now += 29.9
    assert not cb.allow()
    clock.now += 0.2
    assert cb.allow()  # the probe
    assert cb.state == HALF_OPEN
    assert not cb.allow() and not cb.allow()  # one probe at a time
    cb.success()
    assert cb.state == CLOSED and cb.allow() and cb.allow()


def test_failed_probe_reopens_for_another_cooldown() -> None:
    clock = Clock()
    cb = CircuitBreaker(threshold=2, window_s=60, cooldown_s=10, clock=clock)
    cb.failure()
    cb.failure()
    clock.now += 10
    assert cb.allow() and cb.state == HALF_OPEN
    cb.failure("timeout")
    assert cb.state == OPEN and not cb.allow() and cb.opened == 2
    clock.now += 10
    assert cb.allow()
    cb.success()
    assert cb.state == CLOSED


def test_lost_probe_is_replaced_after_a_cooldown() -> None:
    clock = Clock()
    cb = CircuitBreaker(threshold=1, window_s=60, cooldown_s=5, clock=clock)
    cb.failure()
    clock.now += 5
    assert cb.allow()
    clock.now += 4
    assert not cb.allow()
    clock.now += 1  # the probe's caller never reported back
    assert cb.allow()


# -- settings ----------------------------------------------------------------------------
def _routing(**kw: Any) -> dict[str, Any]:
    return {"endpoints": {"primary": {"kind": "openai", "base_url": "http://gpu1:8000/v1", "model": "big"},
                          "local": {"kind": "llamacpp", "model": "bundled:smollm2"}}} | kw


def test_route_naming_an_unknown_endpoint_is_a_config_error_with_the_near_miss() -> None:
    with pytest.raises(ConfigError, match=r"unknown endpoint 'primray': did you mean 'primary'\?"):
        load_settings(routing=_routing(routes={"public": ["primray", "extractive"]}))
    with pytest.raises(ConfigError, match=r"'pubic' is not a classification \(did you mean 'public'\?\)"):
        load_settings(routing=_routing(routes={"pubic": ["primary"]}))
    with pytest.raises(ConfigError, match="needs base_url and model"):
        load_settings(routing={"endpoints": {"x": {"kind": "openai"}}, "routes": {"*": ["x"]}})
    with pytest.raises(ConfigError, match="routing.cooldown: Extra inputs are not permitted"):
        load_settings(routing={"cooldown": 5})  # misspelt cooldown_s: refused, not ignored
    ok = load_settings(routing=_routing(routes={"public": ["primary", "extractive"], "*": ["local"]}))
    assert ok.routing.routes["public"] == ["primary", "extractive"] and ok.routing.endpoints["local"].kind == "llamacpp"


def test_routing_reads_from_a_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "sourcewise.toml"
    toml.write_text(
        '[routing]\ncooldown_s = 5\n[routing.routes]\npublic = ["primary", "extractive"]\n'
        '[routing.endpoints.primary]\nkind = "openai"\nbase_url = "http://gpu1:8000/v1"\nmodel = "qwen"\n'
    )
    monkeypatch.setenv("SOURCEWISE_CONFIG", str(toml))
    s = load_settings()
    assert s.routing.cooldown_s == 5 and s.routing.endpoints["primary"].model == "qwen"


# -- route choice ------------------------------------------------------------------------
def _router(routes: dict[str, list[str]], classes: dict[str, str], models: dict[str, ScriptedGenerator], *,
            policy: PolicySettings | None = None, clock: Clock | None = None, **cfg: Any) -> Router:
    endpoints = {name: {"kind": "llamacpp" if name.startswith("local") else "openai", "model": name,
                        "base_url": f"http://{name}:8000/v1"} for name in models}
    for name, model in models.items():
        model.name = "llamacpp" if name.startswith("local") else model.name
    settings = Settings(home=Path("/tmp/unused"), policy=policy or PolicySettings(),
                        routing=RoutingSettings(endpoints=endpoints, routes=routes, **cfg))
    return Router(settings, lambda: classes, clock=clock or Clock(), build=lambda ep, _g: models[ep.model or ""])


def test_route_is_that_of_the_most_restrictive_retrieved_classification() -> None:
    models = {n: ScriptedGenerator(model=n) for n in ("primary", "backup", "local")}
    router = _router({"public": ["primary", "backup", "extractive"], "restricted": ["local", "extractive"],
                      "*": ["backup", "extractive"]},
                     {"pub": "public", "sec": "restricted", "int": "internal"}, models)
    mixed = [passage(1, "a.py", "x\n", source="pub"), passage(2, "b.py", "y\n", source="sec")]
    plan = router.plan(mixed)
    assert plan is not None and (plan.key, plan.classification) == ("restricted", "restricted")
    assert [s.name for s in plan.steps] == ["local", "extractive"]
    assert router.plan([passage(1, "a.py", "x\n", source="pub")]).key == "public"  # type: ignore[union-attr]
    internal = router.plan([passage(1, "a.py", "x\n", source="int")])
    assert internal is not None and (internal.key, internal.classification) == ("*", "internal")
    unknown = router.plan([passage(1, "a.py", "x\n", source="nobody-classified")])
    assert unknown is not None and unknown.classification == "internal"  # the default class
    only_public = _router({"public": ["primary"]}, {"pub": "public"}, models)
    assert only_public.plan([passage(1, "a.py", "x\n", source="sec")]) is None  # no route: generation.*


def test_a_step_the_policy_forbids_for_a_retrieved_class_is_not_allowed() -> None:
    models = {n: ScriptedGenerator(model=n) for n in ("primary", "local")}
    router = _router({"*": ["primary", "local", "extractive"]}, {"pub": "public", "sec": "restricted"}, models)
    plan = router.plan([passage(1, "a.py", "x\n", source="pub"), passage(2, "b.py", "y\n", source="sec")])
    assert plan is not None
    allowed = {s.name: plan.allowed(s) for s in plan.steps}
    # default policy: restricted is extractive + self-hosted only; llamacpp is self-hosted, a remote openai is not
    assert allowed == {"primary": False, "local": True, "extractive": True}
    trusted = _router({"*": ["primary", "extractive"]}, {"sec": "restricted"}, models,
                      policy=PolicySettings(self_hosted_urls=["http://primary:8000/v1"]))
    tplan = trusted.plan([passage(1, "b.py", "y\n", source="sec")])
    assert tplan is not None and tplan.allowed(tplan.steps[0])  # its URL is listed as self-hosted


# -- the Answerer running a route -------------------------------------------------------
@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    db = Database(f"sqlite:///{tmp_path}/catalog.db")
    cat = Catalog(db)
    cat.add_source("payments", "git", "/x", classification="public")
    yield cat
    db.close()


def _answerer(catalog: Catalog, router: Router, **gen: Any) -> Answerer:
    settings = Settings(home=Path("/tmp/unused"), generation=GenerationSettings(cache_size=0, **gen))
    return Answerer(FakeRetriever(retry_passages()), ScriptedGenerator(model="configured"), catalog, settings,
                    index_version=lambda: "v", router=router)


def _route_row(catalog: Catalog, interaction_id: int | None) -> dict[str, Any]:
    row = InteractionLog(catalog).get(interaction_id or -1)
    assert row is not None
    return row.timings["route"]  # type: ignore[no-any-return]


def _down() -> ScriptedGenerator:
    return ScriptedGenerator(model="primary", error=GenerationError("unreachable", "primary cannot be reached"))


def test_first_step_down_answers_from_the_second_and_records_it(catalog: Catalog) -> None:
    models = {"primary": _down(), "backup": ScriptedGenerator(model="backup")}
    router = _router({"public": ["primary", "backup", "extractive"]}, {"payments": "public"}, models)
    answer = _answerer(catalog, router).answer(Q, user=USER)
    assert (answer.generator, answer.model) == ("openai", "backup") and answer.text.startswith("Payments are retried")
    assert answer.fallback_reason == "primary: unreachable" and "composed directly" not in answer.text
    route = _route_row(catalog, answer.interaction_id)
    assert route["answered_by"] == "backup" and route["route"] == "public"
    assert [(s["endpoint"], s["outcome"], s.get("reason")) for s in route["steps"]] == [
        ("primary", "failed", "unreachable"), ("backup", "answered", None)]
    assert answer.route == route
    row = InteractionLog(catalog).get(answer.interaction_id or -1)
    assert row is not None and (row.generator, row.model) == ("openai", "backup")
    assert "primary: unreachable" in (row.error or "")


def test_all_models_down_falls_back_to_extractive_and_the_circuit_then_skips_the_dead_step(catalog: Catalog) -> None:
    primary, backup = _down(), ScriptedGenerator(model="backup", error=GenerationError("http-500", "HTTP 500"))
    clock = Clock()
    router = _router({"public": ["primary", "backup", "extractive"]}, {"payments": "public"},
                     {"primary": primary, "backup": backup}, clock=clock, failure_threshold=2, cooldown_s=30)
    answerer = _answerer(catalog, router)
    first = answerer.answer(Q, user=USER)
    assert first.generator == "extractive" and first.fallback_reason.startswith("http-500:")
    assert "composed directly from the sources" in first.text and first.supported
    answerer.answer(Q, user=USER)  # second failure of each: both circuits open
    assert primary.calls == 2 and backup.calls == 2
    third = answerer.answer(Q, user=USER)
    assert primary.calls == 2 and backup.calls == 2  # skipped, not called
    steps = _route_row(catalog, third.interaction_id)["steps"]
    assert [(s["endpoint"], s["outcome"], s.get("reason")) for s in steps] == [
        ("primary", "skipped", "circuit-open"), ("backup", "skipped", "circuit-open"),
        ("extractive", "answered", None)]
    assert third.fallback_reason.startswith("circuit-open:") and third.generator == "extractive"
    # after the cool-down one probe goes to each; primary is back and closes its circuit
    primary.error = None
    clock.now += 30
    fourth = answerer.answer(Q, user=USER)
    assert fourth.model == "primary" and primary.calls == 3 and fourth.fallback_reason is None
    assert router.endpoints["primary"].breaker.state == CLOSED  # type: ignore[union-attr]
    assert router.endpoints["backup"].breaker.state == OPEN  # type: ignore[union-attr]


def test_policy_forbidden_step_is_skipped_and_never_sees_the_passages(catalog: Catalog) -> None:
    remote, local = ScriptedGenerator(model="remote"), ScriptedGenerator(model="local", name="llamacpp")
    router = _router({"*": ["remote", "local", "extractive"]}, {"payments": "restricted"},
                     {"remote": remote, "local": local})
    answer = _answerer(catalog, router).answer(Q, user=USER)
    assert remote.calls == 0 and local.calls == 1 and answer.model == "local" and answer.fallback_reason is None
    steps = _route_row(catalog, answer.interaction_id)["steps"]
    assert steps[0] == {"endpoint": "remote", "generator": "openai", "model": "remote", "outcome": "skipped",
                        "reason": "policy"}
    events = list(_answerer(catalog, router).stream(Q, user=USER))
    assert remote.calls == 0 and events[-1]["answer"].model == "local"


def test_streaming_step_failing_before_first_token_goes_on_silently(catalog: Catalog) -> None:
    primary = ScriptedGenerator(model="primary", stream_fail_after=0,
                                error=GenerationError("unreachable", "primary cannot be reached"))
    router = _router({"public": ["primary", "backup", "extractive"]}, {"payments": "public"},
                     {"primary": primary, "backup": ScriptedGenerator(model="backup")})
    events = list(_answerer(catalog, router).stream(Q, user=USER))
    answer = events[-1]["answer"]
    text = "".join(e["text"] for e in events if e["type"] == "delta")
    assert text == answer.text and text.startswith("Payments are retried") and "composed" not in text
    assert answer.model == "backup" and answer.fallback_reason == "primary: unreachable"
    steps = _route_row(catalog, answer.interaction_id)["steps"]
    assert [(s["endpoint"], s["outcome"]) for s in steps] == [("primary", "failed"), ("backup", "answered")]


def test_streaming_step_failing_after_text_keeps_the_notice_and_extractive(catalog: Catalog) -> None:
    primary = ScriptedGenerator(model="primary", stream_fail_after=2,
                                error=GenerationError("timeout", "the model stopped"))
    backup = ScriptedGenerator(model="backup")
    router = _router({"public": ["primary", "backup", "extractive"]}, {"payments": "public"},
                     {"primary": primary, "backup": backup})
    events = list(_answerer(catalog, router).stream(Q, user=USER))
    answer = events[-1]["answer"]
    assert answer.generator == "extractive" and answer.fallback_reason.startswith("timeout:") and backup.calls == 0
    assert "here is an answer composed directly from the sources" in answer.text
    route = _route_row(catalog, answer.interaction_id)
    assert route["answered_by"] == "extractive"
    assert [(s["endpoint"], s["outcome"]) for s in route["steps"]] == [("primary", "failed")]
    assert router.endpoints["primary"].breaker.snapshot()["failures_in_window"] == 1  # type: ignore[union-attr]


def test_streaming_when_every_model_fails_before_text_streams_extractive_with_the_notice(catalog: Catalog) -> None:
    err = GenerationError("unreachable", "cannot be reached")
    router = _router({"public": ["primary", "backup"]}, {"payments": "public"},
                     {"primary": ScriptedGenerator(model="primary", stream_fail_after=0, error=err),
                      "backup": ScriptedGenerator(model="backup", stream_fail_after=0, error=err)})
    events = list(_answerer(catalog, router).stream(Q, user=USER))
    answer = events[-1]["answer"]
    assert answer.generator == "extractive" and answer.fallback_reason.startswith("unreachable:")
    assert "".join(e["text"] for e in events if e["type"] == "delta") == answer.text
    row = InteractionLog(catalog).get(answer.interaction_id or -1)
    assert row is not None and (row.error or "").count("unreachable") == 2  # each failure once


def test_audit_row_names_every_model_the_passages_were_sent_to(catalog: Catalog) -> None:
    from assistant.audit import AuditLog

    router = _router({"public": ["primary", "backup", "extractive"]}, {"payments": "public"},
                     {"primary": _down(), "backup": ScriptedGenerator(model="backup")})
    answer = _answerer(catalog, router).answer(Q, user=USER)
    entry = next(e for e in AuditLog(catalog.db).entries(limit=5) if e.target == f"interaction:{answer.interaction_id}")
    assert entry.details["sent_to"] == [{"generator": "openai", "model": "primary"},
                                        {"generator": "openai", "model": "backup"}]


def test_without_routes_the_configured_generator_answers_as_before(catalog: Catalog) -> None:
    settings = Settings(home=Path("/tmp/unused"))
    answerer = Answerer(FakeRetriever(retry_passages()), ScriptedGenerator(model="configured"), catalog, settings,
                        index_version=lambda: "v")
    assert answerer.router is None
    answer = answerer.answer(Q, user=USER)
    assert answer.model == "configured" and answer.route is None
    row = InteractionLog(catalog).get(answer.interaction_id or -1)
    assert row is not None and "route" not in row.timings
