"""`sourcewise token ...` and `sourcewise serve` (uvicorn itself replaced)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from assistant.catalog.db import Database
from assistant.catalog.tokens import TokenStore
from assistant.users import UserStore
from sourcewise import api_cli

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCEWISE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _user(home: Path, name: str, **kw: Any) -> None:
    """Tokens act for existing users: create the account the way `sourcewise user add` does."""
    UserStore(Database(f"sqlite:///{home}/catalog.db")).create(name, **kw)


def test_token_lifecycle(home: Path) -> None:
    _user(home, "bot", groups=["eng", "payments"])
    made = runner.invoke(api_cli.app, ["token", "create", "ci", "--user", "bot", "--groups", "eng, payments"])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[0]
    assert token.startswith("sw_")
    store = TokenStore(Database(f"sqlite:///{home}/catalog.db"))
    assert store.verify(token).groups == ("eng", "payments")

    listed = runner.invoke(api_cli.app, ["token", "list", "--json"])
    assert listed.exit_code == 0 and token not in listed.stdout
    [row] = json.loads(listed.stdout)
    assert (row["name"], row["user"], row["groups"], row["admin"], row["active"]) == (
        "ci", "bot", ["eng", "payments"], False, True)

    assert runner.invoke(api_cli.app, ["token", "revoke", "ci"]).exit_code == 0
    assert store.verify(token) is None
    again = runner.invoke(api_cli.app, ["token", "revoke", "ci"])
    assert again.exit_code != 0 and "no active token named 'ci'" in str(again.exception)


def test_admin_token(home: Path) -> None:
    _user(home, "root", is_admin=True)
    made = runner.invoke(api_cli.app, ["token", "create", "root", "--user", "root", "--admin"])
    token = made.stdout.strip().splitlines()[0]
    user = TokenStore(Database(f"sqlite:///{home}/catalog.db")).verify(token)
    assert user is not None and user.is_admin


def test_serve_runs_one_uvicorn_worker(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    result = runner.invoke(api_cli.app, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert (seen["host"], seen["port"], seen["workers"]) == ("127.0.0.1", 8123, 1)
    assert set(seen["app"].openapi()["paths"]) >= {"/api/ask", "/api/search", "/v1/chat/completions",
                                                   "/v1/models", "/healthz"}


def test_register_adds_serve_and_token() -> None:
    parent = typer.Typer()

    @parent.command("other")
    def other() -> None:
        """A placeholder so the group has two commands."""

    api_cli.register(parent)
    out = runner.invoke(parent, ["--help"]).stdout
    assert "serve" in out and "token" in out
