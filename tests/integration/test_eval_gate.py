"""The eval harness end to end through the real CLI, model and embedded store: the fixture
corpus is indexed, ``eval run --set fixture`` sets a baseline, a dense-only run fails the
gate with the worse metrics named, reports are written, a case with a missing gold file
is skipped (never passed), and a promoted thumbs-down becomes a case of its catalog set.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from assistant.audit import AuditLog
from assistant.catalog.db import Database
from assistant.feedback import FeedbackService
from assistant.models import User
from tests.fixtures.eval_corpus import SOURCES, build_corpus
from tests.integration.cli import run_cli, run_json

pytestmark = pytest.mark.slow

# The default pipeline passes 46 of the 50 fixture cases (the 4 misses are extractive
# answers that leave out a fact); a floor below that leaves room for harmless drift.
PASS_RATE_FLOOR = 0.8


def tolerances_without_latency(home: Path) -> Path:
    """The shipped tolerances with every latency key switched off (``null``)."""
    import yaml

    shipped = yaml.safe_load((Path(__file__).parents[2] / "eval" / "tolerances.yaml").read_text())
    shipped["tolerances"] = {k: (None if k.startswith("latency") else v) for k, v in shipped["tolerances"].items()}
    path = home / "tolerances-no-latency.yaml"
    path.write_text(yaml.safe_dump(shipped))
    return path


def eval_json(home: Path, *args: str) -> dict:
    return json.loads(run_cli(home, "eval", *args, "--json").stdout)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("eval-gate")
    corpus = build_corpus(root / "corpus")
    home = root / "home"
    for name, _kind, flag in SOURCES:
        run_cli(home, "source", "add", name, flag, str(corpus[name]))
    reports = run_json(home, "index")
    assert [r["status"] for r in reports] == ["ok"] * 3, reports
    return home


def test_baseline_regression_gate_and_reports(home: Path) -> None:
    started = time.monotonic()
    base = eval_json(home, "run", "--set", "fixture")
    m = base["metrics"]
    assert (m["cases"], m["skipped"]) == (50, 0)
    assert m["pass_rate"] >= PASS_RATE_FLOOR, m
    assert m["file_acc@5"] >= 0.9 and m["must_include_rate"] >= 0.75 and base["gate"] is None

    proc = run_cli(home, "eval", "run", "--set", "fixture", "--dense-only", "--baseline", str(base["id"]),
                   check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"regression against run {base['id']}" in proc.stderr
    assert "pass_rate fell" in proc.stderr, proc.stderr
    # which ranking metrics cross their tolerance varies by a case or two between runs on a
    # loaded machine (file_acc@1 0.90 -> 0.86 on one, within 0.02 on another); one must
    fell = [m for m in ("file_acc@1", "file_mrr", "chunk_acc@1", "chunk_mrr") if f"{m} fell" in proc.stderr]
    assert fell, proc.stderr
    assert "fail" in proc.stdout and "ident-shop-client" in proc.stdout  # the table and the failed cases
    runs = run_json(home, "eval", "list")
    regressed = runs[0]
    assert regressed["status"] == "done" and regressed["gate_passed"] is False
    assert regressed["baseline_id"] == base["id"]

    # `latest` never picks a run that failed its gate: the unchanged pipeline passes again
    # (latency off here: this checks the choice of baseline, and a test never gates on
    # how busy the machine is; the shipped latency tolerance stays as it is)
    again = eval_json(home, "run", "--set", "fixture", "--baseline", "latest",
                      "--tolerances", str(tolerances_without_latency(home)))
    assert again["baseline_id"] == base["id"] and again["gate"]["passed"] is True
    assert again["metrics"]["pass_rate"] == m["pass_rate"]

    out = run_cli(home, "eval", "report", str(regressed["id"])).stdout.split()
    md, html = Path(out[0]), Path(out[1])
    assert md.suffix == ".md" and html.suffix == ".html" and md.parent == home / "eval-reports"
    text = md.read_text()
    assert "fixture" in text and "pass_rate" in text and "ident-shop-client" in text
    assert "<html" in html.read_text().lower()
    custom = home.parent / "r.md"
    assert run_cli(home, "eval", "report", "latest", "--md", str(custom)).stdout.strip() == str(custom)
    assert custom.is_file()
    print(f"eval gate flow: {time.monotonic() - started:.1f}s")


def test_missing_gold_is_skipped_not_passed(home: Path) -> None:
    extra = home.parent / "extra.yaml"
    extra.write_text(
        "name: extra\ncases:\n"
        "  - {id: ok, question: 'Where is REFUND_WINDOW_DAYS defined?', gold: ['shop:billing/refunds.py']}\n"
        "  - {id: moved, question: 'Where are money helpers?', gold: ['shop:billing/money.py']}\n"
    )
    proc = run_cli(home, "eval", "run", "--set", str(extra))
    assert "skipped moved: gold path missing: shop:billing/money.py" in " ".join(proc.stdout.split())
    run = run_json(home, "eval", "list")[0]
    assert run["set"] == "extra" and run["pass_rate"] == 1.0 and run["cases_saved"] == 2
    with pytest.raises(AssertionError, match="no eval set 'nothing-here'"):
        run_cli(home, "eval", "run", "--set", "nothing-here")


def test_promoted_feedback_becomes_a_case_of_its_catalog_set(home: Path) -> None:
    asked = run_json(home, "ask", "how long do customers have to ask for a refund?")
    interaction = asked["interaction_id"]
    db = Database(f"sqlite:///{home}/catalog.db")
    feedback = FeedbackService(db, AuditLog(db))
    fid = feedback.rate(interaction, User("cli", is_admin=True), "down", "wrong_answer", "should say 30 days")
    db.close()
    run_cli(home, "feedback", "promote", "feedback", str(fid), "--gold", "shop:billing/refunds.py",
            "--set", "regressions", "--must-include", "30", "--tag", "refunds")
    result = eval_json(home, "run", "--set", "regressions")
    assert result["metrics"]["cases"] == 1 and result["metrics"]["skipped"] == 0
    runs = run_json(home, "eval", "list")
    assert runs[0]["set"] == "regressions" and runs[0]["id"] == result["id"]
    exported = home.parent / "regressions.yaml"
    run_cli(home, "eval", "export-catalog", "--set", "regressions", "--out", str(exported))
    text = exported.read_text()
    assert "how long do customers have to ask for a refund?" in text and "billing/refunds.py" in text
