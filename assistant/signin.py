"""Sign-in decisions every door shares: passwords (throttled), the SSO proxy's header, OAuth.

The chat's Chainlit callbacks and the pages translate a request into a call here, so
the rules and the audit rows are the same whichever door is used (DESIGN rule 9):

- a password sign-in is throttled per account and per client address
  (``assistant.login_throttle``) and audited, success or failure, with the client
  address — never the password;
- an OAuth identity is keyed by provider and subject (the provider's stable user id),
  admitted only from the configured organisations or e-mail domains, and signs in only
  as the account created for it: a provider login ``root`` or ``admin`` never becomes
  the local ``root`` or ``admin``. A new OAuth account is named ``<login>@<provider>``
  (``root@github``; ``-2``, ``-3`` ... when taken), which no provider can choose for
  an existing account because the subject, not the name, finds it;
- accounts created on first sight (header, OAuth) are audited as ``user.auto_create``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from assistant.catalog.identity_schema import OAuthIdentityRow
from assistant.catalog.schema import UserRow, utcnow
from assistant.login_throttle import LoginThrottle
from assistant.users import Account, valid_name

if TYPE_CHECKING:
    from assistant.audit import AuditLog
    from assistant.catalog.db import Database
    from assistant.settings import AuthSettings
    from assistant.users import UserStore

log = logging.getLogger("sourcewise.signin")

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
MAX_SUBJECT = 300


@dataclass(frozen=True)
class OAuthProfile:
    """What a provider vouched for: its stable subject id, a login for the local name, the
    e-mail addresses it verified and the organisations the user belongs to."""

    provider: str
    subject: str
    login: str
    display_name: str | None = None
    emails: tuple[str, ...] = ()
    orgs: tuple[str, ...] = ()


def _clean(text: str, fallback: str) -> str:
    cleaned = _UNSAFE.sub("-", text or "").strip("-._+")[:80]
    return cleaned if cleaned and cleaned[0].isalnum() else fallback


def oauth_local_name(provider: str, login: str, taken: set[str] | None = None) -> str:
    """``<login>@<provider>`` made safe for a user name; ``-2``, ``-3``... when it is taken."""
    base, where = _clean(login.split("@", 1)[0] if "@" in login else login, "user"), _clean(provider, "oauth")
    for n in range(1, 1000):
        name = f"{base}@{where}" if n == 1 else f"{base}-{n}@{where}"
        if valid_name(name) and name not in (taken or set()):
            return name
    raise ValueError("no free name")  # 999 accounts with one login: never in practice


class SignInService:
    """Password, header and OAuth sign-in with throttling and audit rows."""

    def __init__(self, db: Database, users: UserStore, audit: AuditLog, settings: AuthSettings) -> None:
        self.db = db
        self.users = users
        self.audit = audit
        self.settings = settings
        self.throttle = LoginThrottle(db, max_account=settings.login_max_failures_account,
                                      max_address=settings.login_max_failures_address,
                                      window_s=settings.login_window_s)

    # -- audit ---------------------------------------------------------------------
    def _signed_in(self, account: Account, provider: str, address: str | None, **extra: object) -> None:
        self.audit.record(account.name, "login.success", account.name,
                          {"provider": provider, "address": address, **extra})

    def _refused(self, name: str, provider: str, address: str | None, reason: str, **extra: object) -> None:
        actor = (name or "?")[:200]
        self.audit.record(actor, "login.failure", actor,
                          {"provider": provider, "address": address, "reason": reason, **extra})

    # -- passwords -----------------------------------------------------------------
    def password(self, name: str, password: str, *, address: str | None) -> Account | None:
        """The account for a correct name and password, unless the account or address is throttled."""
        name = (name or "").strip()
        blocked = self.throttle.blocked(name, address)
        if blocked is not None:
            self._refused(name, "password", address, f"throttled ({blocked})")
            return None
        account = self.users.authenticate(name, password)
        if account is None:
            self.throttle.failed(name, address)
            self._refused(name, "password", address, "wrong name or password, or disabled")
            return None
        self.throttle.succeeded(name)
        self._signed_in(account, "password", address)
        return account

    # -- the SSO proxy's header ------------------------------------------------------
    def header(self, name: str, groups: Sequence[str], *, address: str | None,
               sign_in: bool = True) -> Account | None:
        """A user a trusted proxy vouched for: created on first sight, groups from the header.

        ``sign_in`` is false for the pages, which see the header on every request: only the
        chat's sign-in and account creation are audited, not every page view.
        """
        existed = self.users.get(name) is not None
        account = self.users.ensure(name, groups=groups)
        if account is None:
            if sign_in:
                self._refused(name, "header", address, "disabled")
            return None
        if not existed:
            self.audit.record(account.name, "user.auto_create", account.name,
                              {"provider": "header", "groups": list(account.groups), "address": address})
        if sign_in:
            self._signed_in(account, "header", address)
        return account

    # -- OAuth -----------------------------------------------------------------------
    def oauth_refusal(self, profile: OAuthProfile) -> str | None:
        """Why this identity may not sign in (no allow-list, outside it, no subject); ``None`` admits it."""
        if not profile.subject or len(profile.subject) > MAX_SUBJECT:
            return "the provider sent no stable user id"
        orgs, domains = set(self.settings.oauth_allowed_orgs), set(self.settings.oauth_allowed_domains)
        if not orgs and not domains:
            log.error("OAuth sign-in refused: no allow-list. Set SOURCEWISE_AUTH__OAUTH_ALLOWED_DOMAINS "
                      "and/or SOURCEWISE_AUTH__OAUTH_ALLOWED_ORGS to the e-mail domains or organisations "
                      "whose members may sign in.")
            return "no OAuth allow-list is configured"
        if orgs & {o.lower() for o in profile.orgs}:
            return None
        if domains & {e.rsplit("@", 1)[-1].lower() for e in profile.emails if "@" in e}:
            return None
        return "not in an allowed organisation or e-mail domain"

    def oauth(self, profile: OAuthProfile, *, address: str | None) -> Account | None:
        """The account of this provider identity (created on its first sign-in), if admitted."""
        label = f"{profile.login or '?'}@{profile.provider}"
        why = self.oauth_refusal(profile)
        if why is not None:
            log.warning("OAuth sign-in of %r refused: %s", label, why)
            self._refused(label, profile.provider, address, why, subject=profile.subject[:MAX_SUBJECT])
            return None
        name = self._identity_account(profile, address)
        account = self.users.get(name)
        if account is None or account.disabled:
            self._refused(name, profile.provider, address, "disabled")
            return None
        with self.db.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.name == name))
            if row is not None:
                row.last_login_at = utcnow()
        self._signed_in(account, profile.provider, address, subject=profile.subject)
        return account

    def _identity_account(self, profile: OAuthProfile, address: str | None) -> str:
        """The local account name of ``profile``'s identity, creating both on first sign-in."""
        for _ in range(3):  # a concurrent first sign-in of the same identity wins the race
            with self.db.session() as s:
                row = s.scalar(select(OAuthIdentityRow).where(OAuthIdentityRow.provider == profile.provider,
                                                              OAuthIdentityRow.subject == profile.subject))
                if row is not None:
                    row.last_login_at, row.login = utcnow(), (profile.login or None) and profile.login[:300]
                    return row.user_name
            try:
                return self._create_identity(profile, address)
            except IntegrityError:
                continue
        raise RuntimeError("could not record the OAuth identity")

    def _create_identity(self, profile: OAuthProfile, address: str | None) -> str:
        with self.db.session() as s:
            base = oauth_local_name(profile.provider, profile.login)
            stem = base.rsplit("@", 1)[0]
            taken = set(s.scalars(select(UserRow.name).where(UserRow.name.like(f"{stem}%"))))
            name = oauth_local_name(profile.provider, profile.login, taken)
            s.add(UserRow(name=name, display_name=(profile.display_name or profile.login or None),
                          groups=[], aliases=[], is_admin=False, password_hash=None))
            s.add(OAuthIdentityRow(provider=profile.provider, subject=profile.subject, user_name=name,
                                   login=(profile.login or None) and profile.login[:300], last_login_at=utcnow()))
        self.audit.record(name, "user.auto_create", name,
                          {"provider": profile.provider, "subject": profile.subject, "login": profile.login,
                           "address": address})
        return name

    # -- sessions ----------------------------------------------------------------------
    def logout(self, name: str, *, address: str | None) -> None:
        """End every session of ``name`` (the JWT of each carries an older epoch from now on)."""
        if self.users.get(name) is None:
            return
        self.users.bump_sessions(name)
        self.audit.record(name, "logout", name, {"address": address})
