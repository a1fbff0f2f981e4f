"""Webhook notifications against a real HTTP server on loopback."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from assistant.catalog.schema import NotificationRow
from assistant.notify import Notifier, post_json
from tests.fixtures.webhook import Hook


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def statuses(world) -> list[str]:
    with world.db.session() as s:
        return [r.status for r in s.scalars(select(NotificationRow).order_by(NotificationRow.id))]


def test_post_json_reaches_a_real_server(hook) -> None:
    post_json(hook.url, {"text": "hi"})
    assert hook.bodies == [{"text": "hi"}]


def test_failed_delivery_is_kept_and_retried(world, hook) -> None:
    n = Notifier(world.db, hook.url, background=False)
    hook.status = 500
    n.flag_raised("@bob", None, "docs/deploy.md was flagged")
    assert statuses(world) == ["failed"]
    hook.status = 200
    assert n.retry_failed() == 1 and statuses(world) == ["sent"]
    assert hook.bodies[-1]["text"].startswith("@bob: docs/deploy.md was flagged")
    assert n.flag_raised(None, None, "no owner") is None


def test_digest_sends_one_message_per_owner(world, hook) -> None:
    n = Notifier(world.db, hook.url, digest=True, background=False, public_url="https://sw.example.com/")
    n.flag_raised("@bob", None, "a.md was flagged")
    n.flag_raised("@bob", None, "b.md was flagged")
    n.flag_raised("@alice", None, "c.md was flagged")
    assert hook.bodies == [] and statuses(world) == ["digest"] * 3
    assert n.send_digest() == {"@bob": 2, "@alice": 1}
    assert len(hook.bodies) == 2 and "2 flag(s)" in hook.bodies[0]["text"]
    assert "https://sw.example.com/owners" in hook.bodies[0]["text"]
    assert n.send_digest() == {}


def test_unreachable_webhook_does_not_raise(world) -> None:
    n = Notifier(world.db, "http://127.0.0.1:9/nothing", background=False)
    n.flag_raised("@bob", None, "x")
    assert statuses(world) == ["failed"]


def test_digest_scheduler_sends_once_at_its_hour(world, hook) -> None:
    from datetime import UTC, datetime

    from assistant.notify import DigestScheduler

    now = [datetime(2026, 11, 25, 8, 59, tzinfo=UTC)]
    n = Notifier(world.db, hook.url, digest=True, background=False)
    sched = DigestScheduler(n, 9, clock=lambda: now[0])
    n.flag_raised("@bob", None, "a.md was flagged")
    assert sched.tick() is None and hook.bodies == []  # not yet nine
    now[0] = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert sched.tick() == {"@bob": 1} and len(hook.bodies) == 1
    n.flag_raised("@bob", None, "b.md was flagged")
    now[0] = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
    assert sched.tick() is None  # today's digest went already; b.md waits for tomorrow
    now[0] = datetime(2026, 11, 26, 9, 1, tzinfo=UTC)
    assert sched.tick() == {"@bob": 1} and "b.md" in hook.bodies[-1]["text"]
