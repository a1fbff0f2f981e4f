"""Redactions: what the secret and personal-data scanners removed before embedding, per file.

One row per document and rule: which rule fired, how often, on which lines of which
version (the document row gives source, path and commit). Never the secret, nor any
part of it. Rows belong to the document row: re-indexing the document replaces them
(so they close by themselves when the secret is removed), and deleting the document
or its source deletes them (``ON DELETE CASCADE``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from assistant.catalog.schema import Base, UTCDateTime, utcnow


class RedactionRow(Base):
    __tablename__ = "redactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(60))  # aws-secret-key, private-key, email ...
    kind: Mapped[str] = mapped_column(String(10))  # secret | pii
    count: Mapped[int] = mapped_column(Integer)
    lines: Mapped[list[int]] = mapped_column(JSON, default=list)  # first lines it fired on (1-based)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_redactions_document", "document_id"),
        Index("ix_redactions_source", "source_id"),
    )
