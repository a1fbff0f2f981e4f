"""Reading the redaction rows: which files of a source had what removed, by which rule."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from assistant.catalog.db import Database
from assistant.catalog.redaction_schema import RedactionRow
from assistant.catalog.schema import DocumentRow


@dataclass(frozen=True)
class RedactionInfo:
    """One rule's redactions in one indexed file: ``path@version``, lines, count."""

    path: str
    version: str
    rule: str
    kind: str
    count: int
    lines: tuple[int, ...]


class RedactionLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def for_source(self, source_id: int) -> list[RedactionInfo]:
        """Every current redaction of a source's indexed documents, by path then rule."""
        with self.db.session() as s:
            rows = s.execute(
                select(DocumentRow.path, DocumentRow.version, RedactionRow.rule, RedactionRow.kind,
                       RedactionRow.count, RedactionRow.lines)
                .join(DocumentRow, DocumentRow.id == RedactionRow.document_id)
                .where(RedactionRow.source_id == source_id)
                .order_by(DocumentRow.path, RedactionRow.rule)
            )
            return [RedactionInfo(p, v, r, k, c, tuple(lines or ())) for p, v, r, k, c, lines in rows]
