"""Sign-in for the chat: passwords, an SSO proxy's header, OAuth; the first admin; the JWT secret.

Every path ends in a ``UserStore`` account, so groups (what a person may see) and the
admin flag have one home; Chainlit's ``User`` only carries the name and a copy of them
for display. Nothing here imports Chainlit at module level: the server must point
Chainlit at its config directory before the first import.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from ui import runtime
from ui.identity import SECRET_ENV, header_user

if TYPE_CHECKING:
    from chainlit.user import User as ChainlitUser

    from assistant.settings import Settings
    from assistant.users import Account, UserStore

log = logging.getLogger("sourcewise.ui")

SECRET_FILE = "chainlit-secret"
ADMIN_PASSWORD_FILE = "initial-admin-password"
ADMIN_NAME = "admin"


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to a new file only the owner can read (never briefly world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def ensure_auth_secret(home: Path) -> str:
    """``CHAINLIT_AUTH_SECRET`` from the environment, else one generated once under ``home``."""
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV]
    path = home / SECRET_FILE
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        secret = ""
    if len(secret) < 32:
        secret = secrets.token_urlsafe(48)
        _write_private(path, secret + "\n")
    os.environ[SECRET_ENV] = secret
    return secret


def ensure_initial_admin(users: UserStore, home: Path, *, stream: Any = None) -> str | None:
    """On first run (no users at all) create ``admin`` with a random password, shown once.

    The password is printed to stderr and written to ``<home>/initial-admin-password``
    (mode 0600) so a headless start can still be signed into. Returns it, or ``None``
    when users already exist.
    """
    if users.count() > 0:
        return None
    password = secrets.token_urlsafe(18)
    users.create(ADMIN_NAME, password=password, is_admin=True, display_name="Administrator")
    path = home / ADMIN_PASSWORD_FILE
    _write_private(path, password + "\n")
    print(f"Sourcewise: created user '{ADMIN_NAME}' with password {password}\n"
          f"  (also in {path}; change it with `sourcewise user set {ADMIN_NAME} --password`)",
          file=stream or sys.stderr, flush=True)
    return password


def chainlit_user(account: Account, provider: str) -> ChainlitUser:
    """The Chainlit user for an account (its metadata is for display, never for access)."""
    from chainlit.user import User

    return User(identifier=account.name, display_name=account.display_name or account.name,
                metadata={"provider": provider, "groups": list(account.groups), "is_admin": account.is_admin})


async def password_login(username: str, password: str) -> ChainlitUser | None:
    """Chainlit's password callback: ``UserStore.authenticate`` (disabled users are refused)."""
    if not username or not password or len(username) > 200 or len(password) > 1024:
        return None
    users = runtime.current().users
    account = await run_in_threadpool(users.authenticate, username.strip(), password)
    return chainlit_user(account, "credentials") if account is not None else None


async def header_login(headers: Mapping[str, str]) -> ChainlitUser | None:
    """Chainlit's header callback, trusted only when ``settings.ui.header_auth`` is on."""
    rt = runtime.current()
    found = header_user(headers, rt.settings.ui)
    if found is None:
        return None
    name, groups = found
    try:
        account = await run_in_threadpool(rt.users.ensure, name, groups=groups)
    except Exception as exc:  # noqa: BLE001 - e.g. a name the store refuses
        log.warning("header sign-in refused for %r: %s", name, exc)
        return None
    return chainlit_user(account, "header") if account is not None else None


async def oauth_login(provider_id: str, token: str, raw_user_data: Mapping[str, Any],
                      default_user: ChainlitUser, id_token: str | None = None) -> ChainlitUser | None:
    """Chainlit's OAuth callback: the provider vouched for the name; groups come from admins."""
    del token, raw_user_data, id_token
    name = (default_user.identifier or "").strip()
    if not name:
        return None
    try:
        account = await run_in_threadpool(runtime.current().users.ensure, name)
    except Exception as exc:  # noqa: BLE001
        log.warning("oauth sign-in refused for %r (%s): %s", name, provider_id, exc)
        return None
    return chainlit_user(account, provider_id) if account is not None else None


def anonymous_allowed(settings: Settings) -> bool:
    rt = runtime.current()
    return bool(rt.app_setting("allow_anonymous", settings.ui.allow_anonymous))


def register(settings: Settings) -> list[str]:
    """Register the sign-in callbacks this deployment allows; returns their names.

    With ``allow_anonymous`` no callback is registered, so Chainlit asks nobody to sign
    in and the chat answers from public sources only.
    """
    import chainlit as cl
    from chainlit.oauth_providers import get_configured_oauth_providers

    if anonymous_allowed(settings):
        return []
    cl.password_auth_callback(password_login)
    names = ["password"]
    if settings.ui.header_auth:
        cl.header_auth_callback(header_login)
        names.append("header")
    if get_configured_oauth_providers():
        cl.oauth_callback(oauth_login)
        names.append("oauth")
    return names
