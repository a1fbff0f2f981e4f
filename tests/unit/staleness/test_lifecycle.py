"""Findings live across re-indexing: kept, closed when the cause goes away, reopened when
it comes back, never reopened once dismissed; scores follow."""

from __future__ import annotations

import pytest

from assistant.errors import ConfigError, NotFoundError, PermissionDeniedError
from tests.fixtures.postgres import catalog_url, pg_server  # noqa: F401 - fixtures
from tests.unit.staleness.conftest import BILLING_V1, StaleWorld, make_billing_repo


@pytest.fixture
def stale(tmp_path, monkeypatch: pytest.MonkeyPatch, catalog_url: str):
    """The staleness world with its catalog on SQLite and on PostgreSQL (findings' lifecycle SQL)."""
    monkeypatch.setenv("SOURCEWISE_CATALOG__URL", catalog_url)
    w = StaleWorld(tmp_path, monkeypatch)
    yield w
    w.close()


def renamed_world(stale: StaleWorld, tmp_path):
    repo = make_billing_repo(tmp_path / "shop")
    stale.add("shop", "git", repo.path, groups=["eng"])
    stale.index("shop")
    repo.write("billing/invoice.py", BILLING_V1.replace("compute_invoice_total", "invoice_total"))
    repo.commit("rename", "2024-03-01T09:00:00+00:00")
    stale.index("shop")
    return repo


def test_the_fix_closes_the_finding_and_a_regression_reopens_it(stale: StaleWorld, tmp_path) -> None:
    repo = renamed_world(stale, tmp_path)
    [f] = stale.findings()
    assert stale.payload("shop:docs/billing.md")["staleness"] == pytest.approx(0.6)
    assert "renamed to `invoice_total`" in stale.payload("shop:docs/billing.md")["stale_reason"]
    again = stale.index("shop")  # nothing changed: kept, not duplicated
    assert (again.findings_opened, again.findings_closed, again.findings_open) == (0, 0, 1)
    assert [x.id for x in stale.findings()] == [f.id]

    doc = (repo.path / "docs/billing.md").read_text()
    repo.write("docs/billing.md", doc.replace("compute_invoice_total", "invoice_total"))
    repo.commit("docs: new name", "2024-03-02T09:00:00+00:00")
    fixed = stale.index("shop")
    assert fixed.findings_closed == 1 and stale.findings() == []
    [closed] = stale.findings("closed")
    assert closed.id == f.id and closed.closed_at is not None
    assert stale.payload("shop:docs/billing.md")["staleness"] == 0.0
    assert stale.payload("shop:docs/billing.md").get("stale_reason") is None

    repo.write("docs/billing.md", doc)  # the old name comes back
    repo.commit("docs: revert", "2024-03-03T09:00:00+00:00")
    repo.write("billing/invoice.py", BILLING_V1.replace("compute_invoice_total", "invoice_total_v2"))
    repo.commit("rename again", "2024-03-04T09:00:00+00:00")
    stale.index("shop")  # the doc names compute_invoice_total again, defined then? no: tracked by stickiness only
    repo.write("billing/invoice.py", BILLING_V1)
    repo.commit("restore", "2024-03-05T09:00:00+00:00")
    repo.write("docs/billing.md", doc + "\nMore.\n")
    repo.commit("docs touch", "2024-03-06T09:00:00+00:00")
    stale.index("shop")
    repo.write("billing/invoice.py", BILLING_V1.replace("compute_invoice_total", "invoice_total"))
    repo.commit("rename once more", "2024-03-07T09:00:00+00:00")
    back = stale.index("shop")
    [reopened] = stale.findings()
    assert reopened.id == f.id and reopened.reopened == 1 and back.findings_opened == 1


def test_a_dismissed_finding_stays_dismissed_across_reindexing(stale: StaleWorld, tmp_path) -> None:
    repo = renamed_world(stale, tmp_path)
    [f] = stale.findings()
    owner = stale.users.create("bea", password="bea-password", groups=["eng"], aliases=["@billing-team"])
    other = stale.users.create("olaf", password="olaf-password", groups=["eng"])
    with pytest.raises(PermissionDeniedError):
        stale.service.dismiss(f.id, other, "not mine")
    with pytest.raises(ConfigError, match="reason"):
        stale.service.dismiss(f.id, owner, "  ")
    view = stale.service.dismiss(f.id, owner, "the old name is kept as an alias")
    assert view.status == "dismissed" and view.dismiss_note == "the old name is kept as an alias"
    assert stale.payload("shop:docs/billing.md")["staleness"] == 0.0
    [entry] = [e for e in stale.audit.entries() if e.action == "finding.dismissed"]
    assert entry.actor == "bea" and entry.details["note"] == "the old name is kept as an alias"
    repo.write("README.md", "# Shop\n\nChanged.\n")
    repo.commit("readme", "2024-03-02T09:00:00+00:00")
    report = stale.index("shop")
    assert report.findings_opened == 0 and stale.findings() == []
    [kept] = stale.findings("dismissed")
    assert kept.id == f.id and kept.dismissed_by == "bea"
    with pytest.raises(ConfigError, match="dismissed"):
        stale.service.dismiss(f.id, owner, "again")


def test_mark_fixed_reindexes_and_reports_whether_it_closed(stale: StaleWorld, tmp_path) -> None:
    from indexers.runner import index_source

    repo = renamed_world(stale, tmp_path)
    [f] = stale.findings()
    admin = stale.users.create("root", password="root-password", is_admin=True)
    still = stale.service.mark_fixed(f.id, admin, lambda name: stale.index(name))
    assert still.status == "open"  # nothing was fixed
    doc = (repo.path / "docs/billing.md").read_text()
    repo.write("docs/billing.md", doc.replace("compute_invoice_total", "invoice_total"))
    repo.commit("docs: new name", "2024-03-02T09:00:00+00:00")
    done = stale.service.mark_fixed(f.id, admin, lambda name: stale.index(name))
    assert done.status == "closed"
    assert [e.details["status"] for e in stale.audit.entries() if e.action == "finding.fixed"] == ["closed", "open"]
    assert index_source is not None


def test_a_deleted_doc_closes_its_findings(stale: StaleWorld, tmp_path) -> None:
    repo = renamed_world(stale, tmp_path)
    assert len(stale.findings()) == 1
    repo.remove("docs/billing.md")
    repo.commit("drop the doc", "2024-03-02T09:00:00+00:00")
    report = stale.index("shop")
    assert report.findings_closed == 1 and [f.path for f in stale.findings("closed")] == ["docs/billing.md"]
    # and the README, which links the deleted doc, now has a dead link of its own
    [link] = stale.findings()
    assert (link.path, link.reference, link.kind) == ("README.md", "docs/billing.md", "dead")
    assert "deleted in" in link.summary and link.suggestion is None


def test_a_failed_code_source_invents_nothing_and_leaves_findings_alone(stale: StaleWorld, tmp_path) -> None:
    import shutil

    repo = renamed_world(stale, tmp_path)
    [f] = stale.findings()
    # the docs move to their own directory source, checked against the code source
    docs = tmp_path / "handbook"
    docs.mkdir()
    (docs / "totals.md").write_text("# Totals\n\nUse `format_invoice(total)` to print totals.\n")
    stale.configure(code_sources=["shop"])
    stale.add("handbook", "docs", docs)
    stale.index("handbook")
    assert [x.path for x in stale.findings()] == ["docs/billing.md"]
    shutil.rmtree(repo.path / ".git")  # the code source breaks
    with pytest.raises(AssertionError):
        stale.index("shop")
    stale.index("handbook")
    assert [x.id for x in stale.findings()] == [f.id]  # untouched, nothing new


def test_findings_need_read_access_and_owners_only_act(stale: StaleWorld, tmp_path) -> None:
    renamed_world(stale, tmp_path)
    [f] = stale.findings()
    outsider = stale.users.create("sam", password="sam-password", groups=["sales"])
    assert stale.service.list(outsider) == []
    with pytest.raises(NotFoundError):
        stale.service.get(f.id, outsider)
    with pytest.raises(NotFoundError):
        stale.service.dismiss(f.id, outsider, "x")
    with pytest.raises(NotFoundError):
        stale.service.patch(f.id, outsider)


def test_removing_a_source_removes_its_findings(stale: StaleWorld, tmp_path) -> None:
    renamed_world(stale, tmp_path)
    assert len(stale.findings(None)) == 1
    stale.catalog.remove_source(stale.catalog.get_source("shop").id)
    assert stale.findings(None) == []


def test_owners_get_one_message_per_run_listing_what_is_new(stale: StaleWorld, tmp_path) -> None:
    repo = make_billing_repo(tmp_path / "shop")
    repo.write("docs/more.md", "---\nowner: \"@billing-team\"\n---\n# More\n\n`format_invoice(total)` prints.\n")
    repo.commit("more", "2024-01-11T10:00:00+00:00")
    stale.add("shop", "git", repo.path)
    stale.index("shop")
    repo.write("billing/invoice.py", BILLING_V1.replace("compute_invoice_total", "invoice_total")
               .replace("def format_invoice", "def render_invoice"))
    repo.commit("renames", "2024-03-01T09:00:00+00:00")
    stale.index("shop")
    texts = [body["text"] for _, body in stale.posted]
    n = len(stale.findings())
    assert n >= 3 and {f.path for f in stale.findings()} == {"docs/billing.md", "docs/more.md"}
    assert len(texts) == 1  # several findings, one owner: one message
    assert texts[0].startswith(f"@billing-team: {n} new staleness findings on your documents in shop: ")
    assert texts[0].count("\n• ") == n - 1 and texts[0].rstrip().endswith("/owners")
    assert all(f.notified_at is not None for f in stale.findings())
    stale.index("shop")
    assert len(stale.posted) == 1  # nothing new: nothing sent


def test_a_reembedded_doc_keeps_its_score_and_an_edit_keeps_a_true_finding(stale: StaleWorld, tmp_path) -> None:
    repo = renamed_world(stale, tmp_path)
    [f] = stale.findings()
    doc = (repo.path / "docs/billing.md").read_text()
    repo.write("docs/billing.md", doc + "\nA new paragraph about refunds.\n")  # still names the old function
    repo.commit("docs: refunds", "2024-03-02T09:00:00+00:00")
    report = stale.index("shop")
    assert report.changed == 1 and report.findings_closed == 0  # an unrelated edit does not hide it
    [kept] = stale.findings()
    assert kept.id == f.id and kept.line == 6
    assert stale.payload("shop:docs/billing.md")["staleness"] == pytest.approx(0.6)  # re-embedded, re-applied
    assert stale.catalog.document("shop:docs/billing.md").staleness == pytest.approx(0.6)
