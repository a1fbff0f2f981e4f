"""API tokens die with their user: a disabled or deleted user's token is refused, a token carries at
most its user's current groups and admin rights, and no token is made for a user who does not
exist (issue 17, failure 3; promise 2)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from typer.testing import CliRunner

from assistant.api.app import create_app
from assistant.catalog.schema import UserRow
from assistant.catalog.tokens import TokenStore
from assistant.container import Container
from assistant.errors import ConfigError
from assistant.models import User
from sourcewise import api_cli
from tests.fixtures.postgres import catalog_url, pg_server  # noqa: F401 - fixtures
from tests.security.identity_support import make_container


@pytest.fixture
def container(tmp_path: Path, catalog_url: str) -> Iterator[Container]:
    c = make_container(tmp_path / "home", catalog={"url": catalog_url})  # on SQLite and on PostgreSQL
    c.users.create("alice", groups=["payments", "web"])
    c.users.create("root", is_admin=True)
    yield c
    c.close()


@pytest.fixture
def api(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_disabled_or_deleted_users_token_gets_401(container: Container, api: TestClient) -> None:
    """Regression: a disabled user's API tokens still answered."""
    _, token = TokenStore(container.db).create("laptop", user="alice", groups=["payments"])
    assert api.get("/v1/models", headers=bearer(token)).status_code == 200
    container.users.disable("alice")
    refused = api.get("/v1/models", headers=bearer(token))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    assert api.get("/api/search", params={"q": "x"}, headers=bearer(token)).status_code == 401
    container.users.enable("alice")
    assert api.get("/v1/models", headers=bearer(token)).status_code == 200
    with container.db.session() as s:  # the account is gone (no command deletes one; a restore might)
        s.execute(delete(UserRow).where(UserRow.name == "alice"))
    assert api.get("/v1/models", headers=bearer(token)).status_code == 401
    assert TokenStore(container.db).verify(token) is None


def test_a_token_carries_at_most_its_users_current_groups(container: Container) -> None:
    """Regression: a token kept the groups it was created with after its user left a group."""
    store = TokenStore(container.db)
    _, token = store.create("ci", user="alice", groups=["payments", "web"])
    assert store.verify(token) == User("alice", ("payments", "web"), False)
    container.users.set_groups("alice", ["payments"])
    assert store.verify(token) == User("alice", ("payments",), False)
    container.users.set_groups("alice", [])
    assert store.verify(token) == User("alice", (), False)
    container.users.set_groups("alice", ["web", "payments", "eng"])  # back in: never more than the token's
    assert store.verify(token) == User("alice", ("payments", "web"), False)


def test_an_admin_token_is_admin_only_while_its_user_is(container: Container) -> None:
    store = TokenStore(container.db)
    _, token = store.create("ops", user="root", groups=["payments"], is_admin=True)
    assert store.verify(token) == User("root", ("payments",), True)  # an admin holds every group
    container.users.set_admin("root", False)
    assert store.verify(token) == User("root", (), False)
    container.users.set_admin("root", True)
    assert store.verify(token).is_admin


@pytest.mark.parametrize("user,kw,message", [
    ("nobody", {}, "no user 'nobody'"),
    ("alice", {"is_admin": True}, "not an admin"),
    ("alice", {"groups": ["payments", "finance"]}, "not in group(s) finance"),
])
def test_token_create_refuses_what_its_user_could_not_do(container: Container, user: str, kw: dict[str, Any],
                                                        message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TokenStore(container.db).create("t", user=user, **kw)
    assert TokenStore(container.db).list() == []


def test_token_create_refuses_a_disabled_user(container: Container) -> None:
    container.users.disable("alice")
    with pytest.raises(ConfigError, match="disabled"):
        TokenStore(container.db).create("t", user="alice")


@pytest.fixture
def home(container: Container, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCEWISE_HOME", str(container.settings.home))
    monkeypatch.setenv("SOURCEWISE_CATALOG__URL", container.settings.catalog_url)
    return container.settings.home


def test_the_cli_refuses_a_token_for_an_unknown_user(home: Path, container: Container) -> None:
    """Regression: `sourcewise token create x --user nobody` made a token for a user who does not exist."""
    made = CliRunner().invoke(api_cli.app, ["token", "create", "x", "--user", "nobody"])
    assert made.exit_code != 0 and "no user 'nobody'" in str(made.exception)
    assert TokenStore(container.db).list() == []


def test_token_creation_and_revocation_are_audited_never_with_the_secret(home: Path, container: Container) -> None:
    runner = CliRunner()
    made = runner.invoke(api_cli.app, ["token", "create", "ci", "--user", "alice", "--groups", "web"])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[0]
    assert runner.invoke(api_cli.app, ["token", "revoke", "ci"]).exit_code == 0
    entries = container.audit.entries()[::-1]
    assert [(e.action, e.target) for e in entries] == [("token.create", "ci"), ("token.revoke", "ci")]
    assert entries[0].actor.startswith("cli") and entries[0].details == {"user": "alice", "groups": ["web"],
                                                                         "admin": False}
    assert all(token not in json.dumps(e.details) and token[3:] not in json.dumps(e.details) for e in entries)
