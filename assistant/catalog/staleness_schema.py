"""Symbol tables per blob, doc references and staleness findings with their evidence.

The symbol table is content-addressed: a code file's definitions are stored once per
(source, path, blob), so re-indexing re-parses only changed files, and the definitions
at any commit are that commit's tree (from git) joined with these rows; a blob never
parsed (an old commit) is parsed on demand and stored. References are what a doc
claims exists, read from one version (``blob``) of the doc. Findings are the rows the
owners' queue, the ``stale`` gate and the answers read; their ``fingerprint`` outlives
line moves and re-indexing, so a dismissal is remembered and a finding that comes back
reopens instead of duplicating.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from assistant.catalog.schema import Base, UTCDateTime, utcnow


class SymbolBlobRow(Base):
    """A code file version whose definitions were extracted (also when it defines none)."""

    __tablename__ = "symbol_blobs"

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    path: Mapped[str] = mapped_column(String(1200), primary_key=True)
    blob: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str | None] = mapped_column(String(40))
    count: Mapped[int] = mapped_column(Integer, default=0)
    parsed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SymbolRow(Base):
    """One name a code file version defines: ``RetryPolicy.delay``, ``RETRY_LIMIT``,
    ``--dry-run``, ``PAYMENTS_URL``; with the signature or simple value when known."""

    __tablename__ = "symbols"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(1200))
    blob: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(Text)  # qualified within the file (Class.method)
    key: Mapped[str] = mapped_column(String(300))  # lowercased last dotted part, for lookups
    kind: Mapped[str] = mapped_column(String(20))  # function|method|class|constant|variable|option|setting|env
    line: Mapped[int] = mapped_column(Integer)
    end_line: Mapped[int] = mapped_column(Integer)
    signature: Mapped[str | None] = mapped_column(Text)
    value: Mapped[str | None] = mapped_column(Text)
    # [[name, default, annotation], ...] of a function/method: what drift compares
    params: Mapped[list[Any] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_symbols_source_blob", "source_id", "blob"),
        Index("ix_symbols_source_key", "source_id", "key"),
    )


class DocReferenceRow(Base):
    """A name, path, option or key one version of a doc mentions, with its doc line."""

    __tablename__ = "doc_references"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    doc_id: Mapped[str] = mapped_column(String(1200))
    blob: Mapped[str] = mapped_column(String(100))  # the doc's content_hash
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))  # symbol|path|option|env
    line: Mapped[int] = mapped_column(Integer)
    context: Mapped[str | None] = mapped_column(Text)  # the doc line, clipped
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # anchor lines, code language, ...

    __table_args__ = (Index("ix_doc_references_doc", "doc_id"),)


class DocReferenceScanRow(Base):
    """One doc version whose references were extracted (also when it names nothing):
    the pipeline's marker for "done", and the caps and inline ignores it hit."""

    __tablename__ = "doc_reference_scans"

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    doc_id: Mapped[str] = mapped_column(String(1200), primary_key=True)
    blob: Mapped[str] = mapped_column(String(100))  # the doc's content_hash
    count: Mapped[int] = mapped_column(Integer, default=0)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    ignored: Mapped[int] = mapped_column(Integer, default=0)
    # the code languages code blocks were read for ("python,shell"): a change re-scans
    code_languages: Mapped[str] = mapped_column(String(300), default="")
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_doc_reference_scans_source", "source_id"),)


class FindingRow(Base):
    """A staleness finding about one document: dead reference, drift or age, with evidence."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    doc_id: Mapped[str] = mapped_column(String(1200))
    path: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))  # dead | drift | age
    reference: Mapped[str | None] = mapped_column(Text)  # the name/path/value as the doc writes it
    line: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | closed | dismissed
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    suggestion: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    code_source: Mapped[str | None] = mapped_column(String(200))
    owner: Mapped[str | None] = mapped_column(String(300))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    dismissed_by: Mapped[str | None] = mapped_column(String(200))
    dismiss_note: Mapped[str | None] = mapped_column(Text)
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_findings_doc", "doc_id"),
        Index("ix_findings_source_status", "source_id", "status"),
    )
