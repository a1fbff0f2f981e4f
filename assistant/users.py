"""People who sign in: passwords (scrypt), groups, admin flag and owner aliases.

Header (SSO proxy) and OAuth users have no password; they are created on first sight
with ``ensure``. A disabled user can neither sign in nor be ensured back to life.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from assistant.catalog.db import Database
from assistant.catalog.schema import UserRow, utcnow
from assistant.errors import ConfigError, NotFoundError
from assistant.models import User

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
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

    def user(self) -> User:
        """The retrieval-side identity (groups drive the access filter)."""
        return User(self.name, groups=self.groups, is_admin=self.is_admin)

    def handles(self) -> set[str]:
        """Every string an owner field may use for this person, lowercased."""
        return {h.lower() for h in (self.name, f"@{self.name}", *self.aliases)}


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt, digest = stored.split("$", 2)
    got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), **_SCRYPT)
    return hmac.compare_digest(got, base64.b64decode(digest))


def _groups(values: Sequence[str]) -> list[str]:
    return sorted({g.strip() for g in values if g and g.strip()})


def _account(row: UserRow) -> Account:
    return Account(row.name, row.display_name, tuple(row.groups or ()), row.is_admin,
                   tuple(row.aliases or ()), row.password_hash is not None, row.disabled_at is not None)


class UserStore:
    def __init__(self, db: Database) -> None:
        self.db = db

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
                          aliases=_groups(aliases), password_hash=hash_password(password) if password else None)
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
        """The account for a correct name and password; ``None`` otherwise (never says which was wrong)."""
        with self.db.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.name == name))
            if row is None or row.disabled_at is not None or not check_password(password, row.password_hash):
                return None
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
                setattr(row, key, value)
            s.flush()
            return _account(row)

    def set_password(self, name: str, password: str) -> Account:
        _check_strength(password)
        return self._update(name, password_hash=hash_password(password))

    def set_groups(self, name: str, groups: Sequence[str]) -> Account:
        return self._update(name, groups=_groups(groups))

    def set_admin(self, name: str, is_admin: bool) -> Account:
        return self._update(name, is_admin=is_admin)

    def set_aliases(self, name: str, aliases: Sequence[str]) -> Account:
        return self._update(name, aliases=_groups(aliases))

    def disable(self, name: str) -> Account:
        return self._update(name, disabled_at=utcnow())

    def enable(self, name: str) -> Account:
        return self._update(name, disabled_at=None)


def _check_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"password too short: at least {MIN_PASSWORD} characters")
