"""Owner actions move the answer cache's index version, so no cached answer outlives them
(its stale-source notes, its deprecated citations)."""

from __future__ import annotations

from assistant.catalog.interactions import InteractionLog
from assistant.owners import OwnerQueue


def test_flag_owner_actions_move_the_index_version(world) -> None:
    owners = OwnerQueue(world.db, world.store, world.audit, world.notifier)
    log = InteractionLog(world.db)
    seen = [log.index_version()]

    def moved() -> bool:
        seen.append(log.index_version())
        return seen[-1] != seen[-2]

    alice = world.alice.user()
    f1 = world.feedback.flag(world.asked, 1, alice, "outdated", "old steps")
    assert moved()  # a flag raises the document's staleness
    world.feedback.flag(world.asked, 1, alice, "wrong")
    assert moved()
    owners.dismiss(f1, world.bob, "still accurate")
    assert moved()
    owners.mark_fixed("app:docs/deploy.md", world.bob, lambda source: None)  # no index run: the closing alone
    assert moved()
    owners.deprecate("app:docs/deploy.md", world.bob, "replaced")
    assert moved()
    owners.reassign("app:docs/deploy.md", world.root, "@carol")
    assert moved()
    assert log.index_version() == seen[-1]  # and nothing else moves it
    assert all(len(v) <= 100 for v in seen)  # fits the interaction and eval-run columns
