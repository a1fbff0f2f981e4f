"""/metrics against a real `sourcewise serve`: a real repo indexed with the real model,
real questions through the HTTP API and the OpenAI endpoint (``extractive``, the default
generator), scraped with an admin's token; and with ``metrics.bind``, on its own address."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from openai import OpenAI
from prometheus_client.parser import text_string_to_metric_families

from assistant.audit import AuditLog
from assistant.catalog.db import Database
from assistant.catalog.interactions import InteractionLog
from assistant.catalog.tokens import TokenStore
from assistant.container import build
from assistant.settings import load_settings
from indexers.pipeline import Pipeline
from indexers.sources.factory import make_source
from tests.fixtures.gitrepo import make_sample_repo
from tests.fixtures.serve_process import ServeProcess, free_port, start_serve
from tests.integration.test_api import TIMEOUT

pytestmark = pytest.mark.slow

QUESTION = "where do we retry failed payments?"


@dataclass
class World:
    base: Path
    home: Path
    admin: str
    alice: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    base = tmp_path_factory.mktemp("metrics")
    repo = make_sample_repo(base / "repo")
    home = base / "home"
    settings = load_settings(home=home)
    container = build(settings)
    try:
        row = container.catalog.add_source("app", "git", str(repo.path), access_groups=["payments"])
        report = Pipeline(container.catalog, container.store, container.embedder, container.sparse).index(
            row, make_source(row, settings, container.catalog))
        assert report.status == "ok", report.error
        run_id = container.catalog.start_run(row.id)
        container.catalog.finish_run(run_id, status="ok")
        container.users.create("root", is_admin=True)
        container.users.create("alice", groups=["payments"])
        tokens = TokenStore(container.db)
        _, admin = tokens.create("root", user="root", is_admin=True)
        _, alice = tokens.create("alice", user="alice", groups=["payments"])
    finally:
        container.close()  # the server process must be the store's only opener
    return World(base, home, admin, alice)


def start(world: World, **env: str) -> ServeProcess:
    return start_serve(world.base, {**os.environ, "SOURCEWISE_HOME": str(world.home), **env}, name="server")


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[ServeProcess]:
    running = start(world)
    yield running
    text = running.stop()
    assert "Traceback" not in text, text


def scrape(url: str, token: str | None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    resp = httpx.get(f"{url}/metrics", headers=headers, timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(resp.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def v(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def audit_actions(world: World) -> list[str]:
    db = Database(f"sqlite:///{world.home}/catalog.db", run_migrations=False)
    try:
        return [e.action for e in AuditLog(db).entries(limit=1000)]
    finally:
        db.close()


def test_questions_move_the_counters_histograms_and_cache(world: World, server: ServeProcess) -> None:
    before = scrape(server.url, world.admin)
    resp = httpx.post(f"{server.url}/api/ask", json={"question": QUESTION},
                      headers={"Authorization": f"Bearer {world.alice}"}, timeout=TIMEOUT)
    assert resp.status_code == 200 and resp.json()["supported"], resp.text
    client = OpenAI(base_url=f"{server.url}/v1", api_key=world.alice, timeout=300, max_retries=0)
    # near-identical wording: the answer cache serves it
    done = client.chat.completions.create(model="sourcewise",
                                          messages=[{"role": "user", "content": "Where do we retry failed payments"}])
    db = Database(f"sqlite:///{world.home}/catalog.db", run_migrations=False)
    try:
        assert InteractionLog(db).get(done.model_extra["sourcewise"]["interaction_id"]).cached is True
    finally:
        db.close()
    stream = client.chat.completions.create(model="sourcewise", stream=True, messages=[
        {"role": "user", "content": "how many times is a failed payment retried?"}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    after = scrape(server.url, world.admin)

    def moved(name: str, **labels: str) -> float:
        return v(after, name, **labels) - v(before, name, **labels)

    q = dict(generator="extractive", model="none", outcome="answered")
    assert moved("sourcewise_questions_total", entry="api", **q) == 1
    assert moved("sourcewise_questions_total", entry="openai", **q) == 2
    assert moved("sourcewise_answer_stage_seconds_count", entry="api", stage="total") == 1
    assert moved("sourcewise_answer_stage_seconds_count", entry="openai", stage="total") == 2
    assert moved("sourcewise_answer_stage_seconds_count", entry="openai", stage="retrieve") == 1  # not the hit
    assert moved("sourcewise_answer_stage_seconds_count", entry="api", stage="embed") == 1
    assert moved("sourcewise_answer_cache_total", result="hit") == 1
    assert moved("sourcewise_answer_cache_total", result="miss") == 2
    assert moved("sourcewise_time_to_first_token_seconds_count", entry="openai", generator="extractive") == 1
    # scrape-time gauges from the catalog
    assert 0 <= v(after, "sourcewise_source_last_success_age_seconds", source="app") < 3600
    assert v(after, "sourcewise_owner_open_items", source="app", kind="flags") == 0


def test_only_an_admin_token_reads_metrics_and_refusals_are_audited(world: World, server: ServeProcess) -> None:
    before = audit_actions(world)
    for headers, status in (({}, 401), ({"Authorization": f"Bearer {world.alice}"}, 403),
                            ({"Authorization": "Bearer sw_forged"}, 401)):
        resp = httpx.get(f"{server.url}/metrics", headers=headers, timeout=TIMEOUT)
        assert resp.status_code == status, resp.text
        assert "sourcewise_" not in resp.text and "app" not in resp.json()["error"]["message"]
    scrape(server.url, world.admin)
    scrape(server.url, world.admin)
    new = audit_actions(world)[: len(audit_actions(world)) - len(before)]
    assert new.count("metrics.refused") == 3  # refusals audited ...
    assert len([a for a in new if a.startswith("metrics")]) == 3  # ... successful scrapes not


def test_with_metrics_bind_the_main_app_has_no_metrics(world: World, server: ServeProcess) -> None:
    server.stop()  # one process may hold the embedded store
    port = free_port()
    running = start(world, SOURCEWISE_METRICS__BIND=f"127.0.0.1:{port}")
    try:
        resp = httpx.get(f"{running.url}/metrics", headers={"Authorization": f"Bearer {world.admin}"},
                         timeout=TIMEOUT)
        assert resp.status_code == 404 and "sourcewise_" not in resp.text
        side = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=TIMEOUT)  # no token there
        assert side.status_code == 200 and "sourcewise_questions_total" in side.text
        assert "sourcewise_source_last_success_age_seconds" in side.text
        assert httpx.get(f"http://127.0.0.1:{port}/api/ask", timeout=TIMEOUT).status_code == 404
    finally:
        text = running.stop()
    assert "Traceback" not in text, text
