"""Staleness end to end: the real CLI, the bundled model, EdgeStore and a git repository
with real history: a rename becomes a dead reference, the gate fails, the answer says
what is wrong, the fix closes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.gitrepo import GitRepo
from tests.integration.cli import run_cli, run_json

pytestmark = pytest.mark.slow

CODE = '''"""Invoices."""


def compute_invoice_total(lines: list, rounding: int = 2) -> float:
    """Sum the invoice lines and add VAT."""
    subtotal = sum(line.amount for line in lines)
    return round(subtotal * 1.2, rounding)
'''
DOC = '''# Billing

Invoice totals come from `compute_invoice_total(lines)` in `billing/invoice.py`: it sums
the invoice lines and adds VAT.
'''


def test_rename_gate_answer_and_fix(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "shop")
    repo.write("billing/invoice.py", CODE)
    repo.write("docs/billing.md", DOC)
    repo.commit("billing", "2024-01-10T10:00:00+00:00")
    home = tmp_path / "home"
    env = {"SOURCEWISE_STALENESS__REVIEW_DAYS_DOCS": "100000"}  # age is not what this test is about
    run_cli(home, "source", "add", "shop", "--git", str(repo.path), env=env)
    [first] = run_json(home, "index", env=env)
    assert first["status"] == "ok" and first["findings_opened"] == 0 and first["symbols"] >= 1

    repo.write("billing/invoice.py", CODE.replace("compute_invoice_total", "invoice_total"))
    renamed = repo.commit("billing: shorter name", "2024-03-01T09:00:00+00:00", "Bob Ops <bob@example.com>")
    [second] = run_json(home, "index", env=env)
    assert (second["findings_opened"], second["findings_open"]) == (1, 1)

    gate = run_cli(home, "stale", "--json", env=env, check=False)
    assert gate.returncode == 1, gate.stderr
    [f] = json.loads(gate.stdout)["findings"]
    assert f["evidence"]["change"]["commit"] == renamed and f["suggestion"]["with"] == "invoice_total"
    assert run_cli(home, "stale", "--min-severity", "banana", env=env, check=False).returncode == 2

    answer = json.loads(run_cli(home, "ask", "kind:docs Where do invoice totals come from?", "--json",
                                env=env).stdout)
    assert any("names `compute_invoice_total`, renamed to `invoice_total` in " + renamed[:7] in w
               for w in answer["stale_warnings"]), answer["stale_warnings"]

    repo.write("docs/billing.md", DOC.replace("compute_invoice_total", "invoice_total"))
    repo.commit("docs: new name", "2024-03-02T09:00:00+00:00")
    [third] = run_json(home, "index", env=env)
    assert (third["findings_closed"], third["findings_open"]) == (1, 0)
    assert run_cli(home, "stale", env=env).returncode == 0
