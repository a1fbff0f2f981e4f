"""Docs and wikis outside the code's repository, checked against ``staleness.code_sources``;
evidence from a code source some readers may not read."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from tests.fixtures.gitrepo import GitRepo
from tests.unit.staleness.conftest import BILLING_V1, StaleWorld, make_billing_repo

WIKI_PAGE = "# Billing internals\n\nThe totals live in [invoice.py](billing/invoice.py); see also `compute_invoice_total`.\n"


def _at(path, when: str) -> None:
    ts = datetime.fromisoformat(when).timestamp()
    os.utime(path, (ts, ts))


def test_a_docs_directory_linking_a_moved_file_gets_the_new_path(stale: StaleWorld, tmp_path) -> None:
    repo = make_billing_repo(tmp_path / "shop")
    handbook = tmp_path / "handbook"
    handbook.mkdir()
    (handbook / "billing.md").write_text(WIKI_PAGE)
    _at(handbook / "billing.md", "2024-02-01T00:00:00+00:00")  # written after the code's first commit
    stale.configure(code_sources=["shop"])
    stale.add("shop", "git", repo.path)
    stale.add("handbook", "docs", handbook)
    stale.index("shop")
    stale.index("handbook")
    assert [f.summary for f in stale.findings()] == []
    repo.move("billing/invoice.py", "billing/invoices.py")
    moved = repo.commit("split billing", "2024-03-01T09:00:00+00:00")
    report = stale.index("shop")  # re-indexing the code checks the docs linked to it
    assert report.findings_opened == 3  # the handbook's link, and the shop's own doc (path, dotted name)
    [f] = [x for x in stale.findings() if x.doc_id.startswith("handbook:")]
    assert (f.path, f.reference, f.code_source) == ("billing.md", "billing/invoice.py", "shop")
    assert f.suggestion["with"] == "billing/invoices.py" and f.evidence["change"]["commit"] == moved
    assert f.summary == f"`billing.md` links `billing/invoice.py`, moved to `billing/invoices.py` in {moved[:7]}"
    assert "+The totals live in [invoice.py](billing/invoices.py)" in f.suggestion["patch"]


def test_a_git_wiki_linking_a_moved_file_gets_the_new_path(stale: StaleWorld, tmp_path) -> None:
    repo = make_billing_repo(tmp_path / "shop")
    wiki = GitRepo(tmp_path / "wiki")
    wiki.write("Billing.md", WIKI_PAGE)
    wiki.commit("page", "2024-02-01T00:00:00+00:00")
    stale.configure(code_sources=["shop"])
    stale.add("shop", "git", repo.path)
    stale.add("wiki", "wiki", wiki.path, format="git")
    stale.index("shop")
    stale.index("wiki")
    repo.move("billing/invoice.py", "billing/invoices.py")
    repo.write("billing/invoices.py", BILLING_V1.replace("compute_invoice_total", "invoice_total"))
    repo.commit("move and rename", "2024-03-01T09:00:00+00:00")
    stale.index("shop")
    found = {f.reference: f for f in stale.findings()}
    assert found["billing/invoice.py"].suggestion["with"] == "billing/invoices.py"
    name = found["compute_invoice_total"]
    assert name.suggestion["with"] == "invoice_total"
    assert name.evidence["change"]["new_path"] == "billing/invoices.py"


def test_a_doc_older_than_the_code_tracks_nothing(stale: StaleWorld, tmp_path) -> None:
    repo = make_billing_repo(tmp_path / "shop")
    handbook = tmp_path / "handbook"
    handbook.mkdir()
    (handbook / "billing.md").write_text(WIKI_PAGE)
    _at(handbook / "billing.md", "2020-01-01T00:00:00+00:00")  # before the code existed
    stale.configure(code_sources=["shop"])
    stale.add("shop", "git", repo.path)
    stale.add("handbook", "docs", handbook)
    stale.index("shop")
    stale.index("handbook")
    repo.move("billing/invoice.py", "billing/invoices.py")
    repo.commit("split billing", "2024-03-01T09:00:00+00:00")
    stale.index("shop")
    assert [f for f in stale.findings() if f.doc_id.startswith("handbook:")] == []


def restricted_world(stale: StaleWorld, tmp_path):
    repo = make_billing_repo(tmp_path / "shop")
    handbook = tmp_path / "handbook"
    handbook.mkdir()
    (handbook / "billing.md").write_text("---\nowner: \"@bea\"\n---\n" + WIKI_PAGE)
    _at(handbook / "billing.md", "2024-02-01T00:00:00+00:00")
    stale.configure(code_sources=["shop"])
    stale.add("shop", "git", repo.path, groups=["security"])
    stale.add("handbook", "docs", handbook, groups=["eng"])
    stale.index("shop")
    stale.index("handbook")
    repo.write("billing/invoice.py", BILLING_V1.replace("compute_invoice_total", "secret_total_v2"))
    renamed = repo.commit("rename", "2024-03-01T09:00:00+00:00")
    stale.index("shop")
    return renamed


def test_restricted_evidence_is_withheld_from_the_owner_outside_its_group(stale: StaleWorld, tmp_path) -> None:
    renamed = restricted_world(stale, tmp_path)
    bea = stale.users.create("bea", password="bea-password", groups=["eng"])
    root = stale.users.create("root", password="root-password", is_admin=True)
    [mine] = stale.service.queue(bea)
    assert mine.kind == "dead" and mine.reference == "compute_invoice_total" and mine.withheld
    shown = repr(mine.as_json())
    for secret in ("secret_total_v2", "billing/invoice.py#L", renamed[:7], "def compute_invoice_total", "hunk"):
        assert secret not in shown, secret
    assert mine.evidence["withheld"] == "evidence in a source you cannot read"
    assert mine.suggestion is None and mine.code_source is None
    assert mine.evidence["doc"]["citation"].startswith("handbook@")
    with pytest.raises(Exception, match="no patch"):
        stale.service.patch(mine.id, bea)
    # the document's readers see the public reason in answers, not the code's new name
    payload = stale.payload("handbook:billing.md")
    assert payload["staleness"] > 0.5 and "secret_total_v2" not in payload["stale_reason"]
    assert "evidence in a source you cannot read" in payload["stale_reason"]
    # an admin sees everything
    full = stale.service.get(mine.id, root)
    assert not full.withheld and full.suggestion["with"] == "secret_total_v2"
    assert renamed[:7] in full.summary and "-def compute_invoice_total" in full.evidence["change"]["hunk"]
    name, patch = stale.service.patch(mine.id, root)
    assert name.endswith(".patch") and "+The totals live in" in patch or "secret_total_v2" in patch
    # the owner's notification did not carry it either
    about = [body["text"] for _, body in stale.posted if "handbook" in body["text"]]
    assert about and all("secret_total_v2" not in text for text in about)
    assert about[0].startswith("@bea: 1 new staleness finding on your documents in handbook")


def test_a_reader_in_both_groups_sees_the_evidence(stale: StaleWorld, tmp_path) -> None:
    restricted_world(stale, tmp_path)
    both = stale.users.create("ivy", password="ivy-password", groups=["eng", "security"], aliases=["@bea"])
    [f] = stale.service.queue(both)
    assert not f.withheld and f.suggestion["with"] == "secret_total_v2"
    assert datetime.now(UTC) >= f.opened_at
