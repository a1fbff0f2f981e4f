"""Catalog tables. The catalog decides what exists; Qdrant is derived from it.

Changes here need an Alembic migration in ``migrations/versions`` (a test compares the
two).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the catalog; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class SourceRow(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # git | docs | wiki
    location: Mapped[str] = mapped_column(Text)
    ref: Mapped[str | None] = mapped_column(String(250))
    access_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    # public | internal | restricted: which generators may see it (assistant.policy)
    classification: Mapped[str] = mapped_column(String(20), default="internal", server_default="internal")
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_indexed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_version: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)


class DocumentRow(Base):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    doc_id: Mapped[str] = mapped_column(String(1200), unique=True)
    path: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    language: Mapped[str | None] = mapped_column(String(40))
    title: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(100))
    meta_hash: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[str] = mapped_column(String(100))
    author: Mapped[str | None] = mapped_column(String(300))
    owner: Mapped[str | None] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="active")
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    chunk_strategy: Mapped[str | None] = mapped_column(String(20))
    model_id: Mapped[str] = mapped_column(String(300))
    indexed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # the redaction rules the text was cleaned with (``Redactor.key``); NULL: before redaction
    redaction_key: Mapped[str | None] = mapped_column(String(40))
    # staleness (issue 16): front matter ``last_reviewed``, and the score and reason the
    # detector derived from the open findings and flags (also in the points' payload)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    staleness: Mapped[float | None] = mapped_column(Float)
    stale_reason: Mapped[str | None] = mapped_column(Text)

    chunks: Mapped[list[ChunkRow]] = relationship(
        back_populates="document", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (Index("ix_documents_source_path", "source_id", "path"),)


class ChunkRow(Base):
    __tablename__ = "chunks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    chunk_index: Mapped[int] = mapped_column(Integer)
    point_id: Mapped[str] = mapped_column(String(36))
    start_line: Mapped[int] = mapped_column(Integer)
    end_line: Mapped[int] = mapped_column(Integer)
    symbol: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)

    document: Mapped[DocumentRow] = relationship(back_populates="chunks")

    __table_args__ = (UniqueConstraint("document_id", "chunk_index"),)


class PendingWriteRow(Base):
    """Intent record written before a document's points go to the store.

    A run killed between the store write and the catalog commit leaves this row; the
    next run deletes those points and forgets the document so it is redone cleanly.
    """

    __tablename__ = "pending_writes"

    doc_id: Mapped[str] = mapped_column(String(1200), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FileHistoryRow(Base):
    """Last commit that touched each path, reachable from ``SourceRow.options['history_commit']``."""

    __tablename__ = "file_history"

    source_id: Mapped[int] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(1200), primary_key=True)
    commit: Mapped[str] = mapped_column(String(64))
    committed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    author: Mapped[str | None] = mapped_column(String(300))


class IndexRunRow(Base):
    __tablename__ = "index_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="running")
    version: Mapped[str | None] = mapped_column(String(100))
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seconds: Mapped[float | None] = mapped_column(Float)
    embed_seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)


class FailureRow(Base):
    __tablename__ = "failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("index_runs.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(60))
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InteractionRow(Base):
    """One answered (or refused) question: the eval record feedback attaches to later."""

    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(40), default="cli")  # cli | api | openai | ui
    question: Mapped[str] = mapped_column(Text)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    retrieved: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # id, doc_id, score
    prompt_version: Mapped[str | None] = mapped_column(String(40))
    generator: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(300))
    answer: Mapped[str | None] = mapped_column(Text)
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    supported: Mapped[bool | None] = mapped_column()
    removed_citations: Mapped[int] = mapped_column(Integer, default=0)
    fallback_reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    cached: Mapped[bool] = mapped_column(default=False)
    index_version: Mapped[str | None] = mapped_column(String(100))
    timings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tokens: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_interactions_created", "created_at"),)


class ApiTokenRow(Base):
    """A bearer token (stored hashed) that maps to a user and groups."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(100), unique=True)
    user_name: Mapped[str] = mapped_column(String(200))
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserRow(Base):
    """A person who signs in to the chat and pages. ``aliases`` are the owner handles
    (``@alice``, ``alice@example.com``) under which CODEOWNERS, front matter or a wiki
    name them, so their queue finds the documents they own."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(300))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Chat/page sessions carry the epoch they were signed in under; logout, a new password
    # and disabling bump it, which ends every older session (``ui.identity``).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class FeedbackRow(Base):
    """A thumbs up/down on one answer; one per user and interaction (a second one replaces it)."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"))
    user_name: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(String(10))  # up | down
    reason: Mapped[str | None] = mapped_column(String(40))
    comment: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="new")  # new | promoted | dismissed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("interaction_id", "user_name"),)


class FlagRow(Base):
    """"This source is outdated/wrong": from a user on a citation, or an automatic finding.

    ``doc_id`` and ``path`` are kept as text so a flag outlives its document row.
    """

    __tablename__ = "flags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doc_id: Mapped[str] = mapped_column(String(1200), index=True)
    source_name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(Text)
    start_line: Mapped[int | None] = mapped_column(Integer)
    end_line: Mapped[int | None] = mapped_column(Integer)
    commit: Mapped[str | None] = mapped_column(String(100))
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id", ondelete="SET NULL"))
    citation_n: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # outdated | wrong | finding
    origin: Mapped[str] = mapped_column(String(20), default="user")  # user | finding
    user_name: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | fixed | dismissed | promoted
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DocOverrideRow(Base):
    """Admin and owner decisions about a document that must survive re-indexing."""

    __tablename__ = "doc_overrides"

    doc_id: Mapped[str] = mapped_column(String(1200), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(300))
    deprecated: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditRow(Base):
    """Who did what to which thing; written for every admin and owner action and every
    question. Append-only and hash-chained: only ``assistant.audit.AuditLog`` writes it."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_at", "at"),)


class AuditHeadRow(Base):
    """The audit chain's last row (one row, id 1): appenders lock it, so the chain never forks."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
    legacy_through_id: Mapped[int | None] = mapped_column(Integer)  # rows chained by the 0007 upgrade


class EvalCaseRow(Base):
    """A question with known-good sources: curated, promoted from feedback, or imported."""

    __tablename__ = "eval_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    set_name: Mapped[str] = mapped_column(String(200), index=True)
    question: Mapped[str] = mapped_column(Text)
    conversation: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    gold: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # source, path, lines, symbol
    must_include: Mapped[list[str]] = mapped_column(JSON, default=list)
    must_not_include: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    origin: Mapped[str] = mapped_column(String(20), default="curated")  # curated | feedback | benchmark
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id", ondelete="SET NULL"))
    feedback_id: Mapped[int | None] = mapped_column(Integer)
    flag_id: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationRow(Base):
    """An owner notification (a flag on their source); kept so failures and digests can be retried."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str] = mapped_column(String(300))
    flag_id: Mapped[int | None] = mapped_column(ForeignKey("flags.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | sent | failed | digest
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AppSettingRow(Base):
    """Settings admins change at run time (which generator users may pick, ...)."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Chat tables live in their own module; imported here so Base.metadata (Alembic, tests) has them.
from assistant.catalog import chat_schema as _chat_schema  # noqa: E402,F401
from assistant.catalog import eval_schema as _eval_schema  # noqa: E402,F401
from assistant.catalog import identity_schema as _identity_schema  # noqa: E402,F401
from assistant.catalog import redaction_schema as _redaction_schema  # noqa: E402,F401
from assistant.catalog import staleness_schema as _staleness_schema  # noqa: E402,F401
from assistant.catalog import alert_schema as _alert_schema  # noqa: E402,F401
from assistant.catalog import job_schema as _job_schema  # noqa: E402,F401
