"""Redactions: what the secret and personal-data scanners removed before embedding, per file."""

from __future__ import annotations

from assistant.catalog.schema import Base  # noqa: F401
