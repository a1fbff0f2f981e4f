"""Feedback, flags, promotions and owner actions are counted by the services themselves
(every door that calls them counts alike)."""

from __future__ import annotations

from assistant.feedback import FeedbackService
from assistant.metrics import Metrics
from assistant.owners import OwnerQueue
from assistant.settings import MetricsSettings
from tests.unit.test_metrics import value


def test_feedback_flags_promotions_and_owner_actions_count(world) -> None:
    m = Metrics(MetricsSettings())
    feedback = FeedbackService(world.db, world.audit, world.notifier, metrics=m)
    owners = OwnerQueue(world.db, world.store, world.audit, world.notifier, metrics=m)
    alice = world.alice.user()
    down = feedback.rate(world.asked, alice, "down", "wrong_answer")
    feedback.promote("feedback", down, [{"path": "pay.py", "source": "app"}], world.root)
    feedback.rate(world.asked, alice, "up")  # changed her mind: a second event
    flag = feedback.flag(world.asked, 1, alice, "outdated")
    feedback.flag_document("app:pay.py", "detector", "finding", None)  # automatic: not feedback
    owners.dismiss(flag, world.bob, "still right")
    owners.deprecate("app:docs/deploy.md", world.bob)
    assert [value(m, "sourcewise_feedback_total", kind=k) for k in ("up", "down", "flag")] == [1, 1, 1]
    assert value(m, "sourcewise_eval_promotions_total", kind="feedback") == 1
    assert value(m, "sourcewise_owner_actions_total", action="dismissed") == 1
    assert value(m, "sourcewise_owner_actions_total", action="deprecated") == 1
    body = m.render().decode()
    assert "alice" not in body and "bob" not in body and "deploy.md" not in body
