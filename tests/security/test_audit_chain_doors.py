"""Promise 5 at every door: each answered or refused question leaves exactly one audit row
(who asked, which sources and chunks were retrieved, which generator and model saw them),
written by the Answerer, so the CLI, the HTTP API and the OpenAI endpoint all get it.
A real repo indexed with the real model; the real app in-process for the HTTP doors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.audit import AuditLog
from assistant.catalog.db import Database
from assistant.catalog.interactions import InteractionLog
from assistant.catalog.tokens import TokenStore
from assistant.container import Container, build
from assistant.settings import load_settings
from tests.fixtures.gitrepo import make_sample_repo
from tests.integration.cli import run_cli

pytestmark = pytest.mark.slow

QUESTION = "where do we retry failed payments?"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("doors")
    repo = make_sample_repo(tmp / "repo")
    home = tmp / "home"
    run_cli(home, "source", "add", "app", "--git", str(repo.path), "--groups", "payments")
    run_cli(home, "index")
    return home


def _questions(home: Path) -> list:
    db = Database(f"sqlite:///{home}/catalog.db")
    try:
        return [e for e in AuditLog(db).iter_chain() if e.action.startswith("question.")]
    finally:
        db.close()


def _interaction(home: Path, ident: int):  # noqa: ANN202
    db = Database(f"sqlite:///{home}/catalog.db")
    try:
        return InteractionLog(db).get(ident)
    finally:
        db.close()


def _check_row(home: Path, entry, *, actor: str, channel: str) -> None:  # noqa: ANN001
    row = _interaction(home, entry.details["interaction_id"])
    assert entry.actor == actor == row.user_name
    assert entry.target == f"interaction:{row.id}"
    assert entry.details["channel"] == channel == row.channel
    assert entry.details["question_sha256"] == hashlib.sha256(row.question.encode()).hexdigest()
    assert entry.details["chunks"] == [r["id"] for r in row.retrieved]
    assert entry.details["sources"] == sorted({r["doc_id"].split(":", 1)[0] for r in row.retrieved})
    assert (entry.details["generator"], entry.details["model"]) == (row.generator, row.model)
    assert QUESTION not in json.dumps(entry.details)  # the text stays in the interaction row


def test_cli_ask_writes_one_question_row(home: Path) -> None:
    before = len(_questions(home))
    proc = run_cli(home, "ask", QUESTION, "--json")
    assert "payments/retry.py" in proc.stdout
    rows = _questions(home)[before:]
    assert [e.action for e in rows] == ["question.answer"]
    _check_row(home, rows[0], actor="local", channel="cli")
    assert rows[0].details["sources"] == ["app"] and rows[0].details["chunks"]
    assert rows[0].details["sent_to"] == [{"generator": "extractive", "model": None}]
    refused = run_cli(home, "ask", "   ", check=False)
    assert refused.returncode == 2
    [row] = _questions(home)[before + 1:]
    assert row.action == "question.refused" and row.details["chunks"] == [] and row.details["sent_to"] == []
    assert "empty" in row.details["error"]


@pytest.fixture(scope="module")
def api(home: Path) -> Iterator[tuple[TestClient, Container, dict[str, str]]]:
    container = build(load_settings(home=home))
    tokens = TokenStore(container.db)
    container.users.create("pat", groups=["payments"])  # a token acts for an existing user
    container.users.create("bob", groups=["marketing"])
    _, pat = tokens.create("pat", user="pat", groups=["payments"])
    _, bob = tokens.create("bob", user="bob", groups=["marketing"])
    with TestClient(create_app(container)) as client:
        yield client, container, {"pat": pat, "bob": bob}
    container.close()


def test_api_ask_and_the_openai_endpoint_write_one_question_row_each(home: Path, api) -> None:  # noqa: ANN001
    client, container, tokens = api
    before = len(_questions(home))
    r = client.post("/api/ask", json={"question": QUESTION}, headers={"Authorization": f"Bearer {tokens['pat']}"})
    assert r.status_code == 200, r.text
    r = client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {tokens['pat']}"},
                    json={"model": "sourcewise", "messages": [{"role": "user", "content": QUESTION}]})
    assert r.status_code == 200, r.text
    # someone outside the source's groups: the row shows they were given nothing from it
    r = client.post("/api/ask", json={"question": QUESTION}, headers={"Authorization": f"Bearer {tokens['bob']}"})
    assert r.status_code == 200 and "payments/retry.py" not in r.text
    r = client.post("/api/ask", json={"question": ""}, headers={"Authorization": f"Bearer {tokens['pat']}"})
    assert r.status_code in (400, 422)
    rows = _questions(home)[before:]
    assert [(e.actor, e.action, e.details["channel"]) for e in rows] == [
        ("pat", "question.answer", "api"), ("pat", "question.answer", "openai"),
        ("bob", "question.answer", "api"), ("pat", "question.refused", "api")]
    _check_row(home, rows[0], actor="pat", channel="api")
    _check_row(home, rows[1], actor="pat", channel="openai")
    _check_row(home, rows[2], actor="bob", channel="api")
    assert rows[0].details["sources"] == ["app"] and rows[2].details["sources"] == []
    assert container.audit.verify().ok


def test_a_cached_answer_is_audited_too(home: Path, api) -> None:  # noqa: ANN001
    client, _, tokens = api
    headers = {"Authorization": f"Bearer {tokens['pat']}"}
    q = {"question": "what is the retry limit for payments?"}
    assert client.post("/api/ask", json=q, headers=headers).status_code == 200
    before = len(_questions(home))
    assert client.post("/api/ask", json=q, headers=headers).status_code == 200
    [row] = _questions(home)[before:]
    assert row.action == "question.answer" and row.details["cached"] is True and row.details["sent_to"] == []
    assert row.details["chunks"]  # what the cached answer was built from
