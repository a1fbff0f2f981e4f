"""Promise 6 with model routing: a route step the classification policy forbids is never
sent the passages, whatever the route says, through both the blocking and streaming paths;
classifications are read from a real catalog, so a reclassification applies at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.answer import Answerer
from assistant.container import Container
from assistant.generation.routing import Router
from assistant.models import User
from assistant.policy import source_classifications
from assistant.settings import RoutingSettings, Settings, load_settings
from tests.security.test_policy import RecordingModel, _passages
from tests.unit.generation.fakes import FakeRetriever

USER = User("sam", ("eng", "security"))
Q = "how do deploys run make deploy?"


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    c = Container(load_settings(home=tmp_path / "home"))
    for cls in ("public", "internal", "restricted"):
        c.catalog.add_source(f"{cls}src", "git", f"/srv/{cls}", access_groups=["eng"], classification=cls)
    yield c
    c.close()


def _answerer(c: Container, models: dict[str, RecordingModel], routes: dict[str, list[str]],
              passages: list[Any]) -> Answerer:
    endpoints = {n: {"kind": "openai", "base_url": f"http://{n}.example/v1", "model": n} for n in models}
    settings = Settings(home=c.settings.home, routing=RoutingSettings(endpoints=endpoints, routes=routes))
    router = Router(settings, lambda: source_classifications(c.db), build=lambda ep, _g: models[ep.model or ""])
    return Answerer(FakeRetriever(passages), RecordingModel(model="configured"), c.catalog, settings, router=router)


@pytest.mark.parametrize("streaming", [False, True])
def test_a_remote_step_in_a_route_never_sees_restricted_passages(container: Container, streaming: bool) -> None:
    remote = RecordingModel(model="remote")
    # a careless route puts the remote model first for every class, restricted included
    answerer = _answerer(container, {"remote": remote}, {"*": ["remote", "extractive"]},
                         _passages("public", "restricted"))
    if streaming:
        answer = list(answerer.stream(Q, user=USER))[-1]["answer"]
    else:
        answer = answerer.answer(Q, user=USER)
    assert remote.seen == []  # skipped, not asked with fewer passages
    assert answer.generator == "extractive" and answer.supported
    assert answer.route["steps"][0] == {"endpoint": "remote", "generator": "openai", "model": "remote",
                                        "outcome": "skipped", "reason": "policy"}


def test_reclassifying_a_source_changes_the_route_for_the_next_question(container: Container) -> None:
    public_model, strict_model = RecordingModel(model="cloud"), RecordingModel(model="onprem")
    answerer = _answerer(container, {"cloud": public_model, "onprem": strict_model},
                         {"public": ["cloud", "extractive"], "restricted": ["extractive"]}, _passages("public"))
    assert answerer.answer(Q, user=USER).model == "cloud" and len(public_model.seen) == 1
    row = container.catalog.get_source("publicsrc")
    container.catalog.update_source(row.id, classification="restricted")
    answer = answerer.answer(Q + " again", user=USER)
    assert answer.generator == "extractive" and len(public_model.seen) == 1 and answer.route["route"] == "restricted"
