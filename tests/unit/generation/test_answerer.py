"""The Answerer on a real SQLite catalog: records, validation, fallbacks, cache, streaming."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from assistant.answer import EMPTY_INDEX, Answerer
from assistant.catalog.db import Database
from assistant.catalog.interactions import InteractionLog
from assistant.catalog.repo import Catalog
from assistant.errors import ConfigError
from assistant.generation.base import GenerationError
from assistant.generation.extractive import EXTRACTIVE_VERSION, ExtractiveGenerator
from assistant.generation.prompts import PROMPT_VERSION
from assistant.models import User
from assistant.retrieval.query import QueryFilters
from assistant.settings import GenerationSettings, Settings
from tests.unit.generation.fakes import CondensingGenerator, FakeRetriever, ScriptedGenerator
from tests.unit.generation.passages import retry_passages

ALICE = User("alice", ("payments",))
BOB = User("bob", ("web",))
Q = "where do we retry failed payments?"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('cat')}/catalog.db")
    cat = Catalog(db)
    src = cat.add_source("payments", "git", "/x")
    cat.record_documents(src.id, [(dict(
        doc_id="payments:payments/retry.py", path="payments/retry.py", kind="code", language="python",
        title=None, content_hash="h", meta_hash="m", updated_at=datetime(2025, 1, 1, tzinfo=UTC), version="c",
        author=None, owner=None, url=None, status="active", chunk_count=1, chunk_strategy="code", model_id="m"),
        [])])
    yield cat
    db.close()


def make(catalog: Catalog, generator: Any = None, *, passages: Any = None, version: str = "v1",
         **cfg: Any) -> tuple[Answerer, FakeRetriever]:
    retriever = FakeRetriever(retry_passages() if passages is None else passages)
    settings = Settings(home=Path("/tmp/unused"), generation=GenerationSettings(**cfg))
    answerer = Answerer(retriever, generator or ExtractiveGenerator(), catalog, settings,
                        index_version=lambda: version)
    return answerer, retriever


def row(catalog: Catalog, interaction_id: int | None) -> Any:
    assert interaction_id is not None
    found = InteractionLog(catalog).get(interaction_id)
    assert found is not None
    return found


def test_extractive_answer_is_cited_and_recorded(catalog: Catalog) -> None:
    answerer, retriever = make(catalog)
    filters = QueryFilters(repos=("payments",))
    answer = answerer.answer(Q, [], ALICE, filters=filters, channel="api")
    assert answer.supported and answer.generator == "extractive" and answer.model is None
    assert [c.n for c in answer.citations] == [1, 2]
    assert answer.citations[0].passage.path == "payments/retry.py"
    assert "docs/deploy.md was last changed 2 years ago" in answer.text  # 800-day-old doc, named
    assert answer.stale_warnings and answer.stale_warnings[0].startswith("docs/deploy.md was last changed")
    assert {"cache", "retrieve", "generate", "validate", "total", "retrieve.dense"} <= set(answer.timings)
    assert retriever.calls[0]["user"] == ALICE and retriever.calls[0]["filters"] == filters
    r = row(catalog, answer.interaction_id)
    assert (r.user_name, r.channel, r.question) == ("alice", "api", Q)
    assert r.filters == {"repos": ["payments"]}
    assert [(x["n"], x["id"], x["score"]) for x in r.retrieved] == [(1, "p1", 1.0), (2, "p2", 0.5),
                                                                    (3, "p3", 0.333333)]
    assert r.prompt_version == EXTRACTIVE_VERSION and r.generator == "extractive" and r.model is None
    assert r.answer == answer.text and r.supported is True and r.removed_citations == 0
    assert [c["n"] for c in r.citations] == [1, 2] and r.citations[0]["citation"].startswith("payments@")
    assert r.index_version == "v1" and r.cached is False and r.error is None and r.fallback_reason is None
    assert set(r.timings) == set(answer.timings)


def test_llm_answer_records_prompt_version_model_tokens_and_removed_citations(catalog: Catalog) -> None:
    gen = ScriptedGenerator(text="Retried in `retry_failed_payment` [1][9], see the deploy doc [2, 4].")
    answerer, _ = make(catalog, gen)
    answer = answerer.answer(Q, [{"role": "user", "content": "hi"}], ALICE)
    assert answer.text.startswith("Retried in `retry_failed_payment` [1], see the deploy doc [2].")
    assert answer.removed_citations == 2 and answer.supported and answer.fallback_reason is None
    assert answer.generator == "openai" and answer.model == "fake-model"
    assert answer.tokens == {"prompt": 120, "completion": 12, "total": 132}
    r = row(catalog, answer.interaction_id)
    assert (r.prompt_version, r.generator, r.model) == (PROMPT_VERSION, "openai", "fake-model")
    assert r.tokens == answer.tokens and r.removed_citations == 2
    assert r.history == [{"role": "user", "content": "hi"}]


def test_user_must_be_given(catalog: Catalog) -> None:
    answerer, _ = make(catalog)
    with pytest.raises(TypeError, match="calling user"):
        answerer.answer(Q)


@pytest.mark.parametrize(("question", "message"), [
    ("   ", "the question is empty"),
    ("x" * 50_000, "the question is 50,000 characters; the limit is 8,000"),
])
def test_bad_questions_get_a_message_and_a_logged_interaction(catalog: Catalog, question: str, message: str) -> None:
    answerer, retriever = make(catalog)
    with pytest.raises(ConfigError, match=message) as info:
        answerer.answer(question, [], ALICE)
    assert retriever.calls == []
    r = row(catalog, info.value.interaction_id)  # type: ignore[attr-defined]
    assert r.error.startswith("ConfigError: " + message[:20]) and r.answer is None
    assert len(r.question) < 21_000  # a 50 KB question is clipped in the record


def test_unknown_repo_filter_from_the_retriever_is_recorded(catalog: Catalog) -> None:
    answerer, retriever = make(catalog)
    retriever.error = ConfigError("unknown repo 'nope' in repo:nope; known: payments")
    with pytest.raises(ConfigError, match="unknown repo") as info:
        answerer.answer("repo:nope retries", [], ALICE)
    r = row(catalog, info.value.interaction_id)  # type: ignore[attr-defined]
    assert "unknown repo" in r.error and r.question == "repo:nope retries"


def test_unexpected_errors_are_recorded_with_a_traceback_logged(catalog: Catalog, caplog: Any) -> None:
    answerer, retriever = make(catalog)
    retriever.error = KeyError("payload")
    with pytest.raises(KeyError) as info:
        answerer.answer(Q, [], ALICE)
    r = row(catalog, info.value.interaction_id)  # type: ignore[attr-defined]
    assert r.error.startswith("internal: KeyError")
    assert any(rec.exc_info for rec in caplog.records if rec.name == "sourcewise.answers")


def test_empty_index_says_so_without_calling_the_model(tmp_path: Path) -> None:
    empty = Catalog(Database(f"sqlite:///{tmp_path}/empty.db"))
    gen = ScriptedGenerator()
    answerer, _ = make(empty, gen, passages=[])
    answer = answerer.answer(Q, [], ALICE)
    assert answer.text == EMPTY_INDEX and not answer.supported and gen.calls == 0
    assert row(empty, answer.interaction_id).supported is False


def test_nothing_retrieved_in_a_nonempty_index_is_nothing_relevant(catalog: Catalog) -> None:
    gen = ScriptedGenerator()
    answerer, _ = make(catalog, gen, passages=[])
    answer = answerer.answer(Q, [], BOB)
    assert answer.text.startswith("I found nothing in the indexed sources") and not answer.supported
    assert gen.calls == 0


@pytest.mark.parametrize(("error", "reason"), [
    (GenerationError("refused", "the model endpoint refused to answer"), "refused"),
    (GenerationError("malformed", "the model endpoint returned a malformed response"), "malformed"),
    (RuntimeError("boom"), "error"),
])
def test_generator_failure_falls_back_to_extractive(catalog: Catalog, error: Exception, reason: str) -> None:
    answerer, _ = make(catalog, ScriptedGenerator(error=error))
    answer = answerer.answer(Q, [], ALICE)
    assert answer.fallback_reason and answer.fallback_reason.startswith(reason + ":")
    assert answer.generator == "extractive" and answer.supported
    assert answer.text.startswith("_") and "composed directly from the sources instead" in answer.text.split("\n")[0]
    assert "`payments/retry.py` lines" in answer.text
    r = row(catalog, answer.interaction_id)
    assert r.fallback_reason == answer.fallback_reason and r.error.startswith(f"openai: {reason}")
    assert (r.generator, r.model, r.prompt_version) == ("extractive", None, PROMPT_VERSION)  # the prompt was sent
    again = answerer.answer(Q, [], ALICE)
    assert not again.cached  # a fallback is transient: never cached


def test_hanging_generator_times_out_and_falls_back(catalog: Catalog) -> None:
    block = threading.Event()
    answerer, _ = make(catalog, ScriptedGenerator(block=block), deadline_s=0.2)
    try:
        answer = answerer.answer(Q, [], ALICE)
    finally:
        block.set()
    assert answer.fallback_reason == "timeout: the model did not finish within 0.2 s"
    assert answer.text.startswith("_The model did not finish within 0.2 s; this answer was composed")
    assert answer.supported


def test_uncited_answer_falls_back_or_is_marked_unsupported(catalog: Catalog) -> None:
    uncited = ScriptedGenerator(text="Payments are retried somewhere [7].")
    answerer, _ = make(catalog, uncited)
    answer = answerer.answer(Q, [], ALICE)
    assert answer.fallback_reason and answer.fallback_reason.startswith("no-citations")
    assert answer.supported and "[1]" in answer.text

    kept, _ = make(catalog, uncited, fallback_on_uncited=False)
    answer = kept.answer(Q, [], ALICE)
    assert answer.text == "Payments are retried somewhere." and not answer.supported
    assert answer.removed_citations == 1 and answer.fallback_reason is None


def test_fallback_off_raises_with_the_interaction_id(catalog: Catalog) -> None:
    answerer, _ = make(catalog, ScriptedGenerator(error=GenerationError("timeout", "slow")), fallback=False)
    with pytest.raises(GenerationError, match="slow") as info:
        answerer.answer(Q, [], ALICE)
    assert row(catalog, info.value.interaction_id).error.startswith("openai: timeout")  # type: ignore[attr-defined]


def test_cache_hits_are_marked_and_recorded_and_keyed_by_groups_and_version(catalog: Catalog) -> None:
    gen = ScriptedGenerator()
    version = ["v1"]
    answerer, retriever = make(catalog, gen)
    answerer.index_version = lambda: version[0]
    first = answerer.answer(Q, [], ALICE)
    second = answerer.answer(Q, [], ALICE)
    assert (first.cached, second.cached) == (False, True)
    assert second.text == first.text and second.interaction_id != first.interaction_id
    assert gen.calls == 1 and len(retriever.calls) == 1
    assert row(catalog, second.interaction_id).cached is True
    assert not answerer.answer(Q, [], BOB).cached  # other groups, other sources
    assert not answerer.answer(Q, [], ALICE, filters=QueryFilters(repos=("payments",))).cached
    version[0] = "v2"  # a re-index
    assert not answerer.answer(Q, [], ALICE).cached


def test_follow_ups_are_condensed_for_retrieval(catalog: Catalog) -> None:
    history = [{"role": "user", "content": Q}, {"role": "assistant", "content": "In the retrier [1]."}]
    gen = CondensingGenerator()
    answerer, retriever = make(catalog, gen)
    answerer.answer("repo:payments and how often?", history, ALICE)
    assert retriever.calls[-1]["question"] == gen.standalone
    assert gen.questions == ["and how often?"]  # the model sees the conversation and the user's words
    plain, retriever = make(catalog)
    plain.answer("and how often?", history, ALICE)
    assert retriever.calls[-1]["question"] == f"{Q} and how often?"


def test_stream_deltas_add_up_to_the_answer(catalog: Catalog) -> None:
    gen = ScriptedGenerator(text="Retried in the retrier [1][8] with backoff [2].")
    answerer, _ = make(catalog, gen)
    events = list(answerer.stream(Q, [], ALICE))
    assert [e["type"] for e in events][-1] == "answer"
    assert [e["type"] for e in events].count("answer") == 1
    answer = events[-1]["answer"]
    text = "".join(e["text"] for e in events if e["type"] == "delta")
    assert text == answer.text
    assert "[8]" not in text and answer.removed_citations == 1
    assert "docs/deploy.md was last changed 2 years ago" in text  # the stale note is streamed too
    assert row(catalog, answer.interaction_id).answer == answer.text


def test_stream_failure_midway_falls_back_and_says_so(catalog: Catalog) -> None:
    gen = ScriptedGenerator(text="Retried in the retrier [1] with a loop that", stream_fail_after=6,
                            error=GenerationError("timeout", "the model endpoint did not answer within 1 s"))
    answerer, _ = make(catalog, gen)
    events = list(answerer.stream(Q, [], ALICE))
    answer = events[-1]["answer"]
    text = "".join(e["text"] for e in events if e["type"] == "delta")
    assert text == answer.text
    assert text.startswith("Retried in the retrier [1]")
    assert "_The model endpoint did not answer within 1 s; here is an answer composed directly" in text
    assert answer.fallback_reason.startswith("timeout:") and answer.generator == "extractive"
    r = row(catalog, answer.interaction_id)
    assert r.fallback_reason == answer.fallback_reason


def test_stream_checks_input_before_returning(catalog: Catalog) -> None:
    answerer, _ = make(catalog)
    with pytest.raises(ConfigError, match="empty"):
        answerer.stream("", [], ALICE)


def test_cached_answer_streams_as_one_delta(catalog: Catalog) -> None:
    answerer, _ = make(catalog, version="stream-cache")
    first = answerer.answer("how do I deploy to prod?", [], ALICE)
    events = list(answerer.stream("how do I deploy to prod?", [], ALICE))
    assert [e["type"] for e in events] == ["delta", "answer"]
    assert events[1]["answer"].cached and events[0]["text"] == first.text


def test_one_structured_log_record_per_answer(catalog: Catalog, caplog: Any) -> None:
    import json
    import logging

    answerer, _ = make(catalog, ScriptedGenerator(), version="log")
    with caplog.at_level(logging.INFO, logger="sourcewise.answers"):
        answer = answerer.answer(Q, [], ALICE)
    records = [r for r in caplog.records if r.name == "sourcewise.answers"]
    assert len(records) == 1
    data = json.loads(records[0].getMessage().removeprefix("answer "))
    assert data["interaction_id"] == answer.interaction_id and data["question"] == Q
    assert [x["id"] for x in data["retrieved"]] == ["p1", "p2", "p3"] and data["retrieved"][0]["score"] == 1.0
    assert (data["prompt_version"], data["model"]) == (PROMPT_VERSION, "fake-model")
    assert data["tokens"]["total"] == 132 and "retrieve" in data["timings"] and data["error"] is None


def test_abandoned_stream_is_recorded(catalog: Catalog) -> None:
    answerer, _ = make(catalog, ScriptedGenerator(text="Retried in the retrier [1] with backoff [2] eventually."))
    events = answerer.stream(Q, [], ALICE)
    first = next(events)
    assert first["type"] == "delta"
    events.close()  # what a server does when the client disconnects
    latest = InteractionLog(catalog).recent(1)[0]
    assert latest.error and latest.error.startswith("abandoned: the client stopped reading")
    assert latest.question == Q and latest.retrieved
