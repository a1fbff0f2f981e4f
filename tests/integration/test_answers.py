"""Answers end to end: a real git repo indexed by the real CLI, the real Retriever with the
bundled embedding model on EdgeStore, the extractive generator, a real SQLite catalog."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant.answer import EMPTY_INDEX, Answerer, build_answerer
from assistant.catalog.interactions import InteractionLog
from assistant.container import Container, build
from assistant.errors import ConfigError
from assistant.generation.extractive import ExtractiveGenerator
from assistant.models import User
from assistant.settings import load_settings
from tests.fixtures.gitrepo import make_sample_repo
from tests.integration.cli import run_cli

pytestmark = pytest.mark.slow

ADMIN = User("local", is_admin=True)
PAYMENTS = User("pat", ("payments",))
OUTSIDER = User("mallory", ("web",))


@dataclass
class Stack:
    container: Container
    answerer: Answerer
    log: InteractionLog


def _stack(home: Path) -> Stack:
    """The composition root's Answerer (default settings: the extractive generator)."""
    container = build(load_settings(home=home))
    answerer = build_answerer(container)
    assert isinstance(answerer.generator, ExtractiveGenerator)
    return Stack(container, answerer, InteractionLog(container.catalog))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("answers")
    repo = make_sample_repo(tmp / "repo")
    home = tmp / "home"
    run_cli(home, "source", "add", "app", "--git", str(repo.path), "--groups", "eng,payments")
    run_cli(home, "index")
    return home


@pytest.fixture(scope="module")
def stack(home: Path) -> Iterator[Stack]:
    s = _stack(home)
    yield s
    s.container.close()


def test_ask_command_end_to_end(home: Path) -> None:
    """First in the module: the embedded store admits one process, and `stack` opens it for the rest."""
    data = json.loads(run_cli(home, "ask", "where do we retry failed payments?", "--json").stdout)
    assert data["supported"] and data["citations"][0]["path"] == "payments/retry.py"
    assert data["generator"] == "extractive" and data["interaction_id"]
    out = run_cli(home, "ask", "where do we retry failed payments?", "--user", "mallory", "--groups", "web")
    assert "I found nothing in the indexed sources" in out.stdout and "retry.py" not in out.stdout
    bad = run_cli(home, "ask", "   ", check=False)
    assert bad.returncode == 2 and "the question is empty" in bad.stderr and "interaction" in bad.stderr
    assert "Traceback" not in bad.stderr + bad.stdout


def test_code_question_is_answered_with_cited_code(stack: Stack) -> None:
    answer = stack.answerer.answer("where do we retry failed payments?", [], ADMIN)
    assert answer.supported and answer.citations
    first = answer.citations[0].passage
    assert first.path == "payments/retry.py" and first.source == "app"
    assert "```python" in answer.text and "retry_failed_payment" in answer.text
    assert "[1]" in answer.text and answer.generator == "extractive"
    row = stack.log.get(answer.interaction_id or -1)
    assert row is not None and row.retrieved and row.retrieved[0]["path"] == "payments/retry.py"
    assert all(isinstance(r["score"], float) for r in row.retrieved)
    assert row.index_version and row.index_version.startswith("r1:")
    assert {"retrieve", "retrieve.embed", "generate", "total"} <= set(row.timings)


def test_identifier_question_names_the_definition(stack: Stack) -> None:
    answer = stack.answerer.answer("what is RETRY_LIMIT?", [], ADMIN)
    assert answer.text.startswith("`RETRY_LIMIT` is defined in `payments/retry.py` at line 3 [1].")


def test_old_doc_is_named_as_old(stack: Stack) -> None:
    answer = stack.answerer.answer("how do I roll back a release with make rollback?", [], ADMIN)
    assert any(c.passage.path == "docs/deploy.md" for c in answer.citations)
    assert "docs/deploy.md was last changed" in answer.text  # committed 2024-01-10, docs threshold 1 year
    assert answer.stale_warnings


def test_repeat_is_cached_and_other_groups_are_not_served_from_cache(stack: Stack) -> None:
    q = "where is HttpClient.send?"
    first = stack.answerer.answer(q, [], PAYMENTS)
    again = stack.answerer.answer(q, [], PAYMENTS)
    assert not first.cached and again.cached and again.text == first.text
    outsider = stack.answerer.answer(q, [], OUTSIDER)
    assert not outsider.cached
    # the sources carry eng,payments: someone in neither sees nothing of them
    assert not outsider.supported and not outsider.passages
    assert "http_client" not in outsider.text


def test_unknown_repo_filter_is_a_clear_logged_error(stack: Stack) -> None:
    with pytest.raises(ConfigError, match="nope") as info:
        stack.answerer.answer("repo:nope where do we retry?", [], ADMIN)
    row = stack.log.get(info.value.interaction_id)  # type: ignore[attr-defined]
    assert row is not None and "nope" in (row.error or "")


def test_follow_up_uses_the_conversation(stack: Stack) -> None:
    history = [{"role": "user", "content": "where do we retry failed payments?"},
               {"role": "assistant", "content": "In `retry_failed_payment` [1]."}]
    answer = stack.answerer.answer("and how long is the delay between them?", history, ADMIN)
    assert answer.citations and answer.citations[0].passage.path == "payments/retry.py"
    assert stack.log.get(answer.interaction_id or -1).history == history  # type: ignore[union-attr]


def test_stream_over_the_real_stack(stack: Stack) -> None:
    events = list(stack.answerer.stream("how does the http client send requests?", [], ADMIN))
    answer = events[-1]["answer"]
    assert "".join(e["text"] for e in events if e["type"] == "delta") == answer.text
    assert answer.citations[0].passage.path == "web/http_client.js"


def test_empty_index_says_how_to_index(tmp_path: Path) -> None:
    s = _stack(tmp_path / "home")
    try:
        answer = s.answerer.answer("where do we retry failed payments?", [], ADMIN)
    finally:
        s.container.close()
    assert answer.text == EMPTY_INDEX and not answer.supported and answer.interaction_id

