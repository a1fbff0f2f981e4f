"""Parsing shared by the CLI's commands."""

from __future__ import annotations


def parse_groups(value: str | None) -> list[str]:
    """``"eng, sre,eng"`` -> ``["eng", "sre"]``: comma-separated, trimmed, unique, sorted."""
    return sorted({g.strip() for g in (value or "").split(",") if g.strip()})
