"""People who sign in: passwords (scrypt), groups, admin flag and owner aliases.

Header (SSO proxy) and OAuth users have no password; header users are created on first
sight with ``ensure``, OAuth users by ``assistant.signin`` (keyed by provider and
subject, never by name). A disabled user can neither sign in nor be ensured back to
life. Each account has a session epoch: sessions signed in under an older epoch are
over, so a new password, disabling and logout end them (``bump_sessions``).

Password hashes are scrypt with the cost stored in the hash (``scrypt$n=...,r=8,p=1$salt$digest``),
so the cost can rise: older hashes (the original ``scrypt$salt$digest`` at N=2**14) still
verify and are re-hashed at the current cost on the next successful sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from assistant.catalog.db import Database
from assistant.catalog.schema import UserRow, utcnow
from assistant.errors import ConfigError, NotFoundError
from assistant.models import User

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}$")
SCRYPT_N = 2**17  # OWASP (2025): N=2**17, r=8, p=1 -> 128 MiB and ~0.5 s per hash
_SCRYPT_R, _SCRYPT_P = 8, 1
_LEGACY = {"n": 2**14, "r": 8, "p": 1}  # hashes written before the cost was stored
_MAX_N, _MAX_R, _MAX_P = 2**20, 32, 16
# Each hash holds 128 * N * r bytes; a burst of sign-ins must not take the machine's memory.
_HASHING = threading.BoundedSemaphore(4)
MIN_PASSWORD = 8


@dataclass(frozen=True)
class Account:
    name: str
    display_name: str | None
    groups: tuple[str, ...]
    is_admin: bool
    aliases: tuple[str, ...]
    has_password: bool
    disabled: bool
    session_epoch: int = 0

    def user(self) -> User:
        """The retrieval-side identity (groups drive the access filter)."""
        return User(self.name, groups=self.groups, is_admin=self.is_admin)

    def handles(self) -> set[str]:
        """Every string an owner field may use for this person, lowercased."""
        return {h.lower() for h in (self.name, f"@{self.name}", *self.aliases)}


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    with _HASHING:
        return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=129 * n * r * p + 2**20)


def hash_password(password: str, n: int = SCRYPT_N) -> str:
    salt = os.urandom(16)
    digest = _scrypt(password, salt, n, _SCRYPT_R, _SCRYPT_P)
    return (f"scrypt$n={n},r={_SCRYPT_R},p={_SCRYPT_P}$" + base64.b64encode(salt).decode() + "$"
            + base64.b64encode(digest).decode())


def _params(stored: str) -> tuple[dict[str, int], bytes, bytes] | None:
    """Cost, salt and digest of a stored hash (either format); ``None`` when it is not one."""
    parts = stored.split("$")
    try:
        if len(parts) == 3 and parts[0] == "scrypt":
            return dict(_LEGACY), base64.b64decode(parts[1]), base64.b64decode(parts[2])
        if len(parts) == 4 and parts[0] == "scrypt":
            cost = {k: int(v) for k, v in (kv.split("=", 1) for kv in parts[1].split(","))}
            if set(cost) != {"n", "r", "p"} or not (1 < cost["n"] <= _MAX_N and 0 < cost["r"] <= _MAX_R
                                                    and 0 < cost["p"] <= _MAX_P):
                return None
            return cost, base64.b64decode(parts[2]), base64.b64decode(parts[3])
    except (ValueError, TypeError):
        return None
    return None


def check_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    parsed = _params(stored)
    if parsed is None:
        return False
    cost, salt, digest = parsed
    return hmac.compare_digest(_scrypt(password, salt, cost["n"], cost["r"], cost["p"]), digest)


def needs_rehash(stored: str | None, n: int = SCRYPT_N) -> bool:
    """Whether a stored hash was made at another cost than the current one."""
    parsed = _params(stored or "")
    return parsed is None or parsed[0] != {"n": n, "r": _SCRYPT_R, "p": _SCRYPT_P}


_DUMMY: dict[int, str] = {}


def _spend_like_a_check(password: str, n: int) -> None:
    """Hash once for an unknown name, so a wrong name takes as long as a wrong password."""
    if n not in _DUMMY:
        _DUMMY[n] = hash_password(os.urandom(12).hex(), n)
    check_password(password, _DUMMY[n])


def _groups(values: Sequence[str]) -> list[str]:
    return sorted({g.strip() for g in values if g and g.strip()})


def _account(row: UserRow) -> Account:
    return Account(row.name, row.display_name, tuple(row.groups or ()), row.is_admin,
                   tuple(row.aliases or ()), row.password_hash is not None, row.disabled_at is not None,
                   int(row.session_epoch or 0))


def valid_name(name: str) -> bool:
    """Whether ``name`` may be a user name (letters, digits and ``. _ @ + -``, at most 200)."""
    return bool(_NAME.match(name or ""))


class UserStore:
    def __init__(self, db: Database, *, scrypt_n: int = SCRYPT_N) -> None:
        self.db = db
        self.scrypt_n = scrypt_n

    def create(self, name: str, *, password: str | None = None, groups: Sequence[str] = (),
               is_admin: bool = False, aliases: Sequence[str] = (), display_name: str | None = None) -> Account:
        if not _NAME.match(name or ""):
            raise ConfigError(f"invalid user name {name!r}: letters, digits and . _ @ + - only")
        if password is not None:
            _check_strength(password)
        with self.db.session() as s:
            if s.scalar(select(UserRow).where(UserRow.name == name)) is not None:
                raise ConfigError(f"user {name!r} already exists")
            row = UserRow(name=name, display_name=display_name, groups=_groups(groups), is_admin=is_admin,
                          aliases=_groups(aliases),
                          password_hash=hash_password(password, self.scrypt_n) if password else None)
            s.add(row)
            s.flush()
            return _account(row)

    def get(self, name: str) -> Account | None:
        with self.db.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.name == name))
            return _account(row) if row else None

    def require(self, name: str) -> Account:
        account = self.get(name)
        if account is None:
            raise NotFoundError(f"no user {name!r}; `sourcewise user list` shows who exists")
        return account

    def list(self) -> list[Account]:
        with self.db.session() as s:
            return [_account(r) for r in s.scalars(select(UserRow).order_by(UserRow.name))]

    def count(self) -> int:
        with self.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(UserRow)) or 0)

    def authenticate(self, name: str, password: str) -> Account | None:
        """The account for a correct name and password; ``None`` otherwise (never says which was wrong).

        An unknown name costs one hash like a wrong password, so timing does not tell them
        apart; a hash at an older cost is replaced by one at the current cost.
        """
        with self.db.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.name == name))
            if row is None or row.password_hash is None:
                _spend_like_a_check(password, self.scrypt_n)
                return None
            if not check_password(password, row.password_hash) or row.disabled_at is not None:
                return None
            if needs_rehash(row.password_hash, self.scrypt_n):
                row.password_hash = hash_password(password, self.scrypt_n)
            row.last_login_at = utcnow()
            return _account(row)

    def ensure(self, name: str, *, groups: Sequence[str] | None = None, is_admin: bool = False) -> Account | None:
        """A proxy- or OAuth-authenticated user: created on first sight, groups refreshed when given.

        Returns ``None`` for a disabled user.
        """
        with self.db.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.name == name))
            if row is None:
                if not _NAME.match(name or ""):
                    raise ConfigError(f"invalid user name {name!r}")
                row = UserRow(name=name, groups=_groups(groups or ()), is_admin=is_admin, aliases=[])
                s.add(row)
            elif row.disabled_at is not None:
                return None
            elif groups is not None:
                row.groups = _groups(groups)
            row.last_login_at = utcnow()
            s.flush()
            return _account(row)

    def _update(self, name: str, **fields: object) -> Account:
        with self.db.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.name == name))
            if row is None:
                raise NotFoundError(f"no user {name!r}")
            for key, value in fields.items():
                setattr(row, key, (row.session_epoch or 0) + 1 if value is _BUMP else value)
            s.flush()
            return _account(row)

    def set_password(self, name: str, password: str) -> Account:
        """A new password ends every session signed in with the old one."""
        _check_strength(password)
        return self._update(name, password_hash=hash_password(password, self.scrypt_n), session_epoch=_BUMP)

    def set_groups(self, name: str, groups: Sequence[str]) -> Account:
        return self._update(name, groups=_groups(groups))

    def set_admin(self, name: str, is_admin: bool) -> Account:
        return self._update(name, is_admin=is_admin)

    def set_aliases(self, name: str, aliases: Sequence[str]) -> Account:
        return self._update(name, aliases=_groups(aliases))

    def disable(self, name: str) -> Account:
        """Block sign-in and end the user's sessions (API tokens stop working too: ``TokenStore.verify``)."""
        return self._update(name, disabled_at=utcnow(), session_epoch=_BUMP)

    def bump_sessions(self, name: str) -> Account:
        """End every session of ``name`` (logout): the next request needs a new sign-in."""
        return self._update(name, session_epoch=_BUMP)

    def session_valid(self, name: str, epoch: int) -> Account | None:
        """The enabled account whose sessions are at ``epoch``; ``None`` when the session is over."""
        account = self.get(name)
        if account is None or account.disabled or account.session_epoch != epoch:
            return None
        return account

    def enable(self, name: str) -> Account:
        return self._update(name, disabled_at=None)


_BUMP = object()  # ``_update`` value: one more than the stored session epoch


def _check_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"password too short: at least {MIN_PASSWORD} characters")
