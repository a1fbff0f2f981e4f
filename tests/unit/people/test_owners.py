from __future__ import annotations

import pytest

from assistant.errors import ConfigError, PermissionDeniedError
from assistant.owners import OwnerQueue, owner_matches


@pytest.fixture
def owners(world) -> OwnerQueue:
    return OwnerQueue(world.db, world.store, world.audit, world.notifier)


def test_owner_strings_match_handles_and_team_groups(world) -> None:
    assert owner_matches("@bob", world.bob) and owner_matches("bob@example.com", world.bob)
    assert owner_matches("@acme/eng", world.alice)  # team owner: alice is in group eng
    assert owner_matches("@carol @bob", world.bob)  # CODEOWNERS lists several
    assert not owner_matches("@bobby", world.bob) and not owner_matches(None, world.bob)


def test_queue_holds_my_flagged_documents_most_cited_first(world, owners) -> None:
    alice = world.alice.user()
    world.feedback.flag(world.asked, 1, alice, "outdated", "old steps")
    world.feedback.flag(world.asked, 2, alice, "wrong")  # pay.py, owned by alice
    assert [i.path for i in owners.queue(world.bob)] == ["docs/deploy.md"]
    item = owners.queue(world.bob)[0]
    assert item.flags[0].question == "how do we deploy?" and item.flags[0].comment == "old steps"
    assert [i.path for i in owners.queue(world.alice)] == ["pay.py"]
    for _ in range(3):  # pay.py cited more recently than deploy.md
        world.ask("bob", "pay?", ["app:pay.py"], cited=[1])
    assert [i.path for i in owners.queue(world.root, owner="@alice")] == ["pay.py"]
    world.catalog.set_doc_override("app:pay.py", "root", owner="@bob")
    world.feedback.flag(world.asked, 2, alice, "outdated")
    assert [i.citations_recent for i in owners.queue(world.bob)][0] == 3
    world.ask("eval", "pay?", ["app:pay.py"], cited=[1], channel="eval")  # eval runs are not readers
    assert [i.citations_recent for i in owners.queue(world.bob)][0] == 3
    with pytest.raises(PermissionDeniedError):
        owners.queue(world.alice, owner="@bob")


def test_mark_fixed_reindexes_then_closes(world, owners) -> None:
    world.feedback.flag(world.asked, 1, world.alice.user(), "outdated")
    calls: list[str] = []
    with pytest.raises(PermissionDeniedError):
        owners.mark_fixed("app:docs/deploy.md", world.alice, calls.append)
    assert calls == []

    class Failed:
        status, error = "failed", "repo gone"

    with pytest.raises(ConfigError, match="repo gone"):
        owners.mark_fixed("app:docs/deploy.md", world.bob, lambda s: Failed())
    assert len(owners.open_flags("app:docs/deploy.md")) == 1
    assert owners.mark_fixed("app:docs/deploy.md", world.bob, lambda s: calls.append(s)) == 1
    assert calls == ["app"] and owners.queue(world.bob) == []
    assert world.audit.entries()[0].action == "owner.fixed"


def test_dismiss_needs_a_note_and_closes_one_flag(world, owners) -> None:
    alice = world.alice.user()
    f1 = world.feedback.flag(world.asked, 1, alice, "outdated")
    world.feedback.flag(world.asked, 1, alice, "wrong")
    with pytest.raises(ConfigError, match="note"):
        owners.dismiss(f1, world.bob, " ")
    owners.dismiss(f1, world.bob, "still accurate")
    assert len(owners.queue(world.bob)[0].flags) == 1
    with pytest.raises(ConfigError, match="already dismissed"):
        owners.dismiss(f1, world.bob, "again")


def test_deprecate_excludes_from_retrieval_and_restores(world, owners) -> None:
    world.feedback.flag(world.asked, 1, world.alice.user(), "outdated")
    owners.deprecate("app:docs/deploy.md", world.bob, "replaced by runbook")
    assert world.store.payloads["app:docs/deploy.md"] == {"status": "deprecated", "excluded": "deprecated"}
    assert world.catalog.document("app:docs/deploy.md").status == "deprecated"
    assert world.catalog.doc_overrides()["app:docs/deploy.md"] == (None, True)
    assert owners.queue(world.bob) == []  # its flags closed
    owners.deprecate("app:docs/deploy.md", world.root, deprecated=False)
    assert world.store.payloads["app:docs/deploy.md"]["excluded"] == ""
    assert [e.action for e in world.audit.entries()][:2] == ["owner.restored", "owner.deprecated"]


def test_reassign_moves_document_and_flags_and_notifies(world, owners) -> None:
    world.feedback.flag(world.asked, 1, world.alice.user(), "outdated")
    with pytest.raises(ConfigError):
        owners.reassign("app:docs/deploy.md", world.bob, "  ")
    owners.reassign("app:docs/deploy.md", world.bob, "@alice")
    assert owners.queue(world.bob) == [] and [i.path for i in owners.queue(world.alice)] == ["docs/deploy.md"]
    assert world.store.payloads["app:docs/deploy.md"] == {"owner": "@alice"}
    assert world.catalog.document("app:docs/deploy.md").owner == "@alice"
    assert world.posted[-1][1]["text"].startswith("@alice: app:docs/deploy.md was reassigned to you by bob")
    with pytest.raises(PermissionDeniedError):  # bob no longer owns it
        owners.reassign("app:docs/deploy.md", world.bob, "@bob")


def test_queue_all_lists_every_owner_for_admins_only(world, owners) -> None:
    alice = world.alice.user()
    world.feedback.flag(world.asked, 1, alice, "outdated")  # docs/deploy.md, @bob
    world.feedback.flag(world.asked, 2, alice, "wrong")  # pay.py, @alice
    assert [(i.owner, i.path) for i in owners.queue_all(world.root)] == [("@alice", "pay.py"),
                                                                         ("@bob", "docs/deploy.md")]
    assert owners.open_owners() == [("@alice", 1), ("@bob", 1)]
    with pytest.raises(PermissionDeniedError):
        owners.queue_all(world.bob)
