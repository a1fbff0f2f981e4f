"""API bearer tokens: create, list, revoke, verify.

Only a SHA-256 of each token is stored, so a copy of the catalog does not hand out API
access. Tokens are 256 random bits, so a plain (unsalted) hash is enough: there is no
dictionary to attack, and the hash can be looked up through a unique index. The
plaintext is returned once, at creation.

A token acts for an existing user and never for more than that user may do now: every
use checks the user (disabled or gone: refused), keeps only the token's groups the user
still has (an admin user holds every group) and admin rights only while the user is an
admin. Creating a token for an unknown or disabled user, with groups the user lacks or
admin rights a non-admin lacks, is refused. Creation and revocation are audited when
an actor is given (every door gives one).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from assistant.catalog.db import Database
from assistant.catalog.schema import ApiTokenRow, UserRow, utcnow
from assistant.errors import ConfigError
from assistant.models import User

if TYPE_CHECKING:
    from assistant.audit import AuditLog

TOKEN_PREFIX = "sw_"
# Longer strings cannot be one of our tokens; refuse before hashing megabytes.
MAX_TOKEN_CHARS = 200
# last_used_at is written at most this often per token, so every request is not a write.
LAST_USED_RESOLUTION = timedelta(seconds=60)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: everything except the secret (which is not kept)."""

    id: int
    name: str
    user: str
    groups: tuple[str, ...]
    is_admin: bool
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _info(row: ApiTokenRow) -> TokenInfo:
    return TokenInfo(
        id=row.id, name=row.name, user=row.user_name, groups=tuple(row.groups or ()),
        is_admin=bool(row.is_admin), created_at=row.created_at, last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class TokenStore:
    """Token operations on the catalog; each method is one transaction."""

    def __init__(self, db: Database, audit: AuditLog | None = None) -> None:
        self.db = db
        self._audit = audit

    def _record(self, actor: str | None, action: str, target: str, details: dict[str, object]) -> None:
        if actor is None:
            return
        from assistant.audit import AuditLog

        (self._audit or AuditLog(self.db)).record(actor, action, target, details)

    def create(
        self, name: str, *, user: str, groups: Sequence[str] = (), is_admin: bool = False,
        actor: str | None = None,
    ) -> tuple[TokenInfo, str]:
        """Create a token; returns its info and the plaintext (shown once, never stored)."""
        if not _NAME.match(name):
            raise ConfigError(f"token name {name!r}: use letters, digits, '.', '_' or '-'")
        user = user.strip()
        if not user:
            raise ConfigError("a token needs a user: --user NAME")
        clean_groups = sorted({g.strip() for g in groups if g.strip()})
        plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.db.session() as s:
            owner = s.scalar(select(UserRow).where(UserRow.name == user))
            _check_owner(owner, user, clean_groups, is_admin)
            taken = s.scalar(
                select(ApiTokenRow.id).where(ApiTokenRow.name == name, ApiTokenRow.revoked_at.is_(None))
            )
            if taken is not None:
                raise ConfigError(
                    f"an active token named {name!r} exists; revoke it first (`sourcewise token revoke {name}`)"
                )
            row = ApiTokenRow(
                name=name, token_hash=hash_token(plaintext), user_name=user, groups=clean_groups,
                is_admin=is_admin, created_at=utcnow(),
            )
            s.add(row)
            s.flush()
            info = _info(row)
        self._record(actor, "token.create", info.name,
                     {"user": info.user, "groups": list(info.groups), "admin": info.is_admin})
        return info, plaintext

    def list(self, *, include_revoked: bool = True) -> list[TokenInfo]:
        with self.db.session() as s:
            stmt = select(ApiTokenRow).order_by(ApiTokenRow.name, ApiTokenRow.id)
            if not include_revoked:
                stmt = stmt.where(ApiTokenRow.revoked_at.is_(None))
            return [_info(r) for r in s.scalars(stmt)]

    def revoke(self, name: str, *, actor: str | None = None) -> int:
        """Revoke the active token(s) named ``name``; returns how many were revoked."""
        now = utcnow()
        with self.db.session() as s:
            rows = list(s.scalars(
                select(ApiTokenRow).where(ApiTokenRow.name == name, ApiTokenRow.revoked_at.is_(None))
            ))
            for row in rows:
                row.revoked_at = now
        if not rows:
            active = ", ".join(t.name for t in self.list(include_revoked=False)) or "none"
            raise ConfigError(f"no active token named {name!r} (active tokens: {active})")
        self._record(actor, "token.revoke", name, {"count": len(rows)})
        return len(rows)

    def verify(self, token: str) -> User | None:
        """The user a token stands for now, or ``None`` (unknown or revoked token, disabled or gone user)."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        digest = hash_token(token)
        now = utcnow()
        with self.db.session() as s:
            row = s.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == digest))
            # The index lookup already matched; compare again in constant time so the
            # decision never rests on a short-circuiting string comparison.
            if row is None or not hmac.compare_digest(row.token_hash, digest):
                return None
            if row.revoked_at is not None:
                return None
            owner = s.scalar(select(UserRow).where(UserRow.name == row.user_name))
            if owner is None or owner.disabled_at is not None:
                return None
            if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
                row.last_used_at = now
            held = set(owner.groups or ())
            groups = tuple(g for g in (row.groups or ()) if owner.is_admin or g in held)
            return User(name=row.user_name, groups=groups, is_admin=bool(row.is_admin and owner.is_admin))


def _check_owner(owner: UserRow | None, user: str, groups: Sequence[str], is_admin: bool) -> None:
    """Refuse a token that would act for nobody, for a disabled user, or beyond the user's rights."""
    if owner is None:
        raise ConfigError(f"no user {user!r}: a token acts for an existing user "
                          f"(`sourcewise user add {user} --no-password` creates one)")
    if owner.disabled_at is not None:
        raise ConfigError(f"user {user!r} is disabled; enable them first (`sourcewise user set {user} --enable`)")
    if is_admin and not owner.is_admin:
        raise ConfigError(f"user {user!r} is not an admin, so a token for them cannot be one")
    missing = sorted(set(groups) - set(owner.groups or ())) if not owner.is_admin else []
    if missing:
        raise ConfigError(f"user {user!r} is not in group(s) {', '.join(missing)}; a token carries at most "
                          f"its user's groups (`sourcewise user set {user} --groups ...`)")
