"""OAuth never takes over a local account: identities are keyed by provider and subject, admitted
only from allowed organisations or e-mail domains, and audited (issue 17, failure 2; promise 2)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.security.identity_support import make_container  # first: keeps Chainlit's files in a temp dir

from assistant.signin import OAuthProfile, SignInService, oauth_local_name  # noqa: I001
from ui import auth, identity, runtime


def with_auth(rt: Any, **fields: Any) -> None:
    s = rt.container.settings
    rt.container.settings = s.model_copy(update={"auth": s.auth.model_copy(update=fields)})


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[runtime.UiRuntime]:
    container = make_container(tmp_path / "home", auth={"oauth_allowed_domains": ["example.com"],
                                                        "oauth_allowed_orgs": ["acme"]})
    installed = runtime.install(container, answerer=object(), retriever=object())
    auth.ensure_initial_admin(installed.users, tmp_path / "home", stream=io.StringIO())  # the first-run `admin`
    installed.users.create("root", password="root-password", is_admin=True)
    yield installed
    runtime.uninstall()
    container.close()


def cl_user(identifier: str) -> Any:
    from chainlit.user import User

    return User(identifier=identifier)


def github(login: str, subject: int | str, *, emails: tuple[tuple[str, bool], ...] = (("x@example.com", True),)
           ) -> dict[str, Any]:
    """GitHub's user data as Chainlit's provider hands it over (``/user`` plus ``/user/emails``)."""
    return {"id": subject, "login": login, "emails": [{"email": e, "verified": v, "primary": True} for e, v in emails]}


def sign_in(provider: str, raw: dict[str, Any], identifier: str, address: str | None = None) -> Any:
    """Chainlit's OAuth callback, as its ``/auth/oauth/<provider>/callback`` route calls it."""
    async def run() -> Any:
        if address is None:
            return await auth.oauth_login(provider, "provider-token", raw, cl_user(identifier))
        token = identity._client.set(address)  # what CallerMiddleware sets for the callback's request
        try:
            return await auth.oauth_login(provider, "provider-token", raw, cl_user(identifier))
        finally:
            identity._client.reset(token)

    return asyncio.run(run())


def test_a_provider_login_named_like_a_local_admin_gets_an_account_of_its_own(rt: Any) -> None:
    """Regression: a GitHub user called ``admin`` or ``root`` signed in as the local admin."""
    for login in ("admin", "root"):
        user = sign_in("github", github(login, 9000 + len(login)), login)
        assert user.identifier == f"{login}@github"
        assert user.metadata["is_admin"] is False
        local = rt.users.get(login)
        assert local.is_admin and local.has_password  # untouched, still the only way in as admin
        new = rt.users.get(f"{login}@github")
        assert not new.is_admin and new.groups == () and not new.has_password


def test_the_subject_not_the_login_finds_the_account(rt: Any) -> None:
    first = sign_in("github", github("alice", 42), "alice")
    assert first.identifier == "alice@github"
    rt.users.set_groups("alice@github", ["payments"])
    renamed = sign_in("github", github("alice-renamed", 42), "alice-renamed")  # same person, new login
    assert renamed.identifier == "alice@github" and rt.users.get("alice@github").groups == ("payments",)
    other = sign_in("github", github("alice", 43), "alice")  # someone else took the login
    assert other.identifier == "alice-2@github" and rt.users.get("alice-2@github").groups == ()
    google = sign_in("google", {"id": "42", "email": "alice@example.com", "verified_email": True},
                     "alice@example.com")
    assert google.identifier == "alice@google"  # the same subject at another provider is another identity


def test_an_oauth_identity_is_never_merged_into_an_account_made_another_way(rt: Any) -> None:
    rt.users.create("bob@github", password="bob-password")  # an admin happened to pick that name
    rt.users.ensure("carol", groups=["ops"])  # an SSO-proxy account
    bob = sign_in("github", github("bob", 7), "bob")
    carol = sign_in("github", github("carol", 8), "carol")
    assert (bob.identifier, carol.identifier) == ("bob-2@github", "carol@github")
    assert rt.users.authenticate("bob@github", "bob-password") is not None
    assert rt.users.get("carol").groups == ("ops",) and rt.users.get("carol@github").groups == ()


def test_without_an_allow_list_every_oauth_sign_in_is_refused_with_a_clear_message(
        rt: Any, caplog: pytest.LogCaptureFixture) -> None:
    with_auth(rt, oauth_allowed_domains=[], oauth_allowed_orgs=[])
    with caplog.at_level(logging.ERROR, logger="sourcewise.signin"):
        assert sign_in("github", github("dana", 11), "dana") is None
    assert "SOURCEWISE_AUTH__OAUTH_ALLOWED_DOMAINS" in caplog.text
    assert rt.users.get("dana@github") is None
    [entry] = rt.container.audit.entries(action="login.failure")
    assert entry.details["reason"] == "no OAuth allow-list is configured" and entry.details["provider"] == "github"


@pytest.mark.parametrize("provider,raw,admitted", [
    ("github", github("e", 1, emails=(("e@example.com", False),)), False),  # unverified
    ("github", github("e", 2, emails=(("e@other.org", True),)), False),
    ("github", github("e", 3, emails=(("e@example.com.evil.org", True),)), False),
    ("github", github("e", 4, emails=(("e@evil-example.com", True),)), False),
    ("github", github("e", 5, emails=(("e@other.org", True), ("e@Example.COM", True))), True),
    ("okta", {"sub": "00u1", "email": "e@example.com", "email_verified": True}, True),
    ("aws-cognito", {"sub": "c1", "email": "e@example.com", "email_verified": "true"}, True),
    ("keycloak", {"sub": "k1", "email": "e@example.com"}, False),  # no email_verified claim
    ("google", {"id": "g1", "email": "e@example.com", "verified_email": False}, False),
    ("azure-ad", {"id": "a1", "userPrincipalName": "e@example.com", "mail": "e@example.com"}, True),
    ("azure-ad", {"id": "a2", "userPrincipalName": "e@tenant.onmicrosoft.com", "mail": "e@example.com"}, False),
])
def test_only_a_verified_e_mail_in_an_allowed_domain_admits(rt: Any, provider: str, raw: dict[str, Any],
                                                            admitted: bool) -> None:
    user = sign_in(provider, raw, "e@example.com" if provider != "github" else "e")
    assert (user is not None) == admitted


def test_an_identity_without_a_stable_subject_is_refused(rt: Any) -> None:
    assert sign_in("github", {"login": "eve", "emails": [{"email": "eve@example.com", "verified": True}]}, "eve") is None
    assert [u.name for u in rt.users.list()] == ["admin", "root"]


class _Orgs(BaseHTTPRequestHandler):
    seen: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        _Orgs.seen.append(self.headers.get("Authorization"))
        body = json.dumps([{"login": "acme"}, {"login": "other"}] if self.path.startswith("/user/orgs") else [])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


def test_github_organisations_come_from_the_api_and_admit_members(rt: Any) -> None:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Orgs)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        orgs = asyncio.run(auth.github_orgs("gho_secret", f"http://127.0.0.1:{srv.server_port}/user"))
    finally:
        srv.shutdown()
    assert orgs == ("acme", "other") and _Orgs.seen == ["token gho_secret"]

    service = SignInService(rt.container.db, rt.users, rt.container.audit, rt.container.settings.auth)
    member = OAuthProfile("github", "77", "frank", orgs=("ACME",))  # no e-mail at all: the org admits
    assert service.oauth(member, address=None).name == "frank@github"
    outsider = OAuthProfile("github", "78", "grace", orgs=("other",))
    assert service.oauth(outsider, address=None) is None


def test_register_asks_github_for_organisations_only_when_they_are_allowed(
        rt: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from chainlit.oauth_providers import get_oauth_provider

    monkeypatch.setenv("OAUTH_GITHUB_CLIENT_ID", "id")
    monkeypatch.setenv("OAUTH_GITHUB_CLIENT_SECRET", "secret")
    provider = get_oauth_provider("github")
    monkeypatch.setitem(provider.authorize_params, "scope", "user:email")
    assert "oauth" in auth.register(rt.settings)
    assert provider.authorize_params["scope"].split() == ["user:email", "read:org"]


def test_a_disabled_oauth_account_is_refused(rt: Any) -> None:
    assert sign_in("github", github("heidi", 90), "heidi").identifier == "heidi@github"
    rt.users.disable("heidi@github")
    assert sign_in("github", github("heidi", 90), "heidi") is None


def test_oauth_sign_ins_and_new_accounts_are_audited(rt: Any) -> None:
    sign_in("github", github("ivan", 123), "ivan", address="198.51.100.7")
    sign_in("github", github("ivan", 123), "ivan", address="198.51.100.8")
    entries = rt.container.audit.entries()[::-1]
    assert [e.action for e in entries] == ["user.auto_create", "login.success", "login.success"]
    created = entries[0]
    assert (created.target, created.details["provider"], created.details["subject"]) == ("ivan@github", "github", "123")
    assert [e.details["address"] for e in entries[1:]] == ["198.51.100.7", "198.51.100.8"]
    assert all(e.details["provider"] == "github" for e in entries)
    assert all("provider-token" not in json.dumps(e.details) for e in entries)


def test_local_names_are_safe_and_never_an_existing_one() -> None:
    assert oauth_local_name("github", "root") == "root@github"
    assert oauth_local_name("google", "alice@example.com") == "alice@google"
    assert oauth_local_name("github", "root", {"root@github"}) == "root-2@github"
    assert oauth_local_name("keycloak", "<script>") == "script@keycloak"
    assert oauth_local_name("github", "") == "user@github"
