"""Sign-in identities (OAuth provider + subject), login attempts and sessions."""

from __future__ import annotations

from assistant.catalog.schema import Base  # noqa: F401
