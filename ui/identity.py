"""Who is calling: Chainlit's sign-in cookie, or the SSO proxy's header when trusted.

The chat, the owners' and admin pages and the chat data layer all need the same answer,
so it is worked out here once. Chainlit 2.12 keeps the signed-in user in an HS256 JWT
(``chainlit.auth.jwt.create_jwt``: the ``chainlit.user.User`` fields plus ``exp``)
signed with ``CHAINLIT_AUTH_SECRET``, in the ``access_token`` cookie (split into
``access_token_0``, ``_1``... when long; ``CHAINLIT_AUTH_COOKIE_NAME`` renames it), or
in an ``Authorization: Bearer`` header. This module reads it with PyJWT directly so
that importing it does not import (and configure) Chainlit.
"""

from __future__ import annotations

import contextvars
import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import jwt
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from assistant.settings import UiSettings
    from assistant.users import Account

log = logging.getLogger("sourcewise.ui")

SECRET_ENV = "CHAINLIT_AUTH_SECRET"
LOGIN_PATH = "/login"

# The identifier of whoever made the current HTTP or socket request ("" when nobody).
_caller: contextvars.ContextVar[str | None] = contextvars.ContextVar("sourcewise_ui_caller", default=None)


def login_url(next_path: str | None = None) -> str:
    """Where to send a browser that is not signed in (Chainlit's login page)."""
    del next_path  # Chainlit's login page has no "come back to" parameter
    return LOGIN_PATH


def cookie_name() -> str:
    return os.environ.get("CHAINLIT_AUTH_COOKIE_NAME", "access_token")


def token_from(cookies: Mapping[str, str], headers: Mapping[str, str]) -> str | None:
    """Chainlit's JWT from its cookie (whole or chunked), else a Bearer header that looks like one."""
    name = cookie_name()
    if cookies.get(name):
        return cookies[name]
    parts, i = [], 0
    while f"{name}_{i}" in cookies:
        parts.append(cookies[f"{name}_{i}"])
        i += 1
    if parts:
        return "".join(parts)
    auth = headers.get("authorization") or ""
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.count(".") == 2:  # a JWT, not an `sw_` API token
        return value.strip()
    return None


def decode_identifier(token: str | None) -> str | None:
    """The user identifier in a valid, unexpired Chainlit JWT; ``None`` otherwise."""
    secret = os.environ.get(SECRET_ENV)
    if not token or not secret:
        return None
    try:
        payload = jwt.decode(token, secret, algorithms=["HS256"])
    except jwt.PyJWTError:
        return None
    ident = payload.get("identifier")
    return ident if isinstance(ident, str) and ident else None


def header_user(headers: Mapping[str, str], ui: UiSettings) -> tuple[str, tuple[str, ...]] | None:
    """The proxy's user and groups, when header auth is on and the header is present."""
    if not ui.header_auth:
        return None
    name = (headers.get(ui.user_header.lower()) or headers.get(ui.user_header) or "").strip()
    if not name:
        return None
    raw = headers.get(ui.groups_header.lower()) or headers.get(ui.groups_header) or ""
    groups = tuple(sorted({g.strip() for g in raw.split(",") if g.strip()}))
    return name, groups


def caller_identifier(conn: HTTPConnection, ui: UiSettings | None) -> str | None:
    """The identifier behind a request: the trusted header first (when on), then the cookie."""
    if ui is not None:
        found = header_user(conn.headers, ui)
        if found is not None:
            return found[0]
    return decode_identifier(token_from(conn.cookies, conn.headers))


async def browser_user(request: Request, container: Any) -> Account | None:
    """The signed-in account behind a page request, or ``None`` (anonymous, disabled, unknown).

    Behind an SSO proxy (``settings.ui.header_auth``) the header wins and the account is
    created on first sight with the header's groups, as the chat does.
    """
    from starlette.concurrency import run_in_threadpool

    from assistant.users import UserStore

    ui = container.settings.ui
    users = getattr(container, "users", None) or UserStore(container.db)
    found = header_user(request.headers, ui)
    if found is not None:
        name, groups = found
        try:
            return await run_in_threadpool(users.ensure, name, groups=groups)  # type: ignore[no-any-return]
        except Exception:  # noqa: BLE001 - a bad header name is an anonymous caller
            log.warning("refused header user %r", name)
            return None
    ident = decode_identifier(token_from(request.cookies, request.headers))
    if ident is None:
        return None
    account = await run_in_threadpool(users.get, ident)
    if account is None or account.disabled:
        return None
    return account  # type: ignore[no-any-return]


def current_caller() -> str | None:
    """Who made the request being served (set by ``CallerMiddleware``); ``None`` outside one."""
    return _caller.get()


class CallerMiddleware:
    """Remembers who made each HTTP/websocket request for the chat data layer's ownership checks.

    Chainlit calls its data layer without saying for whom (its feedback endpoints once
    trusted any thread or step id), so the data layer asks ``current_caller()``. Calls
    made while serving a socket connection inherit the value, since the connection is
    served inside this middleware.
    """

    def __init__(self, app: ASGIApp, ui: UiSettings | None = None) -> None:
        self.app = app
        self.ui = ui

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        ident = caller_identifier(HTTPConnection(scope), self.ui)
        token = _caller.set(ident or "")
        try:
            await self.app(scope, receive, send)
        finally:
            _caller.reset(token)
