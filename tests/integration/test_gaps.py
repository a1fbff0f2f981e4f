"""Documentation gaps on a real log: a real repo indexed by the real CLI, questions asked
through the real Answerer (bundled embedding model, EdgeStore, SQLite), real feedback rows,
then `sourcewise gaps` in a subprocess clustering them with the real model."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from assistant.answer import build_answerer
from assistant.catalog.schema import AuditRow
from assistant.container import build
from assistant.models import User
from assistant.settings import load_settings
from tests.fixtures.gitrepo import make_sample_repo
from tests.integration.cli import run_cli, run_json

pytestmark = pytest.mark.slow

# Eight ways to ask about something the corpus lacks ...
PLANTED = [
    "How do I request a parking permit for the office garage?",
    "Where can I apply for a car park pass at the office?",
    "What is the process to get a parking spot in the company garage?",
    "Who issues parking permits for employees?",
    "How can I get access to the staff car park?",
    "Is there a form for requesting an office parking space?",
    "parking permit application for the HQ garage",
    "how do employees get a parking badge for the garage",
]
# ... unrelated questions nobody could answer either ...
NOISE = [
    "How many vacation days do new hires get?",
    "What is the wifi password for the guest network?",
    "Who approves expense reports over 500 dollars?",
    "What time does the cafeteria close on Fridays?",
]
# ... and questions the corpus answers, rated up.
ANSWERED = ["where do we retry failed payments?", "how is the retry backoff computed?"]
ASKER = User("asker", ("eng", "payments"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[int]]]:
    tmp = tmp_path_factory.mktemp("gaps")
    repo = make_sample_repo(tmp / "repo")
    home = tmp / "home"
    run_cli(home, "source", "add", "app", "--git", str(repo.path), "--groups", "eng,payments")
    run_cli(home, "index")
    run_cli(home, "user", "add", "mallory", "--groups", "web", "--no-password")
    container = build(load_settings(home=home))
    try:
        answerer = build_answerer(container)
        ids: dict[str, list[int]] = {"planted": [], "noise": [], "answered": []}
        for kind, questions, vote in (("planted", PLANTED, ("down", "missing_source")),
                                      ("noise", NOISE, ("down", "missing_source")), ("answered", ANSWERED, ("up", None))):
            for q in questions:
                answer = answerer.answer(q, [], ASKER)
                assert answer.interaction_id is not None and answer.passages  # retrieval found its closest
                container.feedback.rate(answer.interaction_id, ASKER, *vote)
                ids[kind].append(answer.interaction_id)
    finally:
        container.close()
    return home, ids


def test_planted_questions_come_out_as_one_topic(world: tuple[Path, dict[str, list[int]]]) -> None:
    home, ids = world
    topics = run_json(home, "gaps", "--days", "1")
    assert len(topics) == 1, [(t["count"], t["label"]) for t in topics]  # noise questions stay single (min 2)
    topic = topics[0]
    assert topic["count"] == len(PLANTED) and topic["why"]["missing_source"] == len(PLANTED)
    shown = {e["interaction_id"] for e in topic["examples"]}
    assert len(shown) == 5 and shown <= set(ids["planted"])  # gaps.examples, all from the planted cluster
    assert not shown & set(ids["noise"] + ids["answered"])
    assert topic["id"] == min(ids["planted"]) and "parking" in topic["label"].lower() + " ".join(
        e["question"].lower() for e in topic["examples"])
    assert topic["sources"] and all(s["source"] == "app" for s in topic["sources"])  # what retrieval came closest with

    # a lower threshold folds everything into one blob; the default keeps the noise out
    loose = run_json(home, "gaps", "--days", "1", env={"SOURCEWISE_GAPS__SIMILARITY": "0.05"})
    assert loose[0]["count"] > len(PLANTED)

    text = run_cli(home, "gaps").stdout
    assert f"gap #{topic['id']}" in text and "8 question(s)" in text


def test_owner_and_outsider_views(world: tuple[Path, dict[str, list[int]]]) -> None:
    home, ids = world
    topic = run_json(home, "gaps", "--days", "1")[0]
    owner = next((s["owner"] for s in topic["sources"] if s["owner"]), None)
    assert owner, topic["sources"]  # CODEOWNERS names an owner for every file of the sample repo
    theirs = run_json(home, "owners", "gaps", "--owner", owner, "--days", "1")
    assert [t["id"] for t in theirs] == [topic["id"]] and theirs[0]["examples"]
    assert run_json(home, "owners", "gaps", "--user", "mallory", "--days", "1") == []  # reads nothing here
    bad = run_cli(home, "gaps", "--days", "0", check=False)
    assert bad.returncode == 2 and "--days must be between 1 and 365" in bad.stderr

    container = build(load_settings(home=home))
    try:
        with container.db.session() as s:
            rows = list(s.scalars(select(AuditRow).where(AuditRow.action == "gaps.view")))
        assert rows and all(r.details["door"] == "cli" for r in rows)
        assert {r.target for r in rows} >= {"*", owner}
    finally:
        container.close()
