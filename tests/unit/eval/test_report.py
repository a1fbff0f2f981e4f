"""Markdown and self-contained HTML reports of an eval run."""

from __future__ import annotations

import base64
import re
from typing import Any

from eval.metrics import CaseScore, aggregate, breakdown
from eval.report import fmt_delta, fmt_metric, render_html, render_markdown, worst_cases

EVIL = "<script>alert('x')</script>"


def _run(*, baseline: bool = True, skipped: bool = True) -> dict[str, Any]:
    scores = [
        CaseScore("ok-1", tags=("api",), sources=("app",), file_ranked=("app:a.py",), chunk_hits=(True,),
                  gold_files=("app:a.py",), cited_files=("app:a.py",), passed=True, cited_total=1,
                  timings={"retrieve": 0.05, "generate": 1.5}),
        CaseScore("miss-2", tags=("api", EVIL), sources=("app",), file_ranked=("app:x.py", "app:y.py", "app:b.py"),
                  chunk_hits=(False, False, True), gold_files=("app:b.py",), passed=False,
                  timings={"retrieve": 0.07, "generate": 2.5}),
        CaseScore("low-3", tags=("docs",), sources=("wiki",), file_ranked=("wiki:p", "wiki:q"),
                  chunk_hits=(False, True), gold_files=("wiki:q",), passed=True,
                  timings={"retrieve": 0.06, "generate": 2.0}),
    ]
    if skipped:
        scores.append(CaseScore("skip-4", tags=("docs",), gold_files=("z",), skipped="source 'gone' not indexed"))
    cases = [{"case_id": s.case_id, "question": f"question of {s.case_id}", "tags": list(s.tags), "passed": s.passed,
              "skipped": s.skipped, "gold_files": list(s.gold_files), "file_ranked": list(s.file_ranked),
              "cited_files": list(s.cited_files), "answer": f"answer of {s.case_id} [1]",
              "reciprocal_rank": s.reciprocal_rank, "timings": dict(s.timings)} for s in scores]
    cases[1]["question"] = f"why does {EVIL} run?"
    cases[1]["answer"] = f"because {EVIL} & more"
    cases[1]["file_ranked"][0] = f"app:{EVIL}.py"
    metrics = aggregate(scores)
    base = dict(metrics, pass_rate=0.5, file_mrr=0.9, latency_generate_p50=1.0) if baseline else None
    return {"id": 7, "set": f"ci {EVIL}", "created_at": "2026-03-01T10:00:00+00:00", "generator": "extractive",
            "settings": {"k": 10, "filters": {"repos": ["app"]}, "note": EVIL}, "baseline_id": 6 if baseline else None,
            "metrics": metrics, "baseline_metrics": base,
            "breakdown": {"tag": breakdown(scores, "tag"), "source": breakdown(scores, "source")},
            "cases": cases,
            "gate": {"passed": False, "failures": [f"pass_rate 66.7% < 80.0% {EVIL}"]} if baseline else None}


HISTORY = [{"id": 5, "created_at": "2026-02-27T10:00:00+00:00", "metrics": {"pass_rate": 0.5, "file_acc@5": 0.6,
                                                                          "file_mrr": 0.4}},
           {"id": 6, "created_at": "2026-02-28T10:00:00+00:00", "metrics": {"pass_rate": 0.5, "file_acc@5": 1.0,
                                                                          "file_mrr": 0.9}}]


def test_formatting() -> None:
    assert fmt_metric("pass_rate", 2 / 3) == "66.7%"
    assert fmt_metric("file_acc@5", 1.0) == "100.0%"
    assert fmt_metric("file_mrr", 0.61111) == "0.611"
    assert fmt_metric("cases", 4) == "4"
    assert fmt_metric("latency_retrieve_p50", 0.0512) == "51 ms"
    assert fmt_metric("latency_generate_p95", 2.5) == "2.50 s"
    assert fmt_metric("pass_rate", None) == "n/a"
    assert fmt_delta("pass_rate", 0.75, 0.5) == ("+25.0 pp", "better")
    assert fmt_delta("stale_citation_rate", 0.2, 0.1) == ("+10.0 pp", "worse")
    assert fmt_delta("latency_generate_p50", 2.0, 1.0) == ("+1.00 s", "worse")
    assert fmt_delta("file_mrr", 0.5, 0.5) == ("±0", "same")
    assert fmt_delta("file_mrr", None, 0.5) == ("", "same")


def test_worst_cases_order() -> None:
    # failed first (miss-2), then passed by ascending reciprocal rank (low-3 at 0.5); ok-1 is perfect; skip-4 skipped
    assert [c["case_id"] for c in worst_cases(_run())] == ["miss-2", "low-3"]
    assert [c["case_id"] for c in worst_cases(_run(), limit=1)] == ["miss-2"]


def test_markdown_report() -> None:
    md = render_markdown(_run(), HISTORY)
    assert md.startswith("# Eval run #7: ci &lt;script&gt;")
    assert "<script>" not in md
    assert "- gate: **FAILED**" in md and "baseline: run #6" in md
    # pass rate 2 of 3 run cases; baseline 50% -> +16.7 pp
    assert "| pass_rate | 66.7% | 50.0% | +16.7 pp |" in md
    # MRR (1 + 1/3 + 1/2) / 3 = 0.611 against 0.9 -> -0.289
    assert "| file_mrr | 0.611 | 0.900 | -0.289 |" in md
    assert "| cases | 4 | 4 | ±0 |" in md and "| skipped | 1 | 1 | ±0 |" in md
    assert "## History" in md and "| #5 |" in md and "| #7 |" in md
    assert "## By tag" in md and "| api | 2 | 0 | 50.0% |" in md
    assert "## By source" in md and "| wiki |" in md
    # generate latencies [1.5, 2.5, 2.0]: p50 = 2.00 s; baseline p50 1.00 s
    assert "| generate | 2.00 s |" in md and "1.00 s" in md
    assert "### `miss-2`: FAILED, reciprocal rank 0.333" in md
    assert "1. `app:&lt;script&gt;alert('x')&lt;/script&gt;.py`" in md and "3. `app:b.py` ✓" in md
    assert "## Skipped cases" in md and "`skip-4`: source 'gone' not indexed" in md


def test_markdown_without_baseline_history_or_skips() -> None:
    md = render_markdown(_run(baseline=False, skipped=False))
    assert "baseline: none" in md and "gate: **not gated**" in md
    assert "| pass_rate | 66.7% |" in md and "delta" not in md
    assert "## History" not in md and "## Skipped cases" not in md


def test_html_report_is_self_contained_and_escaped() -> None:
    page = render_html(_run(), HISTORY)
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page  # every user-provided string escaped
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)  # nothing loaded from outside
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 2  # history + per-tag bars
    assert all(base64.b64decode(i).startswith(b"\x89PNG\r\n\x1a\n") for i in images)
    assert "66.7%" in page and "+16.7 pp" in page and 'class="better">+16.7 pp' in page
    assert 'class="worse">-0.289' in page
    assert "gate: FAILED" in page and "pass_rate 66.7% &lt; 80.0%" in page
    assert "miss-2" in page and "✓ gold" in page and "skip-4" in page
    assert "generate" in page and "2.00 s" in page


def test_html_with_empty_history_and_skipped_cases() -> None:
    page = render_html(_run(baseline=False), ())
    assert "No earlier runs" in page
    assert len(re.findall(r"data:image/png;base64,", page)) == 1  # per-tag bars only
    assert "skip-4" in page and "source &#x27;gone&#x27; not indexed" in page
    assert "not gated" in page and "baseline" not in page.split("<h2>Headline metrics</h2>")[1].split("</table>")[0]


def test_reports_render_a_minimal_run() -> None:
    run = {"id": 1, "set": "empty", "created_at": "2026-03-01T00:00:00+00:00", "generator": "extractive",
           "settings": {}, "baseline_id": None, "metrics": aggregate([]), "baseline_metrics": None,
           "breakdown": {"tag": {}, "source": {}}, "cases": [], "gate": None}
    assert "| pass_rate | n/a |" in render_markdown(run)
    page = render_html(run)
    assert "n/a" in page and "data:image" not in page


def test_all_skipped_run() -> None:
    scores = [CaseScore("s", tags=("t",), gold_files=("a",), skipped="no source")]
    run = {"id": 2, "set": "s", "metrics": aggregate(scores), "breakdown": {"tag": breakdown(scores, "tag")},
           "cases": [{"case_id": "s", "question": "q", "skipped": "no source", "passed": False}]}
    assert "`s`: no source" in render_markdown(run)
    assert "data:image/png;base64," in render_html(run)  # tag bars of n/a values plot as 0


def test_tag_names_are_not_parsed_as_mathtext() -> None:
    run = _run(baseline=False)
    run["breakdown"]["tag"]["$x^{$ a very long tag name indeed"] = {"pass_rate": 0.3, "file_acc@5": 0.7}
    assert "data:image/png;base64," in render_html(run)  # an unbalanced $...$ would raise in matplotlib
