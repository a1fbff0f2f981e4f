from __future__ import annotations

import pytest
from sqlalchemy import select

from assistant.catalog.schema import EvalCaseRow, FeedbackRow, FlagRow, NotificationRow
from assistant.errors import ConfigError, NotFoundError, PermissionDeniedError


def test_rating_attaches_to_the_interaction_and_replaces(world) -> None:
    alice = world.alice.user()
    fid = world.feedback.rate(world.asked, alice, "down", "outdated_source", "deploy steps changed")
    again = world.feedback.rate(world.asked, alice, "down", "wrong_answer")
    assert again == fid
    with world.db.session() as s:
        rows = list(s.scalars(select(FeedbackRow)))
    assert [(r.interaction_id, r.value, r.reason, r.comment) for r in rows] == [
        (world.asked, "down", "wrong_answer", None)]
    assert world.feedback.rate(world.asked, alice, "up", "wrong_answer") == fid  # up carries no reason
    assert world.feedback.feedback_for(world.asked, alice).reason is None


def test_another_users_answer_is_refused_admins_allowed(world) -> None:
    with pytest.raises(PermissionDeniedError):
        world.feedback.rate(world.asked, world.bob.user(), "up")
    with pytest.raises(PermissionDeniedError):
        world.feedback.flag(world.asked, 1, world.bob.user(), "outdated")
    with pytest.raises(PermissionDeniedError):
        world.feedback.interaction(world.asked, world.bob.user())
    assert world.feedback.rate(world.asked, world.root.user(), "down", "other") > 0


def test_bad_feedback_input(world) -> None:
    alice = world.alice.user()
    with pytest.raises(ConfigError):
        world.feedback.rate(world.asked, alice, "meh")
    with pytest.raises(ConfigError):
        world.feedback.rate(world.asked, alice, "down", "because")
    with pytest.raises(ConfigError, match="too long"):
        world.feedback.rate(world.asked, alice, "down", "other", "x" * 5000)
    with pytest.raises(NotFoundError):
        world.feedback.rate(999, alice, "up")
    with pytest.raises(NotFoundError, match=r"\[7\]"):
        world.feedback.flag(world.asked, 7, alice, "wrong")


def test_flag_resolves_the_cited_document_and_notifies_its_owner(world) -> None:
    fid = world.feedback.flag(world.asked, 1, world.alice.user(), "outdated", "we moved to k8s <b>")
    with world.db.session() as s:
        flag = s.get(FlagRow, fid)
        note = s.scalar(select(NotificationRow))
    assert (flag.doc_id, flag.path, flag.owner, flag.start_line, flag.end_line, flag.commit, flag.status) == (
        "app:docs/deploy.md", "docs/deploy.md", "@bob", 3, 9, "abc123", "open")
    assert note.status == "sent" and note.owner == "@bob"
    assert world.posted and world.posted[0][1]["text"].startswith("@bob: app:docs/deploy.md was flagged as outdated")
    assert [e.action for e in world.audit.entries()] == ["flag.create"]


def test_review_and_promotion_to_an_eval_case(world) -> None:
    alice = world.alice.user()
    down = world.feedback.rate(world.asked, alice, "down", "wrong_source")
    flag = world.feedback.flag(world.asked, 1, alice, "wrong")
    up_q = world.ask("alice", "where is pay?", ["app:pay.py"], cited=[1])
    world.feedback.rate(up_q, alice, "up")
    items = world.feedback.review()
    assert {(i.kind, i.id) for i in items} == {("feedback", down), ("flag", flag)}
    assert items[0].question == "how do we deploy?" and items[0].retrieved[0]["doc_id"] == "app:docs/deploy.md"
    assert len(world.feedback.review(include_up=True)) == 3
    with pytest.raises(ConfigError, match="gold"):
        world.feedback.promote("feedback", down, [], world.root)
    case = world.feedback.promote("feedback", down, [{"path": "pay.py", "source": "app"}], world.root,
                                  must_include=["pay"], tags=["deploy"])
    with world.db.session() as s:
        row = s.get(EvalCaseRow, case)
        fb = s.get(FeedbackRow, down)
    assert (row.question, row.gold, row.origin, row.interaction_id, row.feedback_id) == (
        "how do we deploy?", [{"path": "pay.py", "source": "app"}], "feedback", world.asked, down)
    assert row.tags == ["deploy", "feedback:down"] and row.must_include == ["pay"]
    assert fb.status == "promoted"
    assert world.feedback.review(pending=True) == [i for i in world.feedback.review() if i.kind == "flag"]
    world.feedback.promote("flag", flag, [{"path": "docs/deploy.md"}], world.root)
    assert world.feedback.review(pending=True) == []
    assert world.feedback.cited_sources(up_q) == [{"doc_id": "app:pay.py", "path": "pay.py"}]


def test_concurrent_first_ratings_of_one_answer_make_one_row(world) -> None:
    """Regression (PostgreSQL): a double-clicked thumb sends two requests at once; both read
    "no rating yet" and insert, the loser hit the unique key and the user got an error."""
    import threading

    alice = world.alice.user()
    for round_ in range(3):
        with world.db.session() as s:
            s.query(FeedbackRow).delete()
        start, ids, errors = threading.Barrier(6), [], []

        def rate(value: str) -> None:
            start.wait()
            try:
                ids.append(world.feedback.rate(world.asked, alice, value))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=rate, args=("up" if i % 2 else "down",)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [], f"round {round_}: {errors!r}"
        with world.db.session() as s:
            rows = list(s.scalars(select(FeedbackRow)))
        assert len(rows) == 1 and set(ids) == {rows[0].id}
