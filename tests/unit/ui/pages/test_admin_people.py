"""Admin users and groups, and API tokens (plaintext shown once)."""

from __future__ import annotations

import re

from assistant.catalog.tokens import TokenStore
from tests.unit.ui.pages.conftest import Pages


def test_create_edit_and_disable_users(pages: Pages) -> None:
    pages.as_user("root")
    r = pages.post("/admin/users", {"name": "carol", "password": "carol-password", "display_name": "Carol",
                                    "groups": "eng, sre", "aliases": "@carol", "is_admin": ""})
    assert "Created carol" in pages.flash(r)
    users = pages.container.users
    assert users.authenticate("carol", "carol-password") is not None
    assert users.get("carol").groups == ("eng", "sre")
    pages.post("/admin/users/carol", {"groups": "eng", "aliases": "@carol, carol@example.com", "is_admin": "true"},
               form_page="/admin/users")
    carol = users.get("carol")
    assert (carol.groups, carol.aliases, carol.is_admin) == (("eng",), ("@carol", "carol@example.com"), True)
    pages.post("/admin/users/carol/password", {"password": "another-password"})
    assert users.authenticate("carol", "another-password") is not None
    pages.post("/admin/users/carol/disable")
    assert users.get("carol").disabled and users.authenticate("carol", "another-password") is None
    assert "disabled" in pages.get("/admin/users").text
    pages.post("/admin/users/carol/enable")
    assert not users.get("carol").disabled
    actions = [e.action for e in pages.container.audit.entries()][::-1]
    assert actions == ["user.create", "user.update", "user.password", "user.disable", "user.enable"]
    assert all("password" not in str(e.details).replace("'password': True", "") for e in pages.container.audit.entries())


def test_user_form_errors_come_back_as_messages(pages: Pages) -> None:
    pages.as_user("root")
    assert "too short" in pages.flash(pages.post("/admin/users", {"name": "dave", "password": "short"}))
    assert "already exists" in pages.flash(pages.post("/admin/users", {"name": "alice"}))
    assert pages.container.users.get("dave") is None


def test_admins_cannot_lock_themselves_out(pages: Pages) -> None:
    pages.as_user("root")
    assert "own account" in pages.flash(pages.post("/admin/users/root/disable"))
    assert "own admin rights" in pages.flash(pages.post("/admin/users/root", {"groups": "", "is_admin": ""}))
    root = pages.container.users.get("root")
    assert root.is_admin and not root.disabled


def test_token_plaintext_is_shown_once_and_works_until_revoked(pages: Pages) -> None:
    pages.as_user("root")
    r = pages.post("/admin/tokens", {"name": "ci-bot", "user": "alice", "groups": ""}, form_page="/admin/tokens")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    token = re.search(r'<code id="new-token">(sw_[A-Za-z0-9_-]+)</code>', r.text).group(1)
    store = TokenStore(pages.container.db)
    assert store.verify(token).groups == ("payments",)  # blank groups: the user's own
    listing = pages.get("/admin/tokens").text
    assert "ci-bot" in listing and token not in listing
    assert all(token not in str(e.details) for e in pages.container.audit.entries())
    pages.post("/admin/tokens/ci-bot/revoke")
    assert store.verify(token) is None
    assert "revoked" in pages.get("/admin/tokens").text
    assert [e.action for e in pages.container.audit.entries()][::-1] == ["token.create", "token.revoke"]


def test_token_for_admin_scope_and_explicit_groups(pages: Pages) -> None:
    pages.as_user("root")
    refused = pages.post("/admin/tokens", {"name": "ops", "user": "bob", "groups": "web", "is_admin": "true"})
    assert refused.status_code == 303 and "not an admin" in pages.flash(refused)  # bob is not an admin
    beyond = pages.post("/admin/tokens", {"name": "ops", "user": "bob", "groups": "web, eng"})
    assert "not in group(s) eng" in pages.flash(beyond)
    pages.post("/admin/tokens", {"name": "ops", "user": "root", "groups": "web, eng", "is_admin": "true"})
    [info] = TokenStore(pages.container.db).list()
    assert (info.user, info.groups, info.is_admin) == ("root", ("eng", "web"), True)
    bad = pages.post("/admin/tokens", {"name": "bad name", "user": "bob"})
    assert bad.status_code == 303 and "token name" in pages.flash(bad)
