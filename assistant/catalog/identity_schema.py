"""Sign-in identities (OAuth provider + subject) and failed sign-ins (login throttling)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from assistant.catalog.schema import Base, UTCDateTime, utcnow


class OAuthIdentityRow(Base):
    """An OAuth account (the provider's stable subject id) and the local user it signs in as.

    The provider's login or e-mail is never used to find a local account: an identity
    maps only to the account created for it on first sign-in (``assistant.signin``).
    """

    __tablename__ = "oauth_identities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(300))
    user_name: Mapped[str] = mapped_column(String(200), index=True)
    login: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("provider", "subject", name="uq_oauth_identities_provider_subject"),)


class LoginFailureRow(Base):
    """One failed password sign-in, counted against an account (``kind='account'``) or a client
    address (``kind='address'``) within a window; in the catalog so the count survives
    restarts and is shared by every worker."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # account | address
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_login_failures_key", "kind", "key", "at"),
        Index("ix_login_failures_at", "at"),
    )
