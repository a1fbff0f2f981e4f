"""Sign-in callbacks, the generated secret and first admin, and who a page request comes from."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from starlette.requests import Request

from assistant.users import UserStore
from ui import auth, identity


def with_ui(rt: Any, **fields: Any) -> None:
    s = rt.container.settings
    rt.container.settings = s.model_copy(update={"ui": s.ui.model_copy(update=fields)})


def with_auth(rt: Any, **fields: Any) -> None:
    s = rt.container.settings
    rt.container.settings = s.model_copy(update={"auth": s.auth.model_copy(update=fields)})


def request(headers: dict[str, str] | None = None, cookies: dict[str, str] | None = None,
            client: str = "192.0.2.10") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if cookies:
        raw.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    return Request({"type": "http", "method": "GET", "path": "/owners", "headers": raw, "query_string": b"",
                    "client": (client, 50000)})


def test_secret_is_generated_once_and_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(identity.SECRET_ENV, raising=False)
    first = auth.ensure_auth_secret(tmp_path)
    assert len(first) >= 32 and (tmp_path / auth.SECRET_FILE).stat().st_mode & 0o777 == 0o600
    monkeypatch.delenv(identity.SECRET_ENV)
    assert auth.ensure_auth_secret(tmp_path) == first
    monkeypatch.setenv(identity.SECRET_ENV, "x" * 40)
    assert auth.ensure_auth_secret(tmp_path) == "x" * 40


def test_first_run_creates_an_admin_once(container: Any, tmp_path: Path) -> None:
    users = UserStore(container.db)
    out = io.StringIO()
    password = auth.ensure_initial_admin(users, tmp_path, stream=out)
    assert password and password in out.getvalue()
    path = tmp_path / auth.ADMIN_PASSWORD_FILE
    assert path.read_text().strip() == password and path.stat().st_mode & 0o777 == 0o600
    assert users.authenticate("admin", password).is_admin
    assert auth.ensure_initial_admin(users, tmp_path, stream=out) is None


def test_password_login(rt: Any) -> None:
    user = asyncio.run(auth.password_login("alice", "alice-password"))
    assert user.identifier == "alice" and user.metadata["provider"] == "credentials"
    assert asyncio.run(auth.password_login("alice", "wrong-password")) is None
    assert asyncio.run(auth.password_login("", "")) is None
    rt.users.disable("alice")
    assert asyncio.run(auth.password_login("alice", "alice-password")) is None


def test_header_login_only_when_trusted(rt: Any) -> None:
    headers = {"x-forwarded-user": "carol", "x-forwarded-groups": "eng, payments,,eng"}
    assert asyncio.run(auth.header_login(headers)) is None  # header auth is off by default
    assert rt.users.get("carol") is None
    with_ui(rt, header_auth=True)
    assert asyncio.run(auth.header_login(headers)) is None  # on, but the request is not from the proxy
    assert rt.users.get("carol") is None

    async def from_proxy(h: dict[str, str]) -> Any:  # what CallerMiddleware sets for a trusted peer
        token = identity._trusted.set(True)
        try:
            return await auth.header_login(h)
        finally:
            identity._trusted.reset(token)

    user = asyncio.run(from_proxy(headers))
    assert user.identifier == "carol" and user.metadata["groups"] == ["eng", "payments"]
    assert rt.users.get("carol").groups == ("eng", "payments")
    asyncio.run(from_proxy({"x-forwarded-user": "carol", "x-forwarded-groups": "ops"}))
    assert rt.users.get("carol").groups == ("ops",)
    assert asyncio.run(from_proxy({"x-forwarded-groups": "eng"})) is None


def test_oauth_login_creates_its_own_account_without_groups(rt: Any) -> None:
    from chainlit.user import User

    with_auth(rt, oauth_allowed_domains=["example.com"])
    raw = {"sub": "g-123", "email": "dana@example.com", "email_verified": True}
    user = asyncio.run(auth.oauth_login("google", "tok", raw, User(identifier="dana@example.com")))
    assert user.identifier == "dana@google"
    account = rt.users.get("dana@google")
    assert account.groups == () and not account.is_admin and not account.has_password
    assert rt.users.get("dana@example.com") is None


def _token(name: str, secret: str, exp_s: float = 600) -> str:
    return jwt.encode({"identifier": name, "metadata": {}, "exp": int(time.time() + exp_s)}, secret, "HS256")


def test_browser_user_from_chainlit_cookie(rt: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(identity.SECRET_ENV, "s" * 40)
    who = asyncio.run(identity.browser_user(request(cookies={"access_token": _token("alice", "s" * 40)}),
                                            rt.container))
    assert who.name == "alice"
    token = _token("bob", "s" * 40)
    chunked = {"access_token_0": token[:20], "access_token_1": token[20:]}
    assert asyncio.run(identity.browser_user(request(cookies=chunked), rt.container)).name == "bob"
    for cookies in ({"access_token": _token("alice", "other-secret" * 4)},
                    {"access_token": _token("alice", "s" * 40, exp_s=-60)}, {}):
        assert asyncio.run(identity.browser_user(request(cookies=cookies), rt.container)) is None
    rt.users.disable("alice")
    assert asyncio.run(identity.browser_user(request(cookies={"access_token": _token("alice", "s" * 40)}),
                                             rt.container)) is None
    assert identity.login_url() == "/login"


def test_browser_user_from_the_proxy_header(rt: Any) -> None:
    hdr = {"X-Forwarded-User": "erin", "X-Forwarded-Groups": "eng"}
    assert asyncio.run(identity.browser_user(request(headers=hdr), rt.container)) is None
    with_ui(rt, header_auth=True)
    assert asyncio.run(identity.browser_user(request(headers=hdr), rt.container)) is None  # no proxy configured
    with_auth(rt, trusted_proxies=["10.0.0.0/8"])
    assert asyncio.run(identity.browser_user(request(headers=hdr), rt.container)) is None  # not from the proxy
    who = asyncio.run(identity.browser_user(request(headers=hdr, client="10.1.2.3"), rt.container))
    assert who.name == "erin" and who.groups == ("eng",)
