"""Settings admins change at run time, kept in the catalog (file settings stay the defaults)."""

from __future__ import annotations

from typing import Any

from assistant.catalog.db import Database
from assistant.catalog.schema import AppSettingRow, utcnow

# key -> (type, description); anything else is refused so a typo cannot hide.
KNOWN: dict[str, tuple[type, str]] = {
    "allow_generator_choice": (bool, "Users may pick the generator in the chat settings."),
    "allow_anonymous": (bool, "People may chat without signing in (public sources only)."),
}


class AppSettings:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str, default: Any = None) -> Any:
        with self.db.session() as s:
            row = s.get(AppSettingRow, key)
            return default if row is None else row.value

    def set(self, key: str, value: Any, actor: str) -> None:
        from assistant.errors import ConfigError

        if key not in KNOWN:
            raise ConfigError(f"unknown run-time setting {key!r}; known: {', '.join(sorted(KNOWN))}")
        kind = KNOWN[key][0]
        if not isinstance(value, kind):
            raise ConfigError(f"{key} takes a {kind.__name__}, not {value!r}")

        def write(s: Any) -> None:
            row = s.get(AppSettingRow, key)
            if row is None:
                s.add(AppSettingRow(key=key, value=value, updated_by=actor))
                s.flush()
            else:
                row.value, row.updated_by, row.updated_at = value, actor, utcnow()

        self.db.write_retrying(write)  # two admins saving at once: the later one wins, no error

    def all(self) -> dict[str, Any]:
        with self.db.session() as s:
            return {r.key: r.value for r in s.query(AppSettingRow).all()}
