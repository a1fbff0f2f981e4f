"""Password sign-in: throttled per account and per address (in the catalog), audited with the
client address and never the password, scrypt at OWASP's cost with old hashes upgraded
(issue 17, failure 8; promise 2)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.security.identity_support import make_container  # first: keeps Chainlit's files in a temp dir

from assistant.catalog.db import Database  # noqa: I001
from assistant.catalog.identity_schema import LoginFailureRow
from assistant.catalog.schema import UserRow, utcnow
from assistant.container import Container
from assistant.settings import Settings
from assistant.signin import SignInService
from assistant.users import SCRYPT_N, UserStore, check_password, hash_password, needs_rehash
from ui import auth, identity, runtime

PASSWORD = "alice-password"


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    c = make_container(tmp_path / "home")
    c.users.create("alice", password=PASSWORD, groups=["eng"])
    c.users.create("bob", password="bob-password")
    yield c
    c.close()


def service(c: Container) -> SignInService:
    return SignInService(c.db, c.users, c.audit, c.settings.auth)


def test_five_failures_lock_the_account_even_for_the_right_password(container: Container) -> None:
    """Regression: nothing limited password guessing."""
    runtime.install(container, answerer=object(), retriever=object())
    try:
        async def attempt(password: str, address: str | None = None) -> Any:
            if address is None:
                return await auth.password_login("alice", password)
            token = identity._client.set(address)  # what CallerMiddleware sets for the request
            try:
                return await auth.password_login("alice", password)
            finally:
                identity._client.reset(token)

        for i in range(5):
            assert asyncio.run(attempt(f"guess-{i}")) is None
        assert asyncio.run(attempt(PASSWORD)) is None  # locked: answered like a wrong password
        assert asyncio.run(attempt(PASSWORD, "203.0.113.2")) is None  # the account, from any address
        assert asyncio.run(auth.password_login("bob", "bob-password")) is not None  # others are not affected
    finally:
        runtime.uninstall()


def test_the_count_lives_in_the_catalog_and_expires_with_the_window(container: Container) -> None:
    for i in range(5):
        assert service(container).password("alice", f"guess-{i}", address="203.0.113.1") is None
    # A restart (a new process, another worker): a fresh database handle and service.
    db = Database(container.settings.catalog_url)
    restarted = SignInService(db, UserStore(db, scrypt_n=2**14), container.audit, container.settings.auth)
    assert restarted.password("alice", PASSWORD, address="203.0.113.9") is None
    assert restarted.throttle.blocked("ALICE ", None) == "account"  # case and blanks: the same account
    with db.session() as s:
        s.execute(update(LoginFailureRow).values(at=utcnow() - timedelta(seconds=901)))
    assert restarted.password("alice", PASSWORD, address="203.0.113.9") is not None
    db.close()


def test_twenty_failures_from_one_address_lock_that_address(container: Container) -> None:
    svc = service(container)
    for i in range(20):
        assert svc.password(f"user{i}", "whatever-password", address="203.0.113.5") is None
    assert svc.password("alice", PASSWORD, address="203.0.113.5") is None
    assert svc.password("alice", PASSWORD, address="203.0.113.6") is not None
    reasons = [e.details["reason"] for e in container.audit.entries(action="login.failure")]
    assert reasons[0] == "throttled (address)"


def test_a_success_clears_the_accounts_count_but_not_the_addresss(container: Container) -> None:
    svc = service(container)
    for i in range(4):
        svc.password("alice", f"guess-{i}", address="203.0.113.7")
    assert svc.password("alice", PASSWORD, address="203.0.113.7") is not None
    for i in range(4):
        svc.password("alice", f"again-{i}", address="203.0.113.8")
    assert svc.password("alice", PASSWORD, address="203.0.113.8") is not None  # 4 after the success: open
    with container.db.session() as s:
        kinds = [(r.kind, r.key) for r in s.scalars(select(LoginFailureRow))]
    assert ("address", "203.0.113.7") in kinds and not any(k == "account" for k, _ in kinds)


def test_sign_ins_are_audited_with_provider_and_address_never_the_password(container: Container) -> None:
    svc = service(container)
    svc.password("alice", "wrong-password-123", address="203.0.113.10")
    svc.password("nobody", PASSWORD, address="203.0.113.10")
    svc.password("alice", PASSWORD, address="203.0.113.11")
    entries = container.audit.entries()[::-1]
    assert [(e.action, e.actor, e.details["provider"], e.details["address"]) for e in entries] == [
        ("login.failure", "alice", "password", "203.0.113.10"),
        ("login.failure", "nobody", "password", "203.0.113.10"),
        ("login.success", "alice", "password", "203.0.113.11"),
    ]
    dumped = json.dumps([[e.actor, e.target, e.details] for e in entries])
    assert "wrong-password-123" not in dumped and PASSWORD not in dumped


def test_the_default_scrypt_cost_is_owasps(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SOURCEWISE_AUTH__SCRYPT_N", raising=False)
    assert Settings(home=tmp_path).auth.scrypt_n == SCRYPT_N == 2**17
    stored = hash_password("correct horse battery")
    assert stored.startswith("scrypt$n=131072,r=8,p=1$") and check_password("correct horse battery", stored)
    assert not needs_rehash(stored) and needs_rehash(stored, 2**15)
    assert UserStore(Database(f"sqlite:///{tmp_path}/c.db")).scrypt_n == 2**17


def test_an_old_hash_still_verifies_and_is_upgraded_at_the_next_sign_in(container: Container) -> None:
    """Hashes written before the cost was stored (N=2**14, ``scrypt$salt$digest``) keep working."""
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(b"legacy-password", salt=salt, n=2**14, r=8, p=1)
    legacy = "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()
    container.users.create("carol")
    with container.db.session() as s:
        s.execute(update(UserRow).where(UserRow.name == "carol").values(password_hash=legacy))
    users = UserStore(container.db)  # the default cost, as `sourcewise serve` uses
    assert users.authenticate("carol", "wrong-password") is None
    with container.db.session() as s:
        assert s.scalar(select(UserRow.password_hash).where(UserRow.name == "carol")) == legacy
    assert users.authenticate("carol", "legacy-password") is not None
    with container.db.session() as s:
        upgraded = s.scalar(select(UserRow.password_hash).where(UserRow.name == "carol"))
    assert upgraded.startswith("scrypt$n=131072,r=8,p=1$") and check_password("legacy-password", upgraded)
    assert users.authenticate("carol", "legacy-password") is not None


@pytest.mark.parametrize("stored", ["scrypt$n=4194304,r=8,p=1$c2FsdA==$ZGlnZXN0", "scrypt$n=x$a$b", "bcrypt$x",
                                    "scrypt$only-two"])
def test_a_hostile_or_foreign_hash_is_refused_without_hashing(stored: str) -> None:
    assert check_password("anything", stored) is False


def test_a_catalog_from_before_upgrades_and_its_users_still_sign_in(tmp_path: Path) -> None:
    """Migration 0006 on a catalog with users at revision 0005: epoch 0, old hashes verify, then upgrade."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from assistant.catalog.db import MIGRATIONS_DIR, make_engine, migrate

    url = f"sqlite:///{tmp_path}/old.db"
    engine = make_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
    salt = b"fedcba9876543210"
    legacy = ("scrypt$" + base64.b64encode(salt).decode() + "$"
              + base64.b64encode(hashlib.scrypt(b"old-password", salt=salt, n=2**14, r=8, p=1)).decode())
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (name, password_hash, groups, aliases, is_admin, created_at) "
                          "VALUES ('olga', :h, '[]', '[]', 0, '2025-01-01 00:00:00')"), {"h": legacy})
    migrate(engine)
    engine.dispose()
    users = UserStore(Database(url), scrypt_n=2**14)
    assert users.get("olga").session_epoch == 0
    assert users.authenticate("olga", "old-password") is not None
