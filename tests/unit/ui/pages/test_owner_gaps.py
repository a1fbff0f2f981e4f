"""Documentation gaps in the owners' queue: who sees which topic, source and question."""

from __future__ import annotations

from sqlalchemy import select

from assistant.catalog.interactions import InteractionLog
from assistant.catalog.schema import AuditRow
from assistant.ops.gaps import GapFinder
from tests.unit.ops.fakes import WordEmbedder
from tests.unit.ui.pages.conftest import Pages, add_doc

KAFKA = ["how do we rotate kafka certificates?", "kafka certificates rotation steps?",
         "rotate kafka certificates before expiry?"]


def _world(pages: Pages) -> dict[str, int]:
    c = pages.container
    # payments (alice's group) holds alice's doc; secret (no one's group but admins) holds carol's doc
    pay = add_doc(c, "payments", "docs/kafka.md", owner="@alice")
    c.catalog.add_source("secret", "git", "/srv/secret", access_groups=["secops"])
    sec = add_doc(c, "secret", "runbooks/kafka-certs.md", owner="@alice")
    log = InteractionLog(c.db)

    def ask(q: str, docs: list[str], user: str = "bob") -> int:
        retrieved = [{"n": n, "id": f"p{n}", "doc_id": d, "path": d.split(":", 1)[1], "score": 0.02}
                     for n, d in enumerate(docs, 1)]
        ident = log.record(user_name=user, channel="ui", question=q, answer="not sure [1]", retrieved=retrieved,
                           supported=False, generator="extractive")
        assert ident is not None
        return ident

    # carol may read the secret source too: her question may quote it, though its answer drew on payments only
    c.users.create("carol", groups=["payments", "secops"])
    return {"only_pay": ask(KAFKA[0], [pay]), "both": ask(KAFKA[1] + " token=ghp_" + "A1b2" * 9, [pay, sec]),
            "only_sec": ask(KAFKA[2], [sec]), "noise": ask("what colour is the logo?", ["web:logo.svg"]),
            "carol": ask("rotate kafka certificates like runbooks/kafka-certs.md step 4 says?", [pay], user="carol")}


def _finder(pages: Pages) -> GapFinder:
    from indexers.redaction.redactor import Redactor

    c = pages.container
    f = GapFinder(c.db, WordEmbedder(), c.settings.gaps.model_copy(update={"similarity": 0.4}), c.audit,
                  redact=Redactor().redact_value)
    pages.client.app.state.gap_finder = f
    return f


def test_owner_sees_only_their_readable_share(pages: Pages) -> None:
    ids = _world(pages)
    finder = _finder(pages)
    root = pages.container.users.get("root")
    alice = pages.container.users.get("alice")
    bob = pages.container.users.get("bob")

    admin = finder.topics(root, 7)
    assert len(admin) == 1 and admin[0].count == 4  # the logo question stays alone (min size 2)
    assert {s.source for s in admin[0].sources} == {"payments", "secret"}
    assert "ghp_" not in " ".join(e.question for e in admin[0].examples)  # redacted even for admins

    mine = finder.topics(alice, 7)
    assert len(mine) == 1 and mine[0].count == 4
    assert {s.source for s in mine[0].sources} == {"payments"}  # never a source she may not read
    # only the question that drew on her document and nothing she may not read, asked by someone who
    # reads nothing she may not (carol's question names a secret runbook)
    assert [e.interaction_id for e in mine[0].examples] == [ids["only_pay"]] and mine[0].hidden_examples == 3
    assert "kafka-certs" not in repr(mine)
    assert mine[0].member_ids == ()

    assert finder.topics(bob, 7) == []  # owns nothing near the topic
    try:
        finder.topics(bob, 7, owner="@alice")
    except Exception as exc:
        assert type(exc).__name__ == "PermissionDeniedError"
    else:
        raise AssertionError("bob read alice's gaps")
    as_admin = finder.topics(root, 7, owner="@alice")
    assert len(as_admin) == 1 and len(as_admin[0].examples) == 4

    with pages.container.db.session() as s:
        views = list(s.scalars(select(AuditRow).where(AuditRow.action == "gaps.view")))
    assert [(v.actor, v.target) for v in views] == [("root", "*"), ("alice", "alice"), ("root", "@alice")]
    assert views[1].details["interactions"] == [ids["only_pay"]]


def test_owners_page_shows_the_gap_section(pages: Pages) -> None:
    ids = _world(pages)
    _finder(pages)
    pages.as_user("alice")
    body = pages.get("/owners").text
    assert 'id="gaps"' in body and KAFKA[0] in body
    assert KAFKA[2] not in body and "runbooks/kafka-certs.md" not in body and "secret:" not in body
    assert "3 more questions not shown" in body and "kafka-certs" not in body
    pages.as_user("bob")
    body = pages.get("/owners").text
    assert 'id="gaps"' not in body and "kafka" not in body
    pages.as_user("root")
    assert "runbooks/kafka-certs.md" in pages.get("/admin/health").text
    assert ids
