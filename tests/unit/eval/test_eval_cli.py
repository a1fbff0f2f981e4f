"""`sourcewise eval` commands that need no model: list, discard, report, export, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from assistant.catalog.db import Database
from assistant.catalog.schema import EvalCaseRow
from assistant.errors import ConfigError
from eval.cases import EvalCase, EvalFormatError, EvalSet, Gold
from eval.store import EvalStore
from sourcewise.eval_cli import _why, register

SET = EvalSet("fixture", (EvalCase("a", "where is RETRY_LIMIT?", (Gold("retry.py", "app"),)),))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOURCEWISE_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


def cli(*args: str) -> object:
    app = typer.Typer()
    app.command("noop")(lambda: None)
    register(app)
    return CliRunner().invoke(app, list(args))


def seeded(home: Path) -> tuple[EvalStore, int, int]:
    store = EvalStore(Database(f"sqlite:///{home}/catalog.db"))
    base = store.start(SET, generator="extractive")
    store.save_result(base, "a", {"case_id": "a", "question": "where is RETRY_LIMIT?", "passed": True,
                                  "gold_files": ["app:retry.py"], "file_ranked": ["app:retry.py"]})
    store.finish(base, {"pass_rate": 1.0, "cases": 1, "skipped": 0, "scored": 1}, {"tag": {}, "source": {}})
    running = store.start(SET, generator="extractive", baseline_id=base)
    return store, base, running


def test_list_discard_and_report(home: Path) -> None:
    result = cli("eval", "list")
    assert result.exit_code == 0 and "no eval runs yet" in result.output
    store, base, running = seeded(home)
    runs = json.loads(cli("eval", "list", "--json").output)
    assert [(r["id"], r["status"]) for r in runs] == [(running, "running"), (base, "done")]
    result = cli("eval", "discard", str(running))
    assert result.exit_code == 0 and store.get(running).status == "discarded"
    result = cli("eval", "report", "latest")
    assert result.exit_code == 0, result.output
    md, html = (Path(p) for p in result.output.split())
    assert md == home / "eval-reports" / f"run-{base}.md" and md.is_file() and html.is_file()
    out = home.parent / "only.html"
    result = cli("eval", "report", str(base), "--html", str(out))
    assert result.exit_code == 0 and out.is_file() and not (home.parent / "only.md").exists()


def test_bad_run_ids_and_sets_are_errors(home: Path) -> None:
    result = cli("eval", "report", "latest")
    assert isinstance(result.exception, ConfigError) and "no finished eval run" in str(result.exception)
    result = cli("eval", "report", "abc")
    assert isinstance(result.exception, ConfigError) and "'latest'" in str(result.exception)
    result = cli("eval", "run", "--set", "no-such-set")
    assert isinstance(result.exception, EvalFormatError) and "no eval set 'no-such-set'" in str(result.exception)
    result = cli("eval", "export-catalog", "--set", "feedback", "--out", "x.yaml")
    assert isinstance(result.exception, ConfigError) and "no eval cases in set 'feedback'" in str(result.exception)


def test_export_catalog_writes_a_loadable_set(home: Path) -> None:
    db = Database(f"sqlite:///{home}/catalog.db")
    with db.session() as s:
        s.add(EvalCaseRow(set_name="feedback", question="who owns billing?", gold=[{"path": "CODEOWNERS"}],
                          created_by="admin", origin="feedback"))
    out = home.parent / "feedback.jsonl"
    result = cli("eval", "export-catalog", "--set", "feedback", "--out", str(out))
    assert result.exit_code == 0 and "wrote 1 cases" in result.output
    from eval.cases import load_set

    assert load_set(out).cases[0].question == "who owns billing?"


def test_why_a_case_failed() -> None:
    assert _why({"gold_files": ["a:x"], "file_ranked": ["a:y"]}) == "no gold file in the ranking; no gold source cited"
    assert _why({"gold_files": ["a:x"], "file_ranked": ["a:y", "a:x"], "retrieval_k": 1, "cited_files": ["a:x"],
                 "missing_includes": ["30"]}) == "no gold file in the top 1; answer lacks ['30']"
    assert _why({}) == "failed"
