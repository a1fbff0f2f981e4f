"""Admin eval runs: the list, the self-contained report, admin-only access."""

from __future__ import annotations

from eval.cases import EvalCase, EvalSet, Gold
from eval.store import EvalStore
from tests.unit.ui.pages.conftest import Pages


def _run(pages: Pages) -> int:
    store = EvalStore(pages.container.db)
    cases = (EvalCase("c1", "where is <script>alert(1)</script> retried?", (Gold("payments/retry.py", "app"),)),)
    run = store.start(EvalSet("smoke", cases), generator="extractive")
    store.save_result(run, "c1", {"question": cases[0].question, "passed": False, "gold_files": ["app:payments/retry.py"],
                                  "file_ranked": ["app:x.py", "app:payments/retry.py"], "reciprocal_rank": 0.5,
                                  "tags": ["code"], "timings": {"answer": 0.02}, "answer": "see [1]"})
    store.finish(run, {"pass_rate": 1.0, "file_acc@5": 1.0, "file_mrr": 1.0, "cases": 1, "skipped": 0},
                 {"tag": {}, "source": {}}, None)
    return run


def test_runs_are_listed_with_their_reports(pages: Pages) -> None:
    pages.as_user("root")
    assert "No eval runs yet" in pages.get("/admin/eval").text
    run = _run(pages)
    body = pages.get("/admin/eval").text
    assert f"#{run}" in body and "smoke" in body and "100.0 %" in body and f'id="report-{run}"' in body
    report = pages.get(f"/admin/eval/{run}/report")
    assert report.status_code == 200 and "<script>alert(1)" not in report.text
    assert "&lt;script&gt;" in report.text and "default-src 'none'" in report.headers["content-security-policy"]
    md = pages.get(f"/admin/eval/{run}/report.md")
    assert md.status_code == 200 and "smoke" in md.text and md.headers["content-type"].startswith("text/markdown")
    assert pages.get("/admin/eval/999/report").status_code == 404
    assert "smoke" in pages.get("/admin/eval?set=smoke").text and f'id="report-{run}"' not in pages.get("/admin/eval?set=other").text


def test_eval_pages_are_for_admins_only(pages: Pages) -> None:
    run = _run(pages)
    pages.as_user("bob")
    assert pages.get("/admin/eval").status_code == 403
    assert pages.get(f"/admin/eval/{run}/report").status_code == 403
