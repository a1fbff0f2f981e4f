"""The owners' queue: what an owner sees, and mark fixed / dismiss / deprecate / reassign."""

from __future__ import annotations

import threading

from sqlalchemy import select

from assistant.catalog.schema import FlagRow
from assistant.models import User
from tests.unit.ui.pages.conftest import Pages, add_answer, add_doc


def _flags(pages: Pages, doc_id: str) -> list[FlagRow]:
    with pages.container.db.session() as s:
        return list(s.scalars(select(FlagRow).where(FlagRow.doc_id == doc_id).order_by(FlagRow.id)))


def _seed(pages: Pages) -> tuple[str, str, int]:
    """Two of alice's documents with flags (deploy.md cited more), one of bob's team."""
    c = pages.container
    retry = add_doc(c, "app", "payments/retry.py", owner="@alice")
    deploy = add_doc(c, "app", "docs/deploy.md", owner="alice@example.com", title="Deploying")
    web = add_doc(c, "app", "web/client.js", owner="@web-team")
    a1 = add_answer(c, "bob", "How do we deploy payments?", "Use make deploy [1].", [deploy, retry])
    add_answer(c, "bob", "Rollback steps?", "Run make rollback [1].", [deploy])
    a3 = add_answer(c, "bob", "Retry limit?", "It is 5 [1].", [retry])
    a4 = add_answer(c, "bob", "Who sends requests?", "HttpClient [1].", [web])
    flag = c.feedback.flag(a1, 1, User("bob"), "outdated", comment="we deploy with ArgoCD now")
    c.feedback.flag(a3, 1, User("bob"), "wrong", comment="the limit is 7")
    c.feedback.flag(a4, 1, User("bob"), "outdated")
    return retry, deploy, flag


def test_queue_shows_my_flagged_documents_most_cited_first(pages: Pages) -> None:
    _seed(pages)
    pages.as_user("alice")
    body = pages.get("/owners").text
    assert "docs/deploy.md" in body and "payments/retry.py" in body
    assert "web/client.js" not in body  # the web team's, not alice's
    assert body.index("docs/deploy.md") < body.index("payments/retry.py")  # cited 2x vs 1x
    assert "cited 2× recently" in body
    assert "we deploy with ArgoCD now" in body and "How do we deploy payments?" in body
    assert "Use make deploy [1]." in body  # the answer that triggered the flag
    pages.as_user("bob")
    assert "Nothing flagged" in pages.get("/owners").text


def test_admins_open_any_owners_queue_others_may_not(pages: Pages) -> None:
    _seed(pages)
    pages.as_user("root")
    mine = pages.get("/owners").text
    assert "Nothing flagged" in mine
    assert "@web-team · 1" in mine  # the owner picker
    theirs = pages.get("/owners?owner=@web-team")
    assert theirs.status_code == 200 and "web/client.js" in theirs.text and "docs/deploy.md" not in theirs.text
    pages.as_user("bob")
    assert pages.get("/owners?owner=@alice").status_code == 403


def test_mark_fixed_reindexes_the_source_then_closes_the_flags(pages: Pages) -> None:
    _, deploy, _ = _seed(pages)
    pages.reindex.gate = threading.Event()
    pages.as_user("alice")
    r = pages.post("/owners/fixed", {"doc_id": deploy, "note": "rewrote for ArgoCD"})
    assert r.status_code == 303
    assert pages.reindex.started.wait(30)
    assert [f.status for f in _flags(pages, deploy)] == ["open"]  # not before the re-index is done
    page = pages.get("/owners").text
    assert 'data-job-url="/owners/jobs/1"' in page
    running = pages.get("/owners/jobs/1").json()
    assert running["state"] == "running" and running["tasks"]["embed"] == {"done": 1, "total": 4}
    pages.reindex.gate.set()
    pages.wait_jobs()
    assert pages.reindex.calls == [("app", False)]
    [flag] = _flags(pages, deploy)
    assert (flag.status, flag.resolved_by, flag.resolution_note) == ("fixed", "alice", "rewrote for ArgoCD")
    assert [e.action for e in pages.container.audit.entries(action="owner.fixed")] == ["owner.fixed"]
    assert pages.get("/owners/jobs/1").json()["state"] == "done"
    pages.as_user("bob")
    assert pages.get("/owners/jobs/1").status_code == 404  # not bob's job


def test_a_failed_reindex_leaves_the_flags_open(pages: Pages) -> None:
    _, deploy, _ = _seed(pages)
    pages.reindex.status, pages.reindex.error = "failed", "ref main not found"
    pages.as_user("alice")
    pages.post("/owners/fixed", {"doc_id": deploy})
    pages.wait_jobs()
    assert [f.status for f in _flags(pages, deploy)] == ["open"]
    assert "ref main not found" in pages.get("/owners").text


def test_only_the_owner_or_an_admin_can_act(pages: Pages) -> None:
    _, deploy, flag = _seed(pages)
    pages.container.users.set_groups("bob", ["web", "payments"])  # may read it, does not own it
    pages.as_user("bob")
    for url, data in [("/owners/fixed", {"doc_id": deploy}), ("/owners/dismiss", {"flag_id": flag, "note": "meh"}),
                      ("/owners/deprecate", {"doc_id": deploy}), ("/owners/reassign", {"doc_id": deploy,
                                                                                         "new_owner": "@bob"})]:
        r = pages.post(url, data)
        assert r.status_code == 403, url
        assert "only its owner or an admin" in r.text
    assert pages.reindex.calls == [] and pages.store.calls == []
    assert [f.status for f in _flags(pages, deploy)] == ["open"]
    pages.as_user("root")
    assert pages.post("/owners/dismiss", {"flag_id": flag, "note": "still right"}, form_page="/owners").status_code == 303


def test_dismiss_needs_a_note_and_is_audited(pages: Pages) -> None:
    _, deploy, flag = _seed(pages)
    pages.as_user("alice")
    r = pages.post("/owners/dismiss", {"flag_id": flag, "note": "  "})
    assert "a note is required" in pages.flash(r)
    assert _flags(pages, deploy)[0].status == "open"
    r = pages.post("/owners/dismiss", {"flag_id": flag, "note": "ArgoCD is only in staging"})
    assert "Dismissed flag" in pages.flash(r)
    assert (_flags(pages, deploy)[0].status, _flags(pages, deploy)[0].resolution_note) == \
        ("dismissed", "ArgoCD is only in staging")
    [entry] = pages.container.audit.entries(action="owner.dismissed")
    assert entry.actor == "alice" and entry.details["flag_id"] == flag


def test_deprecate_hides_the_document_from_retrieval_but_keeps_it(pages: Pages) -> None:
    _, deploy, _ = _seed(pages)
    pages.as_user("alice")
    r = pages.post("/owners/deprecate", {"doc_id": deploy, "note": "replaced by docs/argo.md"})
    assert "deprecated" in pages.flash(r)
    doc = pages.container.catalog.document(deploy)
    assert doc is not None and doc.status == "deprecated"
    payloads = [args for name, args in pages.store.calls if name == "payload"]
    assert payloads and payloads[0][0] == deploy and payloads[0][1]["status"] == "deprecated"
    assert [f.status for f in _flags(pages, deploy)] == ["fixed"]
    assert "docs/deploy.md" not in pages.get("/owners").text


def test_reassign_moves_the_document_to_another_queue(pages: Pages) -> None:
    _, deploy, _ = _seed(pages)
    pages.container.users.set_aliases("bob", ["@bob"])
    pages.container.users.set_groups("bob", ["web", "payments"])  # owners see only what they may read
    pages.as_user("alice")
    r = pages.post("/owners/reassign", {"doc_id": deploy, "new_owner": "@bob"})
    assert "Reassigned to @bob" in pages.flash(r)
    assert "docs/deploy.md" not in pages.get("/owners").text
    pages.as_user("bob")
    assert "docs/deploy.md" in pages.get("/owners").text
    [entry] = pages.container.audit.entries(action="owner.reassigned")
    assert entry.details["to"] == "@bob"


def test_mark_fixed_on_a_paused_source_is_refused_up_front(pages: Pages) -> None:
    _, deploy, _ = _seed(pages)
    row = pages.container.catalog.get_source("app")
    pages.container.catalog.update_source(row.id, status="paused")
    pages.as_user("alice")
    r = pages.post("/owners/fixed", {"doc_id": deploy})
    assert "paused" in pages.flash(r)
    assert pages.jobs.list() == []
