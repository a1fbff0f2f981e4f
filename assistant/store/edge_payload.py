"""How a payload is stored in an embedded shard: folded tags and one packed JSON string.

Why: two costs of a segment build grow with the number of payload *values* (py-spy,
2026-12-07):

* an ``optimize()`` parses every payload once per payload index, and most of that time
  is building and dropping JSON maps (``serde_json``, ``malloc``);
* handing a payload to the engine (``qdrant_edge.Point``) costs about 6 µs per string
  value: the binding tries bool, integer and float on each value first and formats an
  error message for every failed try.

So a new shard stores, per point:

* the fields the engine reads itself (``engine_fields``: the keyword fields with HNSW
  links, the integer and float fields of filters and score formulas) as they are;
* every other keyword field as ``field=value`` strings in one ``_tags`` array with one
  index: a condition "``field`` holds any of these values" becomes "``_tags`` holds any of
  ``field=value``", and a point without the field has no such tag;
* everything else (chunk text, path, owner, line numbers ...) and the folded fields'
  own values as one compact JSON string, ``_p``.

Reads unpack ``_p``, so a caller gets back exactly the payload it wrote (JSON types);
``_tags`` and ``_p`` never reach a caller, and a caller's own ``_tags``/``_p`` are
dropped. A filter on a packed field is refused (the engine cannot see into ``_p``); no
query in Sourcewise filters on one.

Which fields a shard folds and packs is written beside it (``sourcewise_layout.json``)
before the shard is created; a shard without that file (created before 2026-12-07)
stores and matches every field as it always did.
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
PACKED = "_p"
RESERVED = (TAGS, PACKED)
LAYOUT_FILE = "sourcewise_layout.json"
LAYOUT_VERSION = 1


def tag(field: str, value: str) -> str:
    """``kind=code``: unambiguous, since no field name holds ``=``."""
    return f"{field}={value}"


def tag_values(tags: Any, field: str) -> list[str]:
    """The values of ``field`` among stored ``_tags``."""
    prefix = f"{field}="
    return [t[len(prefix):] for t in tags or () if isinstance(t, str) and t.startswith(prefix)]


@dataclass(frozen=True)
class PayloadLayout:
    """A shard's payload layout. The default (nothing folded, nothing packed) is the one
    every shard had before 2026-12-07."""

    tag_fields: frozenset[str] = frozenset()
    # With ``packed``: the fields stored as themselves; all others go into ``_p``.
    engine_fields: frozenset[str] | None = None

    @property
    def packed(self) -> bool:
        return self.engine_fields is not None

    @classmethod
    def load(cls, directory: Path) -> PayloadLayout:
        """The layout persisted with a shard; a shard without one is the old layout."""
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
        engine = data.get("engine_fields")
        return cls(frozenset(str(f) for f in data.get("tag_fields") or ()),
                   None if engine is None else frozenset(str(f) for f in engine))

    def save(self, directory: Path) -> None:
        """Write the layout atomically (a crash leaves the old file or the new one)."""
        target = directory / LAYOUT_FILE
        tmp = target.with_suffix(".tmp")
        engine = None if self.engine_fields is None else sorted(self.engine_fields)
        tmp.write_text(json.dumps({"version": LAYOUT_VERSION, "tag_fields": sorted(self.tag_fields),
                                   "engine_fields": engine}))
        os.replace(tmp, target)

    # -- conditions ---------------------------------------------------------------------

    def condition(self, key: str, values: Sequence[str]) -> qe.FieldCondition:
        """"``key`` holds any of ``values``" as an engine condition."""
        if key in self.tag_fields:
            return qe.FieldCondition(key=TAGS, match=qe.MatchAny([tag(key, str(v)) for v in values]))
        if self.engine_fields is not None and key not in self.engine_fields:
            raise StoreError(f"cannot filter on {key!r}: this store keeps it packed; filterable fields: "
                             f"{', '.join(sorted(self.tag_fields | self.engine_fields))}")
        return qe.FieldCondition(key=key, match=qe.MatchAny(list(values)))

    # -- payloads -----------------------------------------------------------------------

    def tags(self, payload: Mapping[str, Any]) -> list[str]:
        """The ``_tags`` of a payload: one per string value of each folded field."""
        out: list[str] = []
        for field in sorted(self.tag_fields):
            value = payload.get(field)
            values: Iterable[Any] = value if isinstance(value, (list, tuple)) else (value,)
            out += [tag(field, v) for v in values if isinstance(v, str)]
        return out

    def to_stored(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """What the engine stores for a caller's payload."""
        mine = {k: v for k, v in payload.items() if k not in RESERVED}
        if self.engine_fields is None:
            out = mine
        else:
            out = {k: v for k, v in mine.items() if k in self.engine_fields}
            rest = {k: v for k, v in mine.items() if k not in self.engine_fields}
            try:
                out[PACKED] = json.dumps(rest, separators=(",", ":"), ensure_ascii=False, default=_plain)
            except (TypeError, ValueError) as exc:
                raise StoreError(f"a payload value cannot be stored: {exc}") from exc
        if self.tag_fields:
            out[TAGS] = self.tags(mine)
        return out

    def stored_fields(self, fields: Sequence[str]) -> list[str]:
        """The stored keys a read of ``fields`` needs."""
        if self.engine_fields is None:
            return list(fields)
        wanted = [f for f in fields if f in self.engine_fields and f not in RESERVED]
        return wanted + [PACKED] if any(f not in self.engine_fields for f in fields) else wanted

    def rewrites(self, update: Mapping[str, Any]) -> bool:
        """Whether updating these keys must rewrite ``_tags`` or ``_p`` point by point."""
        return any(k in self.tag_fields or (self.engine_fields is not None and k not in self.engine_fields)
                   for k in update)

    def direct(self, update: Mapping[str, Any]) -> dict[str, Any]:
        """The keys of an update the engine stores as themselves."""
        return {k: v for k, v in update.items()
                if k not in RESERVED and (self.engine_fields is None or k in self.engine_fields)}


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as plain numbers and lists (the engine took them before)."""
    tolist = getattr(value, "tolist", None)  # numpy: a scalar's is a number, an array's a list
    if callable(tolist):
        return tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def from_stored(stored: Mapping[str, Any] | None, fields: Sequence[str] | None = None) -> dict[str, Any]:
    """A stored payload as callers see it: ``_p`` unpacked, no ``_tags``; only ``fields``
    when given (a read of selected fields)."""
    if not stored:
        return {}
    packed = stored.get(PACKED)
    out: dict[str, Any] = json.loads(packed) if isinstance(packed, str) else {}
    out.update((k, v) for k, v in stored.items() if k not in RESERVED)
    if fields is not None:
        return {f: out[f] for f in fields if f in out}
    return out
