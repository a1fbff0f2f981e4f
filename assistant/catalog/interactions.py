"""Interaction rows: every answered or refused question, the record feedback attaches to.

Writing one must never cost the user their answer, so a failed write is logged and
``record`` returns ``None`` instead of raising.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from assistant.catalog.db import Database
from assistant.catalog.repo import Catalog
from assistant.catalog.schema import DocumentRow, IndexRunRow, InteractionRow

log = logging.getLogger(__name__)

FIELDS = frozenset(c.name for c in InteractionRow.__table__.columns) - {"id", "created_at"}


class InteractionLog:
    def __init__(self, catalog: Catalog | Database) -> None:
        self.db = catalog.db if isinstance(catalog, Catalog) else catalog

    def record(self, **fields: Any) -> int | None:
        """Insert one interaction; unknown field names are a programming error (``TypeError``)."""
        unknown = set(fields) - FIELDS
        if unknown:
            raise TypeError(f"unknown interaction fields: {sorted(unknown)}")
        try:
            with self.db.session() as s:
                row = InteractionRow(**fields)
                s.add(row)
                s.flush()
                return row.id
        except SQLAlchemyError:
            log.exception("could not record the interaction")
            return None

    def get(self, interaction_id: int) -> InteractionRow | None:
        with self.db.session() as s:
            return s.get(InteractionRow, interaction_id)

    def recent(self, limit: int = 20) -> list[InteractionRow]:
        with self.db.session() as s:
            return list(s.scalars(select(InteractionRow).order_by(InteractionRow.id.desc()).limit(limit)))

    def index_version(self) -> str:
        """Changes whenever an index run finishes, documents come or go, or access changes
        (a source's groups or classification, an owner's deprecation, restoration or
        reassignment; ``assistant.access.access_epoch``): the answer cache's epoch."""
        from assistant.access import access_epoch

        with self.db.session() as s:
            run = s.execute(
                select(func.max(IndexRunRow.id), func.max(IndexRunRow.finished_at))
            ).one()
            docs = s.execute(select(func.count(), func.max(DocumentRow.indexed_at)).select_from(DocumentRow)).one()
        stamp = lambda v: v.isoformat() if v is not None else "-"  # noqa: E731
        # Compact: the column holds 100 characters (PostgreSQL refuses longer values).
        detail = f"{stamp(run[1])}:{stamp(docs[1])}:{access_epoch(self.db)}"
        return f"r{run[0] or 0}:d{docs[0]}:{hashlib.sha256(detail.encode()).hexdigest()[:24]}"

    def document_count(self) -> int:
        with self.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(DocumentRow)) or 0)
