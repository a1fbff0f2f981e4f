"""Sign-in for the chat: passwords, an SSO proxy's header, OAuth; the first admin; the JWT secret.

Every path ends in a ``UserStore`` account, so groups (what a person may see) and the
admin flag have one home; Chainlit's ``User`` only carries the name, the session epoch
and a copy of them for display. The decisions (throttling, the OAuth allow-list and
identity mapping, audit rows) are ``assistant.signin``'s; these callbacks translate
Chainlit's arguments. Nothing here imports Chainlit at module level: the server must
point Chainlit at its config directory before the first import.
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
from ui.identity import SECRET_ENV, header_identity, request_address, request_trusted

if TYPE_CHECKING:
    from chainlit.user import User as ChainlitUser

    from assistant.settings import Settings
    from assistant.signin import OAuthProfile, SignInService
    from assistant.users import Account, UserStore

log = logging.getLogger("sourcewise.ui")

SECRET_FILE = "chainlit-secret"
ADMIN_PASSWORD_FILE = "initial-admin-password"
ADMIN_NAME = "admin"
GITHUB_USER_URL = "https://api.github.com/user"


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
    """The Chainlit user for an account (its metadata is for display, never for access).

    ``sv`` is the account's session epoch: Chainlit copies the metadata into its JWT, and
    ``ui.identity`` refuses a JWT whose epoch is not the account's current one.
    """
    from chainlit.user import User

    return User(identifier=account.name, display_name=account.display_name or account.name,
                metadata={"provider": provider, "groups": list(account.groups), "is_admin": account.is_admin,
                          "sv": account.session_epoch})


def _service() -> SignInService:
    from ui.identity import _signin

    return _signin(runtime.current().container)  # type: ignore[no-any-return]


async def password_login(username: str, password: str) -> ChainlitUser | None:
    """Chainlit's password callback: throttled, audited ``UserStore.authenticate`` (disabled users are refused)."""
    if not username or not password or len(username) > 200 or len(password) > 1024:
        return None
    service = _service()
    account = await run_in_threadpool(service.password, username.strip(), password, address=request_address())
    return chainlit_user(account, "credentials") if account is not None else None


async def header_login(headers: Mapping[str, str]) -> ChainlitUser | None:
    """Chainlit's header callback: only for a request ``CallerMiddleware`` found to come from a trusted proxy."""
    rt = runtime.current()
    if not rt.settings.ui.header_auth or not request_trusted():
        return None
    found = header_identity(headers, rt.settings.ui)
    if found is None:
        return None
    name, groups = found
    try:
        account = await run_in_threadpool(_service().header, name, groups, address=request_address())
    except Exception as exc:  # noqa: BLE001 - e.g. a name the store refuses
        log.warning("header sign-in refused for %r: %s", name, exc)
        return None
    return chainlit_user(account, "header") if account is not None else None


def verified_emails(provider_id: str, raw: Mapping[str, Any]) -> tuple[str, ...]:
    """The e-mail addresses the provider says it verified (an unverified one admits nobody)."""
    out: list[str] = []
    for entry in raw.get("emails") or []:  # GitHub's /user/emails
        if isinstance(entry, dict) and entry.get("verified") is True and isinstance(entry.get("email"), str):
            out.append(entry["email"])
    email = raw.get("email")
    if isinstance(email, str) and (raw.get("email_verified") in (True, "true")  # OpenID Connect
                                   or raw.get("verified_email") is True):  # Google's userinfo v2
        out.append(email)
    upn = raw.get("userPrincipalName")  # Azure AD: a UPN's domain is one the tenant verified
    if provider_id.startswith("azure-ad") and isinstance(upn, str):
        out.append(upn)
    return tuple(dict.fromkeys(e.strip().lower() for e in out if "@" in e))


def oauth_profile(provider_id: str, raw: Mapping[str, Any], default_user: ChainlitUser,
                  orgs: tuple[str, ...] = ()) -> OAuthProfile:
    """What a provider's user data vouches for: a stable subject (``sub``, else ``id``/``oid``),
    verified e-mails, organisations (GitHub's fetched ones, GitLab's ``groups`` claim)."""
    from assistant.signin import OAuthProfile

    subject = next((str(raw[k]).strip() for k in ("sub", "id", "oid") if raw.get(k) not in (None, "")), "")
    login = (default_user.identifier or str(raw.get("login") or raw.get("email") or "")).strip()
    if provider_id == "gitlab" and isinstance(raw.get("groups"), list):
        orgs = (*orgs, *(g for g in raw["groups"] if isinstance(g, str)))
    name = raw.get("name")
    return OAuthProfile(provider=provider_id, subject=subject, login=login,
                        display_name=name if isinstance(name, str) and name.strip() else default_user.display_name,
                        emails=verified_emails(provider_id, raw), orgs=tuple(orgs))


async def github_orgs(token: str, user_info_url: str = GITHUB_USER_URL) -> tuple[str, ...]:
    """The organisations of a GitHub user (``GET /user/orgs``; needs the ``read:org`` scope ``register`` asks for)."""
    import httpx

    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(user_info_url.rstrip("/") + "/orgs", params={"per_page": 100},
                             headers={"Authorization": f"token {token}", "Accept": "application/vnd.github+json"})
        r.raise_for_status()
        data = r.json()
    return tuple(o["login"] for o in data if isinstance(o, dict) and isinstance(o.get("login"), str))


async def _provider_orgs(provider_id: str, token: str, settings: Settings) -> tuple[str, ...]:
    if provider_id != "github" or not settings.auth.oauth_allowed_orgs:
        return ()
    from chainlit.oauth_providers import get_oauth_provider

    provider = get_oauth_provider("github")
    try:
        return await github_orgs(token, getattr(provider, "user_info_url", None) or GITHUB_USER_URL)
    except Exception as exc:  # noqa: BLE001 - no organisations: only an allowed e-mail domain admits
        log.warning("could not read the GitHub user's organisations: %s", exc)
        return ()


async def oauth_login(provider_id: str, token: str, raw_user_data: Mapping[str, Any],
                      default_user: ChainlitUser, id_token: str | None = None) -> ChainlitUser | None:
    """Chainlit's OAuth callback: the provider's subject finds (or makes) the account; an allow-list admits.

    Never by name: a provider login ``admin`` is ``admin@github`` here, not the local admin.
    """
    del id_token
    rt = runtime.current()
    orgs = await _provider_orgs(provider_id, token, rt.settings)
    profile = oauth_profile(provider_id, raw_user_data or {}, default_user, orgs)
    try:
        account = await run_in_threadpool(_service().oauth, profile, address=request_address())
    except Exception as exc:  # noqa: BLE001
        log.warning("oauth sign-in refused for %r (%s): %s", profile.login, provider_id, exc)
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
    from chainlit.oauth_providers import get_configured_oauth_providers, get_oauth_provider

    if anonymous_allowed(settings):
        return []
    cl.password_auth_callback(password_login)
    names = ["password"]
    if settings.ui.header_auth:  # ui.server logs it when no proxy address or secret is set
        cl.header_auth_callback(header_login)
        names.append("header")
    if providers := get_configured_oauth_providers():
        if not settings.auth.oauth_allowed_orgs and not settings.auth.oauth_allowed_domains:
            log.error("OAuth is configured (%s) but no allow-list is: every OAuth sign-in will be refused. "
                      "Set SOURCEWISE_AUTH__OAUTH_ALLOWED_DOMAINS and/or SOURCEWISE_AUTH__OAUTH_ALLOWED_ORGS.",
                      ", ".join(providers))
        github = get_oauth_provider("github") if "github" in providers else None
        if github is not None and settings.auth.oauth_allowed_orgs:
            scope = github.authorize_params.get("scope", "")
            if "read:org" not in scope.split():
                github.authorize_params["scope"] = f"{scope} read:org".strip()
        cl.oauth_callback(oauth_login)
        names.append("oauth")
    return names
