"""What an operator sees: `sourcewise route status` (circuits replayed from recorded
answers) and the live routes on /admin/settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.catalog.db import Database
from assistant.catalog.interactions import InteractionLog
from assistant.errors import ConfigError
from assistant.route_status import recorded_status
from assistant.settings import load_settings
from sourcewise.cli import app

ROUTING = {
    "endpoints": {"primary": {"kind": "openai", "base_url": "http://gpu1:8000/v1", "model": "qwen-32b",
                              "api_key": "sk-route-secret"},
                  "backup": {"kind": "openai", "base_url": "http://gpu2:8000/v1", "model": "llama-8b"}},
    "routes": {"public": ["primary", "backup", "extractive"]}, "failure_threshold": 2, "cooldown_s": 60,
}


def _record(db: Database, steps: list[tuple[str, str, str | None]]) -> None:
    route = {"route": "public", "classification": "public", "answered_by": None,
             "steps": [{"endpoint": e, "outcome": o, **({"reason": r} if r else {})} for e, o, r in steps]}
    InteractionLog(db).record(user_name="sam", question="q", timings={"total": 0.1, "route": route})


def test_circuits_are_replayed_from_the_recorded_route_steps(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home", routing=ROUTING)
    db = Database(settings.catalog_url)
    try:
        _record(db, [("primary", "failed", "timeout"), ("backup", "answered", None)])
        _record(db, [("primary", "failed", "unreachable"), ("backup", "answered", None)])
        _record(db, [("primary", "skipped", "circuit-open"), ("backup", "failed", "http-503"),
                     ("extractive", "answered", None)])
        [route] = recorded_status(settings, db)
        steps = {s["endpoint"]: s for s in route["steps"]}
        assert steps["primary"]["state"] == "open" and steps["primary"]["retry_in_s"] > 0
        assert [r["reason"] for r in steps["primary"]["recent"]] == ["unreachable", "timeout"]
        assert steps["backup"]["state"] == "closed" and steps["backup"]["failures_in_window"] == 1
        assert steps["extractive"]["state"] == "n/a"
        later = recorded_status(settings, db, now=datetime.now(UTC) + timedelta(seconds=61))
        assert later[0]["steps"][0]["state"] == "half-open"  # the next question probes it
    finally:
        db.close()


def test_route_status_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCEWISE_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    result = runner.invoke(app, ["route", "status"])
    assert result.exit_code == 0 and "no routes configured" in result.output
    monkeypatch.setenv("SOURCEWISE_ROUTING__ENDPOINTS", json.dumps(ROUTING["endpoints"]))
    monkeypatch.setenv("SOURCEWISE_ROUTING__ROUTES", json.dumps(ROUTING["routes"]))
    monkeypatch.setenv("SOURCEWISE_ROUTING__FAILURE_THRESHOLD", "1")
    settings = load_settings()
    db = Database(settings.catalog_url)
    _record(db, [("primary", "failed", "timeout"), ("backup", "answered", None)])
    db.close()
    result = runner.invoke(app, ["route", "status", "--json"])
    assert result.exit_code == 0, result.output
    [route] = json.loads(result.output)
    assert [(s["endpoint"], s["state"]) for s in route["steps"]] == [
        ("primary", "open"), ("backup", "closed"), ("extractive", "n/a")]
    table = runner.invoke(app, ["route", "status"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "qwen-32b" in table.output and "timeout" in table.output
    assert "sk-route-secret" not in table.output + result.output  # keys are never shown


def test_route_naming_an_unknown_endpoint_stops_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCEWISE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SOURCEWISE_ROUTING__ROUTES", json.dumps({"*": ["extractiv"]}))
    result = CliRunner().invoke(app, ["route", "status"])  # `main` prints a ConfigError and exits 2
    assert isinstance(result.exception, ConfigError) and "did you mean 'extractive'?" in str(result.exception)
