"""CSRF protection for every POST form on the owner and admin pages.

The token is an HMAC of the signed-in account's name under a server secret: a page
from another site cannot read it (same-origin policy), so it cannot forge a form post
that carries it. The secret lives in the data directory (created once, mode 0600), so
tokens survive restarts and differ between deployments. Browsers that say a request
is cross-site (``Sec-Fetch-Site``) are refused outright as a second line.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request

from ui.pages.deps import PageForbidden, admin_account, container_of, current_account

FIELD = "csrf_token"
SECRET_FILE = "ui-secret.key"
_lock = threading.Lock()


def _load_secret(home: Path) -> bytes:
    path = home / SECRET_FILE
    with _lock:
        try:
            return bytes.fromhex(path.read_text().strip())
        except (FileNotFoundError, ValueError):
            pass
        home.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key.hex())
        os.replace(tmp, path)
        return key


def server_secret(request: Request) -> bytes:
    """The app's CSRF key (``app.state.csrf_secret`` wins, for tests and shared secrets)."""
    state = request.app.state
    key = getattr(state, "csrf_secret", None)
    if key is None:
        key = _load_secret(container_of(request).settings.home)
        state.csrf_secret = key
    return key  # type: ignore[no-any-return]


def csrf_token(request: Request, account: Any) -> str:
    """The hidden-field value for this account's forms."""
    msg = f"sourcewise-csrf:{account.name}".encode()
    return hmac.new(server_secret(request), msg, hashlib.sha256).hexdigest()


async def check_csrf(request: Request, account: Any) -> None:
    """Refuse the POST unless it carries this account's token (and is not cross-site)."""
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        raise PageForbidden("This form was posted from another site and was refused.")
    form = await request.form()  # cached by Starlette: the route's Form fields still work
    given = form.get(FIELD)
    if not isinstance(given, str) or not hmac.compare_digest(given, csrf_token(request, account)):
        raise PageForbidden("The form's security token is missing or wrong; reload the page and try again.")


async def checked_account(request: Request, account: Annotated[Any, Depends(current_account)]) -> Any:
    """The signed-in account, for POST routes: CSRF-checked."""
    await check_csrf(request, account)
    return account


async def checked_admin(request: Request, account: Annotated[Any, Depends(admin_account)]) -> Any:
    """An admin account, for admin POST routes: CSRF-checked."""
    await check_csrf(request, account)
    return account
