"""API bearer tokens: create, list, revoke, verify.

Only a SHA-256 of each token is stored, so a copy of the catalog does not hand out API
access. Tokens are 256 random bits, so a plain (unsalted) hash is enough: there is no
dictionary to attack, and the hash can be looked up through a unique index. The
plaintext is returned once, at creation.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from assistant.catalog.db import Database
from assistant.catalog.schema import ApiTokenRow, utcnow
from assistant.errors import ConfigError
from assistant.models import User

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

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self, name: str, *, user: str, groups: Sequence[str] = (), is_admin: bool = False
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
            return _info(row), plaintext

    def list(self, *, include_revoked: bool = True) -> list[TokenInfo]:
        with self.db.session() as s:
            stmt = select(ApiTokenRow).order_by(ApiTokenRow.name, ApiTokenRow.id)
            if not include_revoked:
                stmt = stmt.where(ApiTokenRow.revoked_at.is_(None))
            return [_info(r) for r in s.scalars(stmt)]

    def revoke(self, name: str) -> int:
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
        return len(rows)

    def verify(self, token: str) -> User | None:
        """The user a token stands for, or ``None`` for an unknown or revoked token."""
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
            if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
                row.last_used_at = now
            return User(name=row.user_name, groups=tuple(row.groups or ()), is_admin=bool(row.is_admin))
