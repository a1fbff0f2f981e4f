"""Dead references, drift and age on fixture repositories with real history."""

from __future__ import annotations

import pytest

from tests.unit.staleness.conftest import BILLING_V1, StaleWorld, make_billing_repo


def test_a_renamed_function_is_a_dead_reference_naming_the_renaming_commit(stale: StaleWorld, tmp_path) -> None:
    repo = make_billing_repo(tmp_path / "shop")
    stale.add("shop", "git", repo.path)
    first = stale.index("shop")
    assert first.findings_opened == 0 and stale.findings() == []
    repo.write("billing/invoice.py", BILLING_V1.replace("compute_invoice_total", "invoice_total"))
    renamed = repo.commit("rename compute_invoice_total", "2024-03-01T09:00:00+00:00", "Bob Ops <bob@example.com>")
    report = stale.index("shop")
    [f] = stale.findings()
    assert report.findings_opened == 1 and report.findings_open == 1
    assert (f.kind, f.reference, f.path, f.line) == ("dead", "compute_invoice_total", "docs/billing.md", 6)
    assert f.evidence["change"]["commit"] == renamed and f.evidence["change"]["author"].startswith("Bob Ops")
    assert "-def compute_invoice_total" in f.evidence["change"]["hunk"]
    assert f.suggestion["with"] == "invoice_total"
    assert renamed[:7] in f.summary and "`invoice_total`" in f.summary
    assert "+Totals come from `invoice_total(lines)`" in f.suggestion["patch"]
    print(f.summary, f.evidence, f.suggestion)


def test_a_rename_chain_suggests_the_last_name_with_each_commit(stale: StaleWorld, tmp_path) -> None:
    repo = make_billing_repo(tmp_path / "shop")
    stale.add("shop", "git", repo.path)
    stale.index("shop")
    repo.write("billing/invoice.py", BILLING_V1.replace("compute_invoice_total", "invoice_total"))
    first = repo.commit("a -> b", "2024-03-01T09:00:00+00:00")
    repo.write("billing/invoice.py", BILLING_V1.replace("compute_invoice_total", "total_of_invoice"))
    second = repo.commit("b -> c", "2024-04-01T09:00:00+00:00")
    stale.index("shop")
    [f] = stale.findings()
    assert f.suggestion["with"] == "total_of_invoice"
    assert [s["commit"] for s in f.evidence["steps"]] == [first, second]
    assert [s["new_name"] for s in f.evidence["steps"]] == ["invoice_total", "total_of_invoice"]
    assert f.evidence["change"]["commit"] == first
    assert "renamed to `invoice_total` in" in f.summary and "then to `total_of_invoice`" in f.summary


def test_a_removed_function_names_the_removing_commit_without_a_suggestion(stale: StaleWorld, tmp_path) -> None:
    repo = make_billing_repo(tmp_path / "shop")
    stale.add("shop", "git", repo.path)
    stale.index("shop")
    start = BILLING_V1.index("def compute_invoice_total")
    end = BILLING_V1.index("def format_invoice")
    repo.write("billing/invoice.py", BILLING_V1[:start] + BILLING_V1[end:])
    gone = repo.commit("drop totals", "2024-03-01T09:00:00+00:00")
    stale.index("shop")
    [f] = stale.findings()
    assert f.suggestion is None and f.evidence["change"]["commit"] == gone
    assert f.summary.endswith(f"removed in {gone[:7]} (drop totals)")


def test_a_changed_default_the_doc_states_is_drift_with_both_signatures(stale: StaleWorld, tmp_path) -> None:
    repo = make_billing_repo(tmp_path / "shop")
    stale.add("shop", "git", repo.path)
    written = repo.head()
    stale.index("shop")
    repo.write("billing/invoice.py", BILLING_V1.replace("rounding: int = 2", "rounding: int = 4"))
    changed = repo.commit("round to 4 places", "2024-03-01T09:00:00+00:00")
    repo.write("billing/invoice.py", BILLING_V1.replace("rounding: int = 2", "rounding: int = 4")
               .replace("TAX_RATE = 0.2", "TAX_RATE = 0.2  # VAT"))
    head = repo.commit("comment", "2024-03-02T09:00:00+00:00")
    report = stale.index("shop")
    [f] = stale.findings()
    assert report.findings_opened == 1
    assert (f.kind, f.reference, f.line) == ("drift", "compute_invoice_total", 6)
    assert f.evidence["aspect"] == "default:rounding"
    assert f.evidence["old"]["commit"] == written and "rounding: int = 2" in f.evidence["old"]["signature"]
    assert f.evidence["new"]["commit"] == head and "rounding: int = 4" in f.evidence["new"]["signature"]
    assert f.evidence["change"]["commit"] == changed
    assert f.summary == (f"`docs/billing.md` says `compute_invoice_total(rounding=2)`, the default is now 4 "
                         f"(changed in {changed[:7]})")
    # a change the doc does not state (currency stays "EUR"; a new keyword) is not drift
    repo.write("docs/billing.md", (repo.path / "docs/billing.md").read_text().replace("rounding=2", "rounding=4"))
    repo.commit("docs: 4 places", "2024-03-03T09:00:00+00:00")
    repo.write("billing/invoice.py", BILLING_V1.replace("rounding: int = 2", "rounding: int = 4, *, strict=False"))
    repo.commit("strict", "2024-03-04T09:00:00+00:00")
    stale.index("shop")
    assert stale.findings() == [] and [x.status for x in stale.findings(None)] == ["closed"]


def test_age_counts_from_the_last_review_and_never_blocks_alone(stale: StaleWorld, tmp_path) -> None:
    from datetime import UTC, datetime, timedelta

    from assistant.staleness import SEVERITY

    recent = (datetime.now(UTC) - timedelta(days=20)).date().isoformat()
    repo = make_billing_repo(tmp_path / "shop")
    repo.write("docs/reviewed.md", f"---\nlast_reviewed: {recent}\n---\n# Reviewed\n\nAll current.\n")
    repo.write("docs/old.md", "---\nlast_reviewed: 2023-06-01\n---\n# Old\n\nTotals: `format_invoice(total)`.\n")
    repo.commit("docs", "2024-01-11T10:00:00+00:00")
    stale.configure(review_days_docs=180)
    stale.add("shop", "git", repo.path)
    stale.index("shop")
    by_path = {f.path: f for f in stale.findings()}
    assert "docs/reviewed.md" not in by_path  # reviewed 20 days ago: not stale
    old = by_path["docs/old.md"]
    assert old.kind == "age" and old.evidence["basis"] == "changed"  # committed after the review date
    assert old.evidence["policy_days"] == 180 and old.evidence["code_changed"] == []
    assert SEVERITY["age"] < SEVERITY["drift"] < SEVERITY["dead"]
    assert stale.payload("shop:docs/old.md")["staleness"] == pytest.approx(0.15)  # low
    # code the doc names changes after its review: the age finding gets stronger
    repo.write("billing/invoice.py", BILLING_V1.replace("{total:.2f}", "{total:,.2f}"))
    changed = repo.commit("thousands separator", "2024-06-01T10:00:00+00:00")
    stale.index("shop")
    old = {f.path: f for f in stale.findings()}["docs/old.md"]
    assert old.evidence["code_changed"][0]["commit"] == changed
    assert "code it names changed since" in old.summary and changed[:7] in old.summary
    assert stale.payload("shop:docs/old.md")["staleness"] == pytest.approx(0.3)


def test_names_in_a_code_block_of_another_language_are_not_references(stale: StaleWorld, tmp_path) -> None:
    repo = make_billing_repo(tmp_path / "shop")
    repo.write("docs/ports.md", "# Ports\n\n```go\nfunc main() { format_invoice(total) }\n```\n")
    repo.write("docs/python.md", "# Python\n\n```python\nformat_invoice(total)\n```\n")
    repo.commit("ports", "2024-01-11T10:00:00+00:00")
    stale.add("shop", "git", repo.path)
    stale.index("shop")
    repo.write("billing/invoice.py", BILLING_V1.replace("def format_invoice", "def render_invoice"))
    repo.commit("rename format_invoice", "2024-03-01T09:00:00+00:00")
    stale.index("shop")
    assert sorted(f.path for f in stale.findings()) == ["docs/billing.md", "docs/python.md"]


def test_a_name_defined_in_several_files_resolves_while_one_remains(stale: StaleWorld, tmp_path) -> None:
    repo = make_billing_repo(tmp_path / "shop")
    repo.write("billing/legacy.py", "def format_invoice(total):\n    return str(total)\n")
    repo.commit("legacy", "2024-01-11T10:00:00+00:00")
    stale.add("shop", "git", repo.path)
    stale.index("shop")
    repo.remove("billing/legacy.py")
    repo.commit("drop legacy", "2024-03-01T09:00:00+00:00")
    assert stale.index("shop").findings_opened == 0 and stale.findings() == []


def test_ignore_file_skips_tokens_and_documents(stale: StaleWorld, tmp_path) -> None:
    repo = make_billing_repo(tmp_path / "shop")
    repo.write("docs/api.md", "# API\n\n`format_invoice` prints.\n")
    repo.write(".sourcewise-stale-ignore", "# kept on purpose\ncompute_invoice_*   # alias stays\ndocs/api.md\n")
    repo.commit("ignore", "2024-01-11T10:00:00+00:00")
    stale.add("shop", "git", repo.path)
    stale.index("shop")
    repo.write("billing/invoice.py", BILLING_V1.replace("compute_invoice_total", "invoice_total")
               .replace("def format_invoice", "def render_invoice"))
    repo.commit("renames", "2024-03-01T09:00:00+00:00")
    stale.index("shop")
    assert [(f.path, f.reference) for f in stale.findings()] == [("docs/billing.md", "billing.invoice.format_invoice")]


def test_a_huge_generated_doc_is_checked_up_to_the_cap_and_counted(stale: StaleWorld, tmp_path) -> None:
    repo = make_billing_repo(tmp_path / "shop")
    repo.write("docs/generated.md", "# Generated\n\n" + "".join(f"- `name_{i}_x`\n" for i in range(300)))
    repo.commit("generated", "2024-01-11T10:00:00+00:00")
    stale.configure(max_references=50)
    stale.add("shop", "git", repo.path)
    report = stale.index("shop")
    assert report.staleness_capped == 1


def test_a_dotted_name_whose_module_moved_gets_the_new_module_path(stale: StaleWorld, tmp_path) -> None:
    repo = make_billing_repo(tmp_path / "shop")
    stale.add("shop", "git", repo.path)
    stale.index("shop")
    repo.move("billing/invoice.py", "billing/invoices.py")
    moved = repo.commit("split billing", "2024-03-01T09:00:00+00:00")
    stale.index("shop")
    found = {f.reference: f for f in stale.findings()}
    assert set(found) == {"billing/invoice.py", "billing.invoice.format_invoice"}
    dotted = found["billing.invoice.format_invoice"]
    assert dotted.suggestion["with"] == "billing.invoices.format_invoice"
    assert dotted.evidence["change"]["commit"] == moved
    assert "from billing.invoices import format_invoice" in dotted.suggestion["patch"]
    assert found["billing/invoice.py"].suggestion["with"] == "billing/invoices.py"


def test_a_long_history_is_parsed_over_several_runs_without_flapping(stale: StaleWorld, tmp_path) -> None:
    repo = make_billing_repo(tmp_path / "shop")  # docs/billing.md written against invoice.py v1
    repo.write("billing/invoice.py", BILLING_V1 + "\n\nTAX_FREE = 0\n")
    repo.write("docs/later.md", "# Later\n\n`compute_invoice_total(lines)` totals.\n")  # against v2
    repo.commit("later doc", "2024-02-01T10:00:00+00:00")
    repo.write("billing/invoice.py", BILLING_V1.replace("compute_invoice_total", "invoice_total"))
    repo.commit("rename", "2024-03-01T09:00:00+00:00")
    stale.configure(max_parses=1)  # one old version per run
    stale.add("shop", "git", repo.path)
    first = stale.index("shop")  # first index already at the rename: both docs need old versions
    assert (first.findings_opened, first.staleness_deferred) == (0, 2)  # v1 parsed; v2 waits
    second = stale.index("shop")  # v2 parsed: both judged
    assert (second.findings_opened, second.findings_closed, second.staleness_deferred) == (2, 0, 0)
    assert sorted(f.path for f in stale.findings()) == ["docs/billing.md", "docs/later.md"]
    third = stale.index("shop")
    assert (third.findings_opened, third.findings_closed, third.staleness_deferred) == (0, 0, 0)


def test_a_keyword_the_function_no_longer_takes_is_drift(stale: StaleWorld, tmp_path) -> None:
    repo = make_billing_repo(tmp_path / "shop")
    repo.write("docs/eur.md", "# Euros\n\n```python\ncompute_invoice_total(lines, currency=\"EUR\")\n```\n")
    repo.commit("euro doc", "2024-01-11T10:00:00+00:00")
    stale.add("shop", "git", repo.path)
    stale.index("shop")
    repo.write("billing/invoice.py", BILLING_V1.replace('currency: str = "EUR", ', ""))
    dropped = repo.commit("one currency", "2024-03-01T09:00:00+00:00")
    stale.index("shop")
    [f] = [x for x in stale.findings() if x.path == "docs/eur.md"]
    assert (f.kind, f.evidence["aspect"], f.evidence["change"]["commit"]) == ("drift", "param:currency", dropped)
    assert "no longer takes `currency`" in f.summary


def test_a_definition_moved_into_another_file_is_followed_to_its_removal(stale: StaleWorld, tmp_path) -> None:
    """sphinx moved ``Index`` into ``sphinx/domains/_index.py`` (no git rename: the old file
    stays). The history walk follows the definition into the file the same commit gave it,
    so the finding names the later commit that removed it, not the move."""
    repo = make_billing_repo(tmp_path / "shop")
    stale.add("shop", "git", repo.path)
    stale.index("shop")
    moved_body = BILLING_V1.split("def format_invoice", 1)[0].replace('"""Invoices."""', '"""Totals."""')
    repo.write("billing/totals.py", moved_body)
    repo.write("billing/invoice.py", "from billing.totals import TAX_RATE\n\n\n"
               "def format_invoice(total: float) -> str:\n    return f\"{total:.2f}\"\n")
    repo.commit("move totals", "2024-02-01T09:00:00+00:00")
    stale.index("shop")
    assert "compute_invoice_total" not in {f.reference for f in stale.findings()}  # still defined
    repo.write("billing/totals.py", moved_body.replace("compute_invoice_total", "invoice_total"))
    gone = repo.commit("rename the total", "2024-03-01T09:00:00+00:00")
    stale.index("shop")
    f = next(f for f in stale.findings() if f.reference.startswith("compute_invoice_total"))
    assert f.evidence["change"]["commit"] == gone
    assert f.suggestion["with"] == "invoice_total"
