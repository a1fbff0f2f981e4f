"""The audit log: every admin and owner action, who did it and to what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from assistant.catalog.db import Database
from assistant.catalog.schema import AuditRow


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, actor: str, action: str, target: str, details: dict[str, Any] | None = None) -> int:
        with self.db.session() as s:
            row = AuditRow(actor=actor, action=action, target=target, details=details or {})
            s.add(row)
            s.flush()
            return row.id

    def entries(self, limit: int = 100, actor: str | None = None, action: str | None = None) -> list[AuditEntry]:
        q = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if actor:
            q = q.where(AuditRow.actor == actor)
        if action:
            q = q.where(AuditRow.action == action)
        with self.db.session() as s:
            return [AuditEntry(r.id, r.at, r.actor, r.action, r.target, dict(r.details or {})) for r in s.scalars(q)]
