"""``sourcewise stale``: exit codes per --min-severity, --changed-since, --json; the owners'
finding commands. In-process CLI over a data dir indexed by the real pipeline."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from assistant.errors import ConfigError
from sourcewise.cli import app
from tests.unit.staleness.conftest import BILLING_V1, StaleWorld, make_billing_repo

runner = CliRunner()


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture
def drifted(stale: StaleWorld, tmp_path):
    """A dead reference in docs/billing.md and a drifted default in docs/rounding.md."""
    repo = make_billing_repo(tmp_path / "shop")
    repo.write("docs/rounding.md", "# Rounding\n\nCall `compute_invoice_total(lines)`;\nit rounds with `rounding=2`.\n")
    repo.commit("rounding doc", "2024-01-11T10:00:00+00:00")
    stale.add("shop", "git", repo.path)
    stale.index("shop")
    return repo


def test_exit_codes_follow_min_severity(stale: StaleWorld, drifted) -> None:
    code, out = cli("stale")
    assert code == 0 and "0 open findings; none at or above dead" in out
    drifted.write("billing/invoice.py", BILLING_V1.replace("rounding: int = 2", "rounding: int = 3"))
    drifted.commit("3 places", "2024-03-01T09:00:00+00:00")
    stale.index("shop")
    assert cli("stale")[0] == 0  # drift alone does not fail the default (dead) gate
    code, out = cli("stale", "--min-severity", "drift")
    assert code == 1 and "DRIFT" in out and "docs/rounding.md" in out
    assert cli("stale", "--min-severity", "age")[0] == 1
    drifted.write("billing/invoice.py", BILLING_V1.replace("rounding: int = 2", "rounding: int = 3")
                  .replace("compute_invoice_total", "invoice_total"))
    renamed = drifted.commit("rename", "2024-03-02T09:00:00+00:00")
    stale.index("shop")
    code, out = cli("stale", "--min-severity", "dead")
    assert code == 1 and out.index("DEAD") < out.index("invoice_total`") and renamed[:12] in out
    assert "fix: `compute_invoice_total` -> `invoice_total` (sourcewise owners patch" in out
    with pytest.raises(ConfigError, match="dead, drift, age"):  # exit 2 from `main`
        cli("stale", "--min-severity", "banana")


def test_age_alone_never_fails_the_default_gate(stale: StaleWorld, drifted) -> None:
    stale.configure(review_days_docs=30)
    stale.index("shop")
    assert {f.kind for f in stale.findings()} == {"age"}
    assert cli("stale")[0] == 0 and cli("stale", "--min-severity", "drift")[0] == 0
    assert cli("stale", "--min-severity", "age")[0] == 1


def test_changed_since_gates_only_the_docs_a_change_touched(stale: StaleWorld, drifted) -> None:
    base = drifted.head()
    drifted.write("billing/invoice.py", BILLING_V1.replace("compute_invoice_total", "invoice_total"))
    drifted.commit("rename", "2024-03-01T09:00:00+00:00")
    drifted.write("docs/other.md", "# Other\n\nNothing stale here.\n")
    drifted.commit("a new doc", "2024-03-02T09:00:00+00:00")
    stale.index("shop")
    assert cli("stale")[0] == 1  # two dead references in all docs
    code, out = cli("stale", "--changed-since", base)
    assert code == 0 and "0 open findings" in out  # the PR did not touch the stale docs
    drifted.write("docs/rounding.md", (drifted.path / "docs/rounding.md").read_text() + "\nMore.\n")
    drifted.commit("touch rounding", "2024-03-03T09:00:00+00:00")
    stale.index("shop")
    code, out = cli("stale", "--changed-since", base, "--json")
    data = json.loads(out)
    assert code == 1 and [f["path"] for f in data["findings"]] == ["docs/rounding.md"]
    with pytest.raises(ConfigError, match="does not know 'no-such-ref'"):
        cli("stale", "--changed-since", "no-such-ref")
    out_file = drifted.path.parent / "written-by-git"
    with pytest.raises(ConfigError, match="does not know"):  # never an option to git
        cli("stale", f"--changed-since=--output={out_file}")
    assert not out_file.exists()


def test_json_shape(stale: StaleWorld, drifted) -> None:
    drifted.write("billing/invoice.py", BILLING_V1.replace("compute_invoice_total", "invoice_total"))
    drifted.commit("rename", "2024-03-01T09:00:00+00:00")
    stale.index("shop")
    code, out = cli("stale", "--json", "--source", "shop")
    data = json.loads(out)
    assert code == 1
    assert set(data) == {"min_severity", "blocking", "counts", "unchecked", "findings"}
    assert data["min_severity"] == "dead" and data["blocking"] == 2 and data["counts"] == {"dead": 2, "drift": 0, "age": 0}
    f = data["findings"][0]
    assert {"id", "kind", "source", "path", "line", "reference", "summary", "evidence", "suggestion", "status",
            "blocking", "owner", "withheld"} <= set(f)
    assert f["blocking"] is True and f["evidence"]["change"]["hunk"].startswith("@@")
    assert "public_summary" not in f["evidence"] and "target" not in f["evidence"]


def test_owner_commands_list_dismiss_and_patch(stale: StaleWorld, drifted, tmp_path) -> None:
    drifted.write("billing/invoice.py", BILLING_V1.replace("compute_invoice_total", "invoice_total"))
    drifted.commit("rename", "2024-03-01T09:00:00+00:00")
    stale.index("shop")
    code, out = cli("owners", "findings", "--json")
    items = json.loads(out)
    assert code == 0 and len(items) == 2
    ids = {i["path"]: i["id"] for i in items}
    code, out = cli("owners", "findings", "--owner", "@billing-team")
    assert code == 0 and "docs/billing.md" in out and "docs/rounding.md" not in out
    code, out = cli("owners", "patch", str(ids["docs/billing.md"]))
    assert code == 0 and out.startswith("--- a/docs/billing.md\n+++ b/docs/billing.md\n")
    patch_file = tmp_path / "fix.patch"
    assert cli("owners", "patch", str(ids["docs/billing.md"]), "--out", str(patch_file))[0] == 0
    drifted.git("apply", "--check", str(patch_file))  # it applies to the docs repository
    with pytest.raises(Exception, match="reason"):
        cli("owners", "dismiss-finding", str(ids["docs/rounding.md"]), "--note", " ")
    assert cli("owners", "dismiss-finding", str(ids["docs/rounding.md"]), "--note", "kept on purpose")[0] == 0
    assert [f.path for f in stale.findings()] == ["docs/billing.md"]
    actions = [e.action for e in stale.audit.entries()]
    assert "finding.patch" in actions and "finding.dismissed" in actions
