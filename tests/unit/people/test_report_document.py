"""``FeedbackService.report_document``: the MCP tool ``report_outdated``'s service."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from assistant.catalog.schema import FlagRow
from assistant.errors import ConfigError, NotFoundError
from assistant.models import User


def test_a_reader_flags_a_document_for_its_owner(world) -> None:
    flag_id = world.feedback.report_document("app", "docs/deploy.md", world.alice.user(), "deploy moved to k8s")
    with world.db.session() as s:
        row = s.get(FlagRow, flag_id)
        assert (row.doc_id, row.owner, row.user_name, row.kind, row.origin) == (
            "app:docs/deploy.md", "@bob", "alice", "outdated", "user")
    assert [e.target for e in world.audit.entries(action="flag.create")] == ["app:docs/deploy.md"]


def test_forbidden_and_missing_documents_are_refused_alike(world) -> None:
    outsider = User("carol", ("sales",))
    messages = []
    for source, path, user in (("app", "docs/deploy.md", outsider), ("app", "docs/nothing.md", world.alice.user()),
                               ("nosuch", "docs/deploy.md", world.alice.user())):
        with pytest.raises(NotFoundError) as err:
            world.feedback.report_document(source, path, user, "old")
        messages.append(str(err.value).replace(source, "S").replace(path, "P"))
    assert len(set(messages)) == 1, messages
    with world.db.session() as s:
        assert list(s.scalars(select(FlagRow))) == []
    with pytest.raises(ConfigError):
        world.feedback.report_document("app", "docs/deploy.md", world.alice.user(), "old", kind="meh")
