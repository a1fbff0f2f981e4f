"""Chat threads, steps and elements: the chat UI's history, kept in the catalog.

Chainlit's own data layers need PostgreSQL or a cloud service; keeping conversations
next to the interactions they produced means one database to back up, threads that
survive a restart, and feedback that can find its interaction row through
``ChatStepRow.interaction_id``. Ids are Chainlit's (uuid strings). A thread belongs to
exactly one user (``user_name``); every read and write checks it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from assistant.catalog.schema import Base, UTCDateTime, utcnow


class ChatThreadRow(Base):
    __tablename__ = "chat_threads"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_chat_threads_user_updated", "user_name", "updated_at"),)


class ChatStepRow(Base):
    """A message or run; ``interaction_id`` links an answer to its eval record."""

    __tablename__ = "chat_steps"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    thread_id: Mapped[str] = mapped_column(ForeignKey("chat_threads.id", ondelete="CASCADE"))
    parent_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(40))
    input: Mapped[str | None] = mapped_column(Text)
    output: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    is_error: Mapped[bool] = mapped_column(default=False)
    show_input: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    interaction_id: Mapped[int | None] = mapped_column(Integer)
    feedback_id: Mapped[str | None] = mapped_column(String(64))
    feedback_value: Mapped[int | None] = mapped_column(Integer)
    feedback_comment: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_chat_steps_thread", "thread_id", "created_at"),
        Index("ix_chat_steps_feedback", "feedback_id"),
    )


class ChatElementRow(Base):
    """An element shown with a message (a citation's source text); ``content`` is kept so
    it can be shown again after a restart without a file store."""

    __tablename__ = "chat_elements"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    thread_id: Mapped[str] = mapped_column(ForeignKey("chat_threads.id", ondelete="CASCADE"))
    step_id: Mapped[str | None] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(Text)
    display: Mapped[str] = mapped_column(String(20), default="side")
    mime: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(40))
    size: Mapped[str | None] = mapped_column(String(20))
    page: Mapped[int | None] = mapped_column(Integer)
    url: Mapped[str | None] = mapped_column(Text)
    content: Mapped[str | None] = mapped_column(Text)
    props: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_chat_elements_thread", "thread_id"),)
