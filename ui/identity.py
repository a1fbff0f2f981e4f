"""Who is calling: Chainlit's sign-in cookie, or the SSO proxy's header when trusted.

The chat, the owners' and admin pages and the chat data layer all need the same answer,
so it is worked out here once. Chainlit 2.12 keeps the signed-in user in an HS256 JWT
(``chainlit.auth.jwt.create_jwt``: the ``chainlit.user.User`` fields plus ``exp`` and
``iat``) signed with ``CHAINLIT_AUTH_SECRET``, in the ``access_token`` cookie (split into
``access_token_0``, ``_1``... when long; ``CHAINLIT_AUTH_COOKIE_NAME`` renames it), or
in an ``Authorization: Bearer`` header. This module reads it with PyJWT directly so
that importing it does not import (and configure) Chainlit.

A valid signature is not enough: the JWT carries the account's session epoch
(``metadata.sv``, written by ``ui.auth.chainlit_user``), and a session is over once the
account's epoch moved on (logout, new password, disabled) or the account is gone.
``CallerMiddleware`` checks that for every HTTP request and socket connection and
removes a dead session's cookie before Chainlit sees it, so Chainlit's own
``get_current_user`` (REST routes, socket ``connect``) finds nobody signed in.

The proxy's user header is believed only from a trusted proxy: the immediate peer in
``settings.auth.trusted_proxies`` or a request carrying ``settings.auth.proxy_secret``.
From anyone else the middleware strips the header before anything reads it.

With anonymous chat allowed, each browser gets its own identity (``anonymous:<hash>``
of a random cookie), so anonymous visitors never share threads or feedback.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import ipaddress
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jwt
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from assistant.settings import Settings, UiSettings
    from assistant.users import Account, UserStore

log = logging.getLogger("sourcewise.ui")

SECRET_ENV = "CHAINLIT_AUTH_SECRET"
LOGIN_PATH = "/login"
ANON_COOKIE = "sw_anon"
ANON_PREFIX = "anonymous:"  # ':' is never in a user name, so no account can be mistaken for one
ANON_MAX_AGE_S = 30 * 86_400
ANON_SETTING_TTL_S = 2.0
_ANON_VALUE = re.compile(r"^[A-Za-z0-9_-]{32,128}$")

# The identifier of whoever made the current HTTP or socket request ("" when nobody).
_caller: contextvars.ContextVar[str | None] = contextvars.ContextVar("sourcewise_ui_caller", default=None)
# The client's address (behind a trusted proxy: the one its X-Forwarded-For names).
_client: contextvars.ContextVar[str | None] = contextvars.ContextVar("sourcewise_ui_client", default=None)
# Whether the request came from a trusted proxy (set by ``CallerMiddleware``).
_trusted: contextvars.ContextVar[bool] = contextvars.ContextVar("sourcewise_ui_proxy_trusted", default=False)


def login_url(next_path: str | None = None) -> str:
    """Where to send a browser that is not signed in (Chainlit's login page)."""
    del next_path  # Chainlit's login page has no "come back to" parameter
    return LOGIN_PATH


def cookie_name() -> str:
    return os.environ.get("CHAINLIT_AUTH_COOKIE_NAME", "access_token")


def _is_session_cookie(key: str) -> bool:
    name = cookie_name()
    return key == name or (key.startswith(name + "_") and key[len(name) + 1:].isdigit())


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
    return _bearer_jwt(headers.get("authorization") or "")


def _bearer_jwt(auth: str) -> str | None:
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip().count(".") == 2:  # a JWT, not an `sw_` API token
        return value.strip()
    return None


def session_claims(token: str | None) -> tuple[str, int] | None:
    """The identifier and session epoch in a valid, unexpired Chainlit JWT; ``None`` otherwise."""
    secret = os.environ.get(SECRET_ENV)
    if not token or not secret:
        return None
    try:
        payload = jwt.decode(token, secret, algorithms=["HS256"])
    except jwt.PyJWTError:
        return None
    ident = payload.get("identifier")
    meta = payload.get("metadata")
    epoch = meta.get("sv", 0) if isinstance(meta, dict) else 0
    if not isinstance(ident, str) or not ident or not isinstance(epoch, int) or isinstance(epoch, bool):
        return None
    return ident, epoch


def session_account(token: str | None, users: UserStore) -> Account | None:
    """The account of a live session: valid JWT, enabled account, current session epoch. Blocking."""
    claims = session_claims(token)
    if claims is None:
        return None
    return users.session_valid(*claims)


# -- the proxy -------------------------------------------------------------------------
def _networks(cidrs: Sequence[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(c, strict=False) for c in cidrs]


def _in(address: str | None, cidrs: Sequence[str]) -> bool:
    if not address or not cidrs:
        return False
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in _networks(cidrs))


def peer_address(conn: HTTPConnection) -> str | None:
    """The immediate peer (``sourcewise serve`` runs uvicorn without proxy-header rewriting)."""
    return conn.client.host if conn.client else None


def _secret_ok(headers: Mapping[str, str], settings: Settings) -> bool:
    secret = settings.auth.proxy_secret
    if secret is None:
        return False
    given = headers.get(settings.auth.proxy_secret_header.lower()) or ""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"),
                               secret.get_secret_value().encode("utf-8", "surrogateescape"))


def proxy_trusted(conn: HTTPConnection, settings: Settings) -> bool:
    """Header auth is on and the request came from a trusted proxy (peer address or shared secret)."""
    if not settings.ui.header_auth:
        return False
    if _trusted.get():
        return True
    return _in(peer_address(conn), settings.auth.trusted_proxies) or _secret_ok(conn.headers, settings)


def header_auth_problem(settings: Settings) -> str | None:
    """Why header auth cannot admit anyone as configured (a startup warning); ``None`` when it can."""
    if settings.ui.header_auth and not settings.auth.trusted_proxies and settings.auth.proxy_secret is None:
        return ("SOURCEWISE_UI__HEADER_AUTH is on but neither SOURCEWISE_AUTH__TRUSTED_PROXIES nor "
                "SOURCEWISE_AUTH__PROXY_SECRET is set: every header sign-in is refused. Name the proxy's "
                "address(es) or give it a shared secret header.")
    return None


def client_address(conn: HTTPConnection, settings: Settings | None) -> str | None:
    """The client's address: the peer, or behind a trusted proxy the first untrusted hop of X-Forwarded-For."""
    peer = peer_address(conn)
    cidrs = settings.auth.trusted_proxies if settings is not None else []
    if not _in(peer, cidrs):
        return peer
    hops = [h.strip() for h in (conn.headers.get("x-forwarded-for") or "").split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a garbled list: attribute the request to the proxy itself
        if not _in(hop, cidrs):
            return hop
    return peer


def request_address() -> str | None:
    """The client address of the request being served (``CallerMiddleware``); ``None`` outside one."""
    return _client.get()


def request_trusted() -> bool:
    """Whether the request being served came from a trusted proxy (``CallerMiddleware``)."""
    return _trusted.get()


def header_identity(headers: Mapping[str, str], ui: UiSettings) -> tuple[str, tuple[str, ...]] | None:
    """The user and groups in the proxy's headers (whoever sent them: check the proxy first)."""
    name = (headers.get(ui.user_header.lower()) or headers.get(ui.user_header) or "").strip()
    if not name:
        return None
    raw = headers.get(ui.groups_header.lower()) or headers.get(ui.groups_header) or ""
    groups = tuple(sorted({g.strip() for g in raw.split(",") if g.strip()}))
    return name, groups


def header_user(conn: HTTPConnection, settings: Settings) -> tuple[str, tuple[str, ...]] | None:
    """The proxy's user and groups, when header auth is on and the request came from a trusted proxy."""
    if not proxy_trusted(conn, settings):
        return None
    return header_identity(conn.headers, settings.ui)


# -- anonymous visitors -------------------------------------------------------------------
def anonymous_name(value: str) -> str:
    """The identity of an anonymous browser's cookie value (the value itself is never shown)."""
    return ANON_PREFIX + hashlib.sha256(value.encode()).hexdigest()[:32]


def new_anonymous_name() -> str:
    """A fresh anonymous identity, owned by nobody else."""
    return anonymous_name(secrets.token_urlsafe(32))


def is_anonymous(name: str | None) -> bool:
    return bool(name) and str(name).startswith(ANON_PREFIX)


# -- who is calling ------------------------------------------------------------------------
def _signin(container: Any) -> Any:
    from assistant.audit import AuditLog
    from assistant.signin import SignInService
    from assistant.users import UserStore

    users = getattr(container, "users", None) or UserStore(container.db)
    audit = getattr(container, "audit", None) or AuditLog(container.db)
    return SignInService(container.db, users, audit, container.settings.auth)


async def browser_user(request: Request, container: Any) -> Account | None:
    """The signed-in account behind a page request, or ``None`` (anonymous, disabled, unknown, logged out).

    Behind a trusted SSO proxy (``settings.ui.header_auth``) the header wins and the
    account is created on first sight with the header's groups, as the chat does.
    """
    from assistant.users import UserStore

    settings = container.settings
    found = header_user(request, settings)
    if found is not None:
        name, groups = found
        service = _signin(container)
        try:
            return await run_in_threadpool(  # type: ignore[no-any-return]
                service.header, name, groups, address=client_address(request, settings), sign_in=False)
        except Exception:  # noqa: BLE001 - a bad header name is an anonymous caller
            log.warning("refused header user %r", name)
            return None
    token = token_from(request.cookies, request.headers)
    if token is None:
        return None
    users = getattr(container, "users", None) or UserStore(container.db)
    return await run_in_threadpool(session_account, token, users)


def current_caller() -> str | None:
    """Who made the request being served (set by ``CallerMiddleware``); ``None`` outside one."""
    return _caller.get()


def _scrub(scope: Scope, *, drop_proxy_user: bool, drop_session: bool, settings: Settings | None) -> Scope:
    """The scope without headers nobody downstream may believe: an untrusted client's proxy
    headers, the proxy secret, a dead session's cookie or Bearer JWT."""
    drop: set[bytes] = set()
    if settings is not None:
        drop.add(settings.auth.proxy_secret_header.lower().encode())
        if drop_proxy_user:
            drop |= {settings.ui.user_header.lower().encode(), settings.ui.groups_header.lower().encode()}
    headers: list[tuple[bytes, bytes]] = []
    for key, value in scope.get("headers") or []:
        k = key.lower()
        if k in drop:
            continue
        if drop_session and k == b"cookie":
            kept = [p for p in value.decode("latin-1").split(";")
                    if p.strip() and not _is_session_cookie(p.split("=", 1)[0].strip())]
            if not kept:
                continue
            value = ";".join(kept).strip().encode("latin-1")
        if drop_session and k == b"authorization" and _bearer_jwt(value.decode("latin-1")):
            continue
        headers.append((key, value))
    return {**scope, "headers": headers}


class CallerMiddleware:
    """Works out who made each HTTP/websocket request, once, before anything else sees it.

    Sets ``current_caller()`` (the chat data layer's ownership checks: Chainlit calls its
    data layer without saying for whom), ``request_address()`` and ``request_trusted()``;
    strips proxy headers a client sent itself and the cookie of a session that is over.
    Calls made while serving a socket connection inherit the values, since the connection
    is served inside this middleware.
    """

    def __init__(self, app: ASGIApp, settings: Settings | None = None,
                 users: Callable[[], UserStore] | None = None,
                 anonymous: Callable[[], bool] | None = None) -> None:
        self.app = app
        self.settings = settings
        self.users = users
        self.anonymous = anonymous
        self._anon_cache: tuple[float, bool] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        settings = self.settings
        conn = HTTPConnection(scope)
        trusted = settings is not None and proxy_trusted(conn, settings)
        address = client_address(conn, settings)
        found = header_identity(conn.headers, settings.ui) if trusted and settings is not None else None
        ident = found[0] if found else None
        dead_session = False
        if (token := token_from(conn.cookies, conn.headers)) is not None:
            # Checked even behind the proxy: Chainlit would otherwise accept a dead session's
            # JWT on its own (its get_current_user only verifies the signature).
            account = await run_in_threadpool(session_account, token, self.users()) if self.users else None
            if account is None or (ident is not None and account.name != ident):
                dead_session = True
            elif ident is None:
                ident = account.name
        scope = _scrub(scope, drop_proxy_user=bool(settings and settings.ui.header_auth and not trusted),
                       drop_session=dead_session, settings=settings)
        scope = _forwarded_scheme(scope, conn, settings)
        issue: str | None = None
        if ident is None:
            ident, issue = await self._anonymous(conn)
        tokens = (_caller.set(ident or ""), _client.set(address), _trusted.set(trusted))
        try:
            await self.app(scope, receive, _with_cookie(send, issue, settings) if issue else send)
        finally:
            _caller.reset(tokens[0])
            _client.reset(tokens[1])
            _trusted.reset(tokens[2])

    async def _anonymous(self, conn: HTTPConnection) -> tuple[str | None, str | None]:
        """An anonymous browser's own identity, and the cookie value to set when it is new."""
        value = conn.cookies.get(ANON_COOKIE) or ""
        if _ANON_VALUE.match(value):
            return anonymous_name(value), None
        if not await self._anonymous_allowed():
            return None, None
        value = secrets.token_urlsafe(32)
        # A socket cannot set a cookie: it still gets an identity of its own, for this connection.
        return anonymous_name(value), (value if conn.scope["type"] == "http" else None)


    async def _anonymous_allowed(self) -> bool:
        """The admin's ``allow_anonymous`` (a catalog read), remembered for a few seconds: API calls
        and health checks without cookies would otherwise each read it."""
        if self.anonymous is None:
            return False
        now = time.monotonic()
        if self._anon_cache is None or now - self._anon_cache[0] > ANON_SETTING_TTL_S:
            self._anon_cache = (now, bool(await run_in_threadpool(self.anonymous)))
        return self._anon_cache[1]


def _forwarded_scheme(scope: Scope, conn: HTTPConnection, settings: Settings | None) -> Scope:
    """Behind a trusted proxy that terminates TLS, the scheme it forwards (``X-Forwarded-Proto``), as
    uvicorn's proxy-header support would set it (``sourcewise serve`` turns that off; see ``peer_address``)."""
    if settings is None or not _in(peer_address(conn), settings.auth.trusted_proxies):
        return scope
    proto = (conn.headers.get("x-forwarded-proto") or "").split(",")[0].strip().lower()
    if proto not in ("http", "https"):
        return scope
    if scope["type"] == "websocket":
        proto = "wss" if proto == "https" else "ws"
    return {**scope, "scheme": proto}


def _with_cookie(send: Send, value: str, settings: Settings | None) -> Send:
    secure = bool(settings and settings.ui.public_url.lower().startswith("https://"))
    cookie = (f"{ANON_COOKIE}={value}; Path=/; Max-Age={ANON_MAX_AGE_S}; HttpOnly; SameSite=Lax"
              + ("; Secure" if secure else ""))

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie.encode())]}
        await send(message)

    return wrapped
