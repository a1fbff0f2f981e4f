from __future__ import annotations

import pytest

from assistant.errors import ConfigError, NotFoundError
from assistant.users import check_password, hash_password


def test_passwords_are_salted_hashes(world) -> None:
    a, b = hash_password("same-password"), hash_password("same-password")
    assert a != b and "same-password" not in a
    assert check_password("same-password", a) and not check_password("other-password", a)
    assert not check_password("x", None)


def test_authenticate_and_disable(world) -> None:
    assert world.users.authenticate("alice", "alice-password").groups == ("eng",)
    assert world.users.authenticate("alice", "wrong-password") is None
    assert world.users.authenticate("nobody", "alice-password") is None
    world.users.disable("alice")
    assert world.users.authenticate("alice", "alice-password") is None
    assert world.users.ensure("alice") is None  # a disabled user cannot come back through SSO


def test_bad_names_passwords_and_duplicates_are_refused(world) -> None:
    with pytest.raises(ConfigError, match="invalid user name"):
        world.users.create("<script>")
    with pytest.raises(ConfigError, match="too short"):
        world.users.create("carol", password="short")
    with pytest.raises(ConfigError, match="already exists"):
        world.users.create("alice")
    with pytest.raises(NotFoundError):
        world.users.set_groups("nobody", ["x"])


def test_ensure_creates_sso_users_and_refreshes_groups(world) -> None:
    dave = world.users.ensure("dave@example.com", groups=["ops", " ops", ""])
    assert dave.groups == ("ops",) and not dave.has_password
    assert world.users.ensure("dave@example.com", groups=["sre"]).groups == ("sre",)
    assert world.users.ensure("dave@example.com").groups == ("sre",)  # no header: groups kept


def test_account_handles_and_user(world) -> None:
    assert world.bob.handles() == {"bob", "@bob", "bob@example.com"}
    assert world.root.user().access_groups() is None  # admin: no filter
    assert world.alice.user().access_groups() == ["eng", "everyone"]
