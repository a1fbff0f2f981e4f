"""Promise 6, "Policy": source classifications decide which generator sees which passages.

The Answerer runs on a real SQLite catalog (classifications are read from it per
question); retrieval is a fixed list and the model a recording stand-in, so what each
generator was shown can be checked exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from assistant.answer import Answerer
from assistant.catalog.db import Database
from assistant.container import Container
from assistant.errors import ConfigError
from assistant.generation.base import Generation, Message
from assistant.models import Passage, User
from assistant.policy import ClassificationPolicy, check_classification
from assistant.settings import GenerationSettings, PolicySettings, Settings, load_settings
from indexers import admin
from tests.fixtures.gitrepo import make_sample_repo
from tests.unit.generation.fakes import FakeRetriever
from tests.unit.generation.passages import passage

USER = User("sam", ("eng", "security"))
PUBLIC_TEXT = "The public handbook says deploys run make deploy."
INTERNAL_TEXT = "The internal runbook says deploys run make deploy after review."
RESTRICTED_TEXT = "The restricted vault note says deploys rotate hsmcanary3k before make deploy."
Q = "how do deploys run make deploy?"


@dataclass
class RecordingModel:
    """An LLM stand-in that cites [1] and remembers every passage it was shown."""

    name: str = "openai"
    model: str | None = "remote-model"
    seen: list[list[str]] = field(default_factory=list)

    def generate(self, question: str, passages: Sequence[Passage], history: Sequence[Message] = ()) -> Generation:
        self.seen.append([p.text for p in passages])
        return Generation("Deploys run make deploy [1].", {"prompt": 10, "completion": 5})

    def stream(self, question: str, passages: Sequence[Passage], history: Sequence[Message] = ()) -> Iterator[str]:
        self.seen.append([p.text for p in passages])
        yield "Deploys run "
        yield "make deploy [1]."


def _passages(*classes: str) -> list[Passage]:
    texts = {"public": PUBLIC_TEXT, "internal": INTERNAL_TEXT, "restricted": RESTRICTED_TEXT}
    return [passage(n, f"{c}/deploy.md", texts[c] + "\n", kind="docs", language="markdown", source=f"{c}src")
            for n, c in enumerate(classes, 1)]


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    c = Container(load_settings(home=tmp_path / "home"))
    for cls in ("public", "internal", "restricted"):
        c.catalog.add_source(f"{cls}src", "git", f"/srv/{cls}", access_groups=["eng"], classification=cls)
    yield c
    c.close()


def _answerer(c: Container, model: Any, passages: list[Passage], **policy: Any) -> Answerer:
    settings = Settings(home=c.settings.home, generation=GenerationSettings(base_url=policy.pop("base_url", None)),
                        policy=PolicySettings(**policy))
    return Answerer(FakeRetriever(passages), model, c.catalog, settings)


def test_restricted_passages_are_withheld_from_a_remote_model_and_counted(container: Container) -> None:
    model = RecordingModel()
    answer = _answerer(container, model, _passages("public", "restricted", "internal")).answer(Q, user=USER)
    assert model.seen == [[PUBLIC_TEXT + "\n", INTERNAL_TEXT + "\n"]]
    assert answer.generator == "openai" and answer.fallback_reason is None
    assert "1 more source was found but withheld from the `openai` model" in answer.text
    assert "restricted" not in answer.text and "hsmcanary3k" not in answer.text  # no name, path or text
    assert {p.source for p in answer.passages} == {"publicsrc", "internalsrc"}
    assert all(c.passage.source != "restrictedsrc" for c in answer.citations)


def test_streaming_withholds_the_same_and_deltas_add_up_to_the_answer(container: Container) -> None:
    model = RecordingModel()
    events = list(_answerer(container, model, _passages("restricted", "internal")).stream(Q, user=USER))
    answer = events[-1]["answer"]
    assert "".join(e["text"] for e in events if e["type"] == "delta") == answer.text
    assert model.seen == [[INTERNAL_TEXT + "\n"]] and "withheld from the `openai` model" in answer.text


def test_when_everything_is_withheld_extractive_answers_from_what_the_user_may_read(container: Container) -> None:
    model = RecordingModel()
    answerer = _answerer(container, model, _passages("restricted"))
    answer = answerer.answer(Q, user=USER)
    assert model.seen == []  # the remote model saw nothing
    assert answer.generator == "extractive" and "hsmcanary3k" in answer.text  # the user may read it
    assert "composed directly from the sources instead" in answer.text
    assert (answer.fallback_reason or "").startswith("policy: 1 source(s) withheld from openai")
    assert answerer.answer(Q, user=USER).cached  # deterministic: cached like any clean answer
    streamed = list(answerer.stream(Q + " now", user=USER))
    assert model.seen == [] and streamed[-1]["answer"].generator == "extractive"


def test_self_hosted_generators_may_see_restricted_sources(container: Container) -> None:
    local = RecordingModel(name="llamacpp", model="smollm2.gguf")
    _answerer(container, local, _passages("restricted", "internal")).answer(Q, user=USER)
    assert local.seen == [[RESTRICTED_TEXT + "\n", INTERNAL_TEXT + "\n"]]
    hosted = RecordingModel()
    _answerer(container, hosted, _passages("restricted"), base_url="http://llm.internal:8000/v1/",
              self_hosted_urls=["http://llm.internal:8000/v1"]).answer(Q, user=USER)
    assert hosted.seen == [[RESTRICTED_TEXT + "\n"]]
    lookalike = RecordingModel()
    _answerer(container, lookalike, _passages("restricted"), base_url="http://llm.internal:8000/v1.evil.example",
              self_hosted_urls=["http://llm.internal:8000/v1"]).answer(Q, user=USER)
    assert lookalike.seen == []


def test_a_tighter_policy_withholds_internal_too(container: Container) -> None:
    model = RecordingModel()
    answer = _answerer(container, model, _passages("public", "internal", "restricted"),
                       generators={"public": ["*"]}).answer(Q, user=USER)
    assert model.seen == [[PUBLIC_TEXT + "\n"]]
    assert "2 more sources were found but withheld" in answer.text


def test_extractive_sees_everything_the_user_may_read(container: Container) -> None:
    from assistant.generation.extractive import ExtractiveGenerator

    answer = _answerer(container, ExtractiveGenerator(), _passages("restricted"), generators={}).answer(Q, user=USER)
    assert "hsmcanary3k" in answer.text and "withheld" not in answer.text


def test_reclassifying_a_source_applies_to_the_next_question(container: Container) -> None:
    container.__dict__["store"] = _NoStore()
    model = RecordingModel()
    answerer = _answerer(container, model, _passages("internal"))
    answerer.answer(Q, user=USER)
    assert answerer.answer(Q, user=USER).cached and len(model.seen) == 1
    admin.update_source(container, "internalsrc", actor="root", classification="restricted")
    again = answerer.answer(Q, user=USER)
    assert not again.cached and again.generator == "extractive" and len(model.seen) == 1
    assert container.catalog.get_source("internalsrc").classification == "restricted"
    [entry] = container.audit.entries(action="source.update")
    assert entry.details == {"classification": "restricted"}


def test_a_source_nobody_classified_counts_as_internal(container: Container) -> None:
    stray = passage(1, "x.md", "stray text\n", kind="docs", language="markdown", source="unclassified")
    model = RecordingModel()
    _answerer(container, model, [stray, *_passages("public")]).answer(Q, user=USER)
    assert model.seen == [["stray text\n", PUBLIC_TEXT + "\n"]]
    strict = RecordingModel()
    _answerer(container, strict, [stray, *_passages("public")], generators={"public": ["*"]}).answer(Q, user=USER)
    assert strict.seen == [[PUBLIC_TEXT + "\n"]]


class _NoStore:
    def set_source_payload(self, source: str, payload: dict) -> None:
        raise AssertionError("a classification change does not touch the index")

    def close(self) -> None:
        pass


# -- settings, commands, schema ---------------------------------------------------------------
def test_policy_settings_refuse_unknown_names_and_default_safely(monkeypatch: pytest.MonkeyPatch) -> None:
    default = PolicySettings()
    assert default.generators["restricted"] == ["extractive", "self-hosted"]
    policy = ClassificationPolicy(default, lambda: {})
    assert policy.allows("llamacpp", "restricted") and not policy.allows("openai", "restricted")
    assert policy.allows("openai", "internal") and policy.allows("extractive", "restricted")
    for bad in ({"secret": ["*"]}, {"restricted": ["openia"]}):
        with pytest.raises(ValueError):
            PolicySettings(generators=bad)
    monkeypatch.setenv("SOURCEWISE_POLICY__GENERATORS", '{"restricted": ["extractive"], "internal": ["llamacpp"]}')
    monkeypatch.setenv("SOURCEWISE_POLICY__SELF_HOSTED_URLS", '["http://gpu-box:8000/v1"]')
    loaded = load_settings(home=Path("/tmp/unused"))
    assert loaded.policy.generators == {"restricted": ["extractive"], "internal": ["llamacpp"]}
    assert loaded.policy.self_hosted_urls == ["http://gpu-box:8000/v1"]
    monkeypatch.setenv("SOURCEWISE_POLICY__GENERATORS", '{"restricted": ["gpt"]}')
    with pytest.raises(ConfigError, match="unknown generator"):
        load_settings(home=Path("/tmp/unused"))


def test_check_classification() -> None:
    assert check_classification(" Restricted ") == "restricted"
    with pytest.raises(ConfigError, match="public, internal, restricted"):
        check_classification("secret")


def test_cli_sets_lists_and_refuses_classifications(tmp_path: Path) -> None:
    import json

    from tests.integration.cli import run_cli

    home, repo = tmp_path / "home", make_sample_repo(tmp_path / "repo").path
    run_cli(home, "source", "add", "vault", "--git", str(repo), "--groups", "security", "--classification", "restricted")
    run_cli(home, "source", "add", "docs", "--git", str(repo), "--groups", "everyone")
    bad = run_cli(home, "source", "add", "x", "--git", str(repo), "--groups", "eng", "--classification", "secret",
                  check=False)
    assert bad.returncode == 2 and "public, internal, restricted" in bad.stderr
    run_cli(home, "source", "update", "docs", "--classification", "public")
    listed = {r["name"]: r for r in json.loads(run_cli(home, "source", "list", "--json").stdout)}
    assert listed["vault"]["classification"] == "restricted" and listed["vault"]["groups"] == ["security"]
    assert listed["docs"]["classification"] == "public" and "x" not in listed


def test_migration_makes_existing_sources_internal(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from assistant.catalog.db import MIGRATIONS_DIR, make_engine

    url = f"sqlite:///{tmp_path}/old.db"
    engine = make_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0007")
        conn.execute(text("INSERT INTO sources (name, kind, location, access_groups, options, status, created_at) "
                          "VALUES ('old', 'git', '/x', '[\"eng\"]', '{}', 'active', '2025-01-01 00:00:00')"))
    engine.dispose()
    db = Database(url)  # migrates to head
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT classification FROM sources WHERE name = 'old'")).scalar() == "internal"
    db.close()
    with create_engine(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")
        cols = [r[1] for r in conn.execute(text("PRAGMA table_info(sources)"))]
    assert "classification" not in cols
