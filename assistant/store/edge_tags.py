"""Folded keyword fields: one ``_tags`` payload index instead of one index per field.

Why: an embedded segment build parses every payload once per payload index (py-spy,
2026-12-07), so each index is a full pass over the segment's payloads. The keyword fields
that are only ever matched exactly (filters, deletes, score-formula conditions; no HNSW
links) are also written as ``field=value`` strings into one ``_tags`` array with a single
index, and every condition on them becomes a match on ``_tags``. A condition means what it
meant: "``field`` holds any of these values" is "``_tags`` holds any of ``field=value``",
and a point without the field has no such tag. The fields themselves stay in the payload,
so reads are unchanged; ``_tags`` is removed from everything a read returns.

Which fields a shard folds is written next to it (``sourcewise_layout.json``) before the
shard is created; a shard without that file (created before 2026-12-07) matches fields
directly, as it always did.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from assistant.errors import StoreError

TAGS = "_tags"
LAYOUT_FILE = "sourcewise_layout.json"
LAYOUT_VERSION = 1


def tag(field: str, value: str) -> str:
    """``kind=code``: unambiguous, since no field name holds ``=``."""
    return f"{field}={value}"


@dataclass(frozen=True)
class TagLayout:
    """The keyword fields a shard folds into ``_tags`` (none: every field matched directly)."""

    fields: frozenset[str] = frozenset()

    @classmethod
    def load(cls, directory: Path) -> TagLayout:
        """The layout persisted with a shard; a shard without one folds nothing."""
        try:
            data = json.loads((directory / LAYOUT_FILE).read_text())
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read {directory / LAYOUT_FILE}: {exc}") from exc
        version = data.get("version") if isinstance(data, dict) else None
        if version != LAYOUT_VERSION:
            raise StoreError(f"{directory / LAYOUT_FILE} has layout version {version!r}; this "
                             f"Sourcewise reads version {LAYOUT_VERSION}: upgrade it, or rebuild the store")
        return cls(frozenset(str(f) for f in data.get("tag_fields") or ()))

    def save(self, directory: Path) -> None:
        """Write the layout atomically (a crash leaves the old file or the new one)."""
        target = directory / LAYOUT_FILE
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": LAYOUT_VERSION, "tag_fields": sorted(self.fields)}))
        os.replace(tmp, target)

    def condition(self, key: str, values: Sequence[str]) -> qe.FieldCondition:
        """"``key`` holds any of ``values``" as an engine condition."""
        if key in self.fields:
            return qe.FieldCondition(key=TAGS, match=qe.MatchAny([tag(key, str(v)) for v in values]))
        return qe.FieldCondition(key=key, match=qe.MatchAny(list(values)))

    def tags(self, payload: Mapping[str, Any]) -> list[str]:
        """The ``_tags`` of a payload: one per string value of each folded field."""
        out: list[str] = []
        for field in sorted(self.fields):
            value = payload.get(field)
            values: Iterable[Any] = value if isinstance(value, (list, tuple)) else (value,)
            out += [tag(field, v) for v in values if isinstance(v, str)]
        return out

    def with_tags(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The payload to store: the caller's (any ``_tags`` of theirs replaced) plus tags."""
        out = {k: v for k, v in payload.items() if k != TAGS}
        if self.fields:
            out[TAGS] = self.tags(out)
        return out

    def touches(self, payload: Mapping[str, Any]) -> bool:
        """Whether a payload update changes a folded field (so ``_tags`` must be rewritten)."""
        return any(k in self.fields for k in payload)


def strip_tags(payload: Mapping[str, Any] | None) -> dict[str, Any]:
    """A stored payload as callers see it: without ``_tags``."""
    if not payload:
        return {}
    return {k: v for k, v in payload.items() if k != TAGS} if TAGS in payload else dict(payload)
