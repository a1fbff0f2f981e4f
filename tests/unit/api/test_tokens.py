"""API tokens: only a hash is stored; revoked and unknown tokens map to no user."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from assistant.catalog.db import Database
from assistant.catalog.schema import ApiTokenRow, utcnow
from assistant.catalog.tokens import TokenStore, hash_token
from assistant.errors import ConfigError
from assistant.models import User
from assistant.users import UserStore


@pytest.fixture
def store(tmp_path: Path) -> TokenStore:
    db = Database(f"sqlite:///{tmp_path}/c.db")
    users = UserStore(db)  # a token acts for an existing user
    users.create("bot", groups=["eng", "payments"])
    users.create("alice", groups=["payments"])
    users.create("root", is_admin=True)
    users.create("u")
    return TokenStore(db)


def test_plaintext_is_never_stored(store: TokenStore, tmp_path: Path) -> None:
    info, token = store.create("ci", user="bot", groups=["eng", " payments ", "eng"])
    assert token.startswith("sw_") and len(token) > 40
    assert info.groups == ("eng", "payments")
    with store.db.engine.connect() as conn:
        rows = [tuple(str(v) for v in r) for r in conn.execute(text("SELECT * FROM api_tokens"))]
    assert len(rows) == 1
    assert not any(token in value or token[3:] in value for value in rows[0])
    assert hashlib.sha256(token.encode()).hexdigest() in rows[0]
    store.db.close()
    for f in tmp_path.glob("c.db*"):  # the database file and its WAL
        assert token.encode() not in f.read_bytes()


def test_verify_maps_token_to_user_and_records_use(store: TokenStore) -> None:
    _, alice = store.create("alice", user="alice", groups=["payments"])
    _, root = store.create("root", user="root", is_admin=True)
    assert store.verify(alice) == User("alice", ("payments",), False)
    assert store.verify(root) == User("root", (), True)
    assert store.list()[0].last_used_at is not None
    assert store.verify(alice + "x") is None
    assert store.verify("") is None
    assert store.verify("sw_" + "a" * 5000) is None
    assert store.verify(hash_token(alice)) is None  # the stored hash is not a credential


def test_last_used_is_refreshed_at_most_once_a_minute(store: TokenStore) -> None:
    _, tok = store.create("t", user="u")
    store.verify(tok)
    first = store.list()[0].last_used_at
    store.verify(tok)
    assert store.list()[0].last_used_at == first
    with store.db.session() as s:
        s.scalars(select(ApiTokenRow)).one().last_used_at = utcnow() - timedelta(minutes=5)
    old = store.list()[0].last_used_at
    store.verify(tok)
    assert store.list()[0].last_used_at > old


def test_revoke_refuses_the_token_and_frees_the_name(store: TokenStore) -> None:
    _, tok = store.create("laptop", user="alice")
    with pytest.raises(ConfigError, match="active token named 'laptop' exists"):
        store.create("laptop", user="alice")
    assert store.revoke("laptop") == 1
    assert store.verify(tok) is None
    with pytest.raises(ConfigError, match="no active token named 'laptop'"):
        store.revoke("laptop")
    _, tok2 = store.create("laptop", user="alice")
    assert store.verify(tok2) is not None and store.verify(tok) is None
    listed = store.list()
    assert [t.active for t in listed] == [False, True]
    assert [t.name for t in store.list(include_revoked=False)] == ["laptop"]


@pytest.mark.parametrize("name,user", [("", "u"), ("has space", "u"), ("-x", "u"), ("ok", "  ")])
def test_bad_names_and_users_are_refused(store: TokenStore, name: str, user: str) -> None:
    with pytest.raises(ConfigError):
        store.create(name, user=user)
