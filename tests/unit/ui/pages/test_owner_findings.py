"""Staleness findings on ``/owners`` and ``/admin``: evidence, withheld evidence, download
patch, dismiss (reason required), mark fixed; 404 for what the caller may not see."""

from __future__ import annotations

from sqlalchemy import select

from assistant.catalog.schema import utcnow
from assistant.catalog.staleness_schema import FindingRow
from tests.unit.ui.pages.conftest import Pages, add_doc

HUNK = "@@ -3,7 +3,7 @@\n-def compute_invoice_total(lines):\n+def invoice_total(lines):"
PATCH = "--- a/docs/billing.md\n+++ b/docs/billing.md\n@@ -1 +1 @@\n-`compute_invoice_total`\n+`invoice_total`\n"


def _finding(pages: Pages, doc_id: str, *, code_source: str = "app", owner: str = "@alice") -> int:
    c = pages.container
    doc = c.catalog.document(doc_id)
    summary = "`docs/billing.md` names `compute_invoice_total`, renamed to `invoice_total` in 1a2b3c4"
    public = "`docs/billing.md` names `compute_invoice_total`, which the code no longer defines " \
             "(evidence in a source you cannot read)"
    with c.db.session() as s:
        row = FindingRow(
            fingerprint=f"fp-{doc_id}-{code_source}", source_id=doc.source_id, doc_id=doc_id, path=doc.path,
            kind="dead", reference="compute_invoice_total", line=6, status="open", summary=summary,
            evidence={"doc": {"citation": f"{doc_id.split(':')[0]}@aaaa:docs/billing.md#L6"}, "lines": [6],
                      "context": "Totals come from `compute_invoice_total(lines)`.",
                      "defined": {"citation": f"{code_source}@bbbb:billing/invoice.py#L6-L10", "name": "compute_invoice_total",
                                  "signature": "(lines)"},
                      "steps": [{"commit": "1a2b3c4d" * 5, "author": "Bob <b@x>", "date": "2024-03-01T09:00:00",
                                 "subject": "rename", "name": "compute_invoice_total", "new_name": "invoice_total",
                                 "new_path": None}],
                      "change": {"commit": "1a2b3c4d" * 5, "author": "Bob <b@x>", "date": "2024-03-01T09:00:00",
                                 "subject": "rename", "hunk": HUNK},
                      "public_summary": public, "target": "billing/invoice.py::compute_invoice_total"},
            suggestion={"replace": "compute_invoice_total", "with": "invoice_total", "lines": [6],
                        "why": "renamed in 1a2b3c4", "patch": PATCH},
            code_source=code_source, owner=owner, opened_at=utcnow(), updated_at=utcnow())
        s.add(row)
        s.flush()
        return row.id


def _status(pages: Pages, finding_id: int) -> str:
    with pages.container.db.session() as s:
        return s.scalar(select(FindingRow.status).where(FindingRow.id == finding_id))


def test_owner_sees_evidence_downloads_the_patch_and_dismisses_with_a_reason(pages: Pages) -> None:
    doc = add_doc(pages.container, "app", "docs/billing.md", owner="@alice")
    fid = _finding(pages, doc)
    pages.as_user("alice")
    body = pages.get("/owners").text
    assert "Staleness findings" in body and "renamed to `invoice_total` in 1a2b3c4" in body
    assert "app@bbbb:billing/invoice.py#L6-L10" in body and "-def compute_invoice_total(lines):" in body
    assert f'/owners/findings/{fid}/patch' in body
    patch = pages.get(f"/owners/findings/{fid}/patch")
    assert patch.status_code == 200 and patch.text == PATCH
    assert patch.headers["content-disposition"] == f'attachment; filename="finding-{fid}-billing.md.patch"'
    assert pages.container.audit.entries()[0].action == "finding.patch"
    r = pages.post("/owners/findings/dismiss", {"finding_id": fid, "note": ""})
    assert "a reason is required" in pages.flash(r) and _status(pages, fid) == "open"
    r = pages.post("/owners/findings/dismiss", {"finding_id": fid, "note": "alias kept"}, token=None)
    assert r.status_code == 403 and _status(pages, fid) == "open"  # no CSRF token
    r = pages.post("/owners/findings/dismiss", {"finding_id": fid, "note": "alias kept"})
    assert "it will not come back" in pages.flash(r) and _status(pages, fid) == "dismissed"
    assert pages.container.audit.entries()[0].action == "finding.dismissed"


def test_others_may_not_act_and_outsiders_do_not_see_it(pages: Pages) -> None:
    doc = add_doc(pages.container, "app", "docs/billing.md", owner="@alice")  # source readable by payments
    fid = _finding(pages, doc)
    pages.container.users.create("pat", password="pat-password", groups=["payments"])
    pages.as_user("pat")  # may read, does not own
    assert "compute_invoice_total" not in pages.get("/owners").text
    r = pages.post("/owners/findings/dismiss", {"finding_id": fid, "note": "nah"})
    assert r.status_code == 403 and _status(pages, fid) == "open"
    pages.as_user("bob")  # group web: the document does not exist for him
    assert pages.get(f"/owners/findings/{fid}/patch").status_code == 404
    assert pages.post("/owners/findings/dismiss", {"finding_id": fid, "note": "x"}).status_code == 404
    assert pages.post("/owners/findings/fixed", {"finding_id": fid}).status_code == 404
    assert _status(pages, fid) == "open" and pages.reindex.calls == []


def test_evidence_from_a_source_the_owner_cannot_read_is_withheld(pages: Pages) -> None:
    c = pages.container
    doc = add_doc(c, "app", "docs/billing.md", owner="@alice")
    c.catalog.add_source("vault", "git", "/srv/vault", access_groups=["security"])
    fid = _finding(pages, doc, code_source="vault")
    pages.as_user("alice")
    body = pages.get("/owners").text
    assert "evidence in a source you cannot read" in body and "compute_invoice_total" in body
    for secret in ("`invoice_total`", "vault@bbbb", "-def compute_invoice_total", "1a2b3c4", "/patch"):
        assert secret not in body, secret
    assert pages.get(f"/owners/findings/{fid}/patch").status_code == 404
    pages.as_user("root")
    everything = pages.get("/owners?owner=@alice").text
    assert "vault@bbbb:billing/invoice.py" in everything and "-def compute_invoice_total" in everything


def test_mark_fixed_reindexes_the_documents_source(pages: Pages) -> None:
    doc = add_doc(pages.container, "app", "docs/billing.md", owner="@alice")
    fid = _finding(pages, doc)
    pages.as_user("alice")
    r = pages.post("/owners/findings/fixed", {"finding_id": fid})
    assert "Re-indexing app to check the fix" in pages.flash(r)
    pages.wait_jobs()
    assert pages.reindex.calls == [("app", False)]
    assert [e.action for e in pages.container.audit.entries()][0] == "finding.fixed"


def test_admin_sources_count_documents_with_findings_per_kind(pages: Pages) -> None:
    doc = add_doc(pages.container, "app", "docs/billing.md", owner="@alice")
    _finding(pages, doc)
    _finding(pages, doc, code_source="other")
    pages.as_user("root")
    body = pages.get("/admin").text
    assert "1 doc dead" in body
