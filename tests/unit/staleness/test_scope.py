"""Scoped detection (after an incremental run) against a full one: the same open findings
after every step of a history, and only the affected documents re-checked."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from indexers.staleness.detect import Detector
from indexers.staleness.ignore import IGNORE_FILE
from indexers.staleness.scope import DETECTOR_VERSION
from tests.fixtures.gitrepo import GitRepo
from tests.unit.staleness.conftest import StaleWorld

BILLING = '''"""Invoices."""


def compute_invoice_total(lines: list, rounding: int = 2) -> float:
    return round(sum(lines), rounding)


def format_invoice(total: float) -> str:
    return f"{total:.2f}"
'''
USERS = '''"""Users."""


def create_user(name: str) -> dict:
    return {"name": name}


def delete_user(name: str) -> None:
    return None
'''
UTIL = '''"""Helpers."""


def slugify(text: str) -> str:
    return "-".join(text.split())
'''


def doc(title: str, *refs: str) -> str:
    lines = [f"# {title}", ""] + [f"Use `{r}` here." for r in refs]
    return "\n".join(lines) + "\n"


def make_repo(path: Path) -> GitRepo:
    repo = GitRepo(path)
    repo.write("pkg/__init__.py", "")
    repo.write("pkg/billing.py", BILLING)
    repo.write("pkg/users.py", USERS)
    repo.write("pkg/util.py", UTIL)
    repo.write("docs/billing.md", doc("Billing", "compute_invoice_total(lines)", "format_invoice()",
                                      "pkg/billing.py"))
    repo.write("docs/users.md", doc("Users", "create_user(name)", "delete_user(name)"))
    repo.write("docs/util.md", doc("Util", "slugify(text)"))
    repo.write("docs/intro.md", doc("Intro") + "Nothing from the code here.\n")
    repo.commit("start", "2024-01-10T10:00:00+00:00")
    return repo


def snapshot(stale: StaleWorld) -> dict[str, tuple[Any, ...]]:
    return {f.fingerprint: (f.kind, f.doc_id, f.reference, f.line, f.summary, f.evidence, f.suggestion, f.owner)
            for f in stale.findings()}


def assert_same_as_full(stale: StaleWorld, name: str) -> dict[str, tuple[Any, ...]]:
    scoped = snapshot(stale)
    Detector(stale.db, stale.store, stale.settings).run(name)  # no scope: every document
    assert snapshot(stale) == scoped
    return scoped


def test_scoped_detection_matches_a_full_one_after_every_step(stale: StaleWorld, tmp_path: Path) -> None:
    stale.configure(review_days_docs=30)  # age findings too (the docs are years old)
    repo = make_repo(tmp_path / "shop")
    stale.add("shop", "git", repo.path)
    first = stale.index("shop")
    assert not first.staleness_scoped and first.staleness_checked_docs == 4
    assert first.counts()["staleness_state"]["targets"]["shop"]
    assert_same_as_full(stale, "shop")

    def step(message: str, date: str) -> dict[str, tuple[Any, ...]]:
        repo.commit(message, date)
        report = stale.index("shop")
        assert report.staleness_scoped, message
        return assert_same_as_full(stale, "shop")

    repo.write("pkg/billing.py", BILLING.replace("compute_invoice_total", "invoice_total"))
    found = step("rename", "2024-02-01T10:00:00+00:00")
    assert {(k, r) for k, _, r, *_ in found.values() if k == "dead"} == {("dead", "compute_invoice_total")}

    repo.write("pkg/users.py", USERS[: USERS.index("def delete_user")])
    found = step("remove delete_user", "2024-02-02T10:00:00+00:00")
    assert {r for k, _, r, *_ in found.values() if k == "dead"} == {"compute_invoice_total", "delete_user"}

    repo.write("pkg/accounts.py", '"""Accounts."""\n\n\ndef delete_user(name: str) -> None:\n    return None\n')
    found = step("re-add delete_user in a new file", "2024-02-03T10:00:00+00:00")
    assert {r for k, _, r, *_ in found.values() if k == "dead"} == {"compute_invoice_total"}

    repo.write("docs/billing.md", doc("Billing", "invoice_total(lines)", "format_invoice()", "pkg/billing.py"))
    found = step("doc edit", "2024-02-04T10:00:00+00:00")
    assert not [k for k, *_ in found.values() if k == "dead"]

    repo.remove("pkg/billing.py")
    found = step("remove a linked file", "2024-02-05T10:00:00+00:00")
    assert {r for k, _, r, *_ in found.values() if k == "dead"} >= {"pkg/billing.py"}

    repo.remove("docs/users.md")
    found = step("doc delete", "2024-02-06T10:00:00+00:00")
    assert not [d for _, d, *_ in found.values() if d.endswith("docs/users.md")]

    repo.write("pkg/util.py", UTIL + "\n\n# a comment\n")
    step("unrelated code edit", "2024-02-07T10:00:00+00:00")


def test_an_unrelated_one_file_change_rechecks_only_the_documents_it_affects(stale: StaleWorld,
                                                                             tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "shop")
    stale.add("shop", "git", repo.path)
    stale.index("shop")
    repo.write("pkg/util.py", UTIL.replace('"-".join', '"_".join'))
    repo.commit("util tweak", "2024-02-07T10:00:00+00:00")
    report = stale.index("shop")
    assert report.staleness_scoped and report.counts()["staleness_checked_docs"] == 1  # docs/util.md only
    repo.write("pkg/extra.py", "def frobnicate() -> int:\n    return 1\n")
    repo.commit("a new file no doc names", "2024-02-08T10:00:00+00:00")
    report = stale.index("shop")
    assert report.staleness_scoped and report.staleness_checked_docs == 0
    assert_same_as_full(stale, "shop")


def test_full_detection_without_a_clean_previous_state(stale: StaleWorld, tmp_path: Path, monkeypatch) -> None:
    from indexers.runner import index_source

    repo = make_repo(tmp_path / "shop")
    stale.add("shop", "git", repo.path)
    stale.index("shop")
    report = index_source(stale.container, "shop", full=True)  # index --full
    assert not report.staleness_scoped and report.staleness_checked_docs == 4
    stale.configure(max_references=500)  # other settings: other rules
    report = stale.index("shop")
    assert not report.staleness_scoped and report.staleness_checked_docs == 4
    report = stale.index("shop")
    assert report.staleness_scoped and report.staleness_checked_docs == 0
    monkeypatch.setattr("indexers.staleness.scope.DETECTOR_VERSION", DETECTOR_VERSION + "-next")
    report = stale.index("shop")
    assert not report.staleness_scoped and report.staleness_checked_docs == 4
    repo.write(IGNORE_FILE, "docs/intro.md\n")
    repo.commit("ignore intro", "2024-02-08T10:00:00+00:00")
    report = stale.index("shop")
    assert not report.staleness_scoped and report.staleness_checked_docs == 3


def test_a_linked_docs_source_is_scoped_by_the_code_sources_change(stale: StaleWorld, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "shop")
    handbook = tmp_path / "handbook"
    handbook.mkdir()
    (handbook / "billing.md").write_text(doc("Billing", "pkg.billing.compute_invoice_total()", "pkg/billing.py"))
    (handbook / "users.md").write_text(doc("Users", "create_user(name)"))
    for page in handbook.iterdir():
        os.utime(page, (1706745600, 1706745600))  # 2024-02-01, after the code's first commit
    stale.configure(code_sources=["shop"])
    stale.add("shop", "git", repo.path)
    stale.add("handbook", "docs", handbook)
    stale.index("shop")
    stale.index("handbook")

    def both_full() -> None:
        scoped = snapshot(stale)
        Detector(stale.db, stale.store, stale.settings).run("shop")  # shop and the handbook, in full
        assert snapshot(stale) == scoped

    repo.write("pkg/billing.py", BILLING.replace("compute_invoice_total", "invoice_total"))
    repo.commit("rename", "2024-03-01T10:00:00+00:00")
    report = stale.index("shop")
    assert report.staleness_scoped and report.staleness_checked_docs == 2  # docs/billing.md, handbook billing.md
    assert {f.doc_id for f in stale.findings()} == {"shop:docs/billing.md", "handbook:billing.md"}
    both_full()

    (handbook / "users.md").write_text(doc("Users", "create_user(name)", "delete_user(name)", "slugify(x)"))
    report = stale.index("handbook")
    assert report.staleness_scoped and report.staleness_checked_docs == 1
    both_full()

    repo.write("pkg/util.py", UTIL.replace("slugify", "make_slug"))
    repo.commit("rename slugify", "2024-03-02T10:00:00+00:00")
    report = stale.index("shop")
    assert report.staleness_scoped and report.staleness_checked_docs == 2  # docs/util.md, handbook users.md
    both_full()


def _edit_state(stale: StaleWorld, name: str, edit: Any) -> None:
    from assistant.catalog.schema import IndexRunRow

    row = stale.catalog.get_source(name)
    with stale.db.session() as s:
        run = s.get(IndexRunRow, stale.catalog.last_run(row.id).id)
        counts = dict(run.counts)
        counts["staleness_state"] = edit(dict(counts["staleness_state"]))
        run.counts = counts


def test_a_deferred_or_day_old_detection_is_followed_by_a_full_one(stale: StaleWorld, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "shop")
    stale.add("shop", "git", repo.path)
    stale.index("shop")
    assert stale.index("shop").staleness_scoped
    # the last detection deferred documents (or could not use a code source): no clean state
    _edit_state(stale, "shop", lambda st: {**st, "targets": {}})
    report = stale.index("shop")
    assert not report.staleness_scoped and report.staleness_checked_docs == 4
    assert stale.index("shop").staleness_scoped
    # the last full pass is more than a day old
    _edit_state(stale, "shop", lambda st: {**st, "full_at": {"shop": "2020-01-01T00:00:00+00:00"}})
    report = stale.index("shop")
    assert not report.staleness_scoped and report.staleness_checked_docs == 4
    # a failed run in between (it may have recorded documents without detecting)
    repo.write("pkg/util.py", UTIL + "\n# x\n")
    repo.commit("edit", "2024-02-09T10:00:00+00:00")
    stale.catalog.finish_run(stale.catalog.start_run(stale.catalog.get_source("shop").id), status="failed")
    report = stale.index("shop")
    assert not report.staleness_scoped and report.staleness_checked_docs == 4


def test_a_document_turning_overdue_is_checked_and_then_carried(stale: StaleWorld, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from indexers.staleness.scope import RunScope

    now = datetime.now(UTC)
    repo = GitRepo(tmp_path / "shop")
    repo.write("pkg/__init__.py", "")
    repo.write("pkg/util.py", UTIL)
    repo.write("docs/util.md", doc("Util", "slugify(text)"))
    repo.commit("start", (now - timedelta(days=31) + timedelta(minutes=30)).isoformat())
    stale.configure(review_days_docs=30)
    stale.add("shop", "git", repo.path)
    stale.index("shop")
    assert stale.index("shop").staleness_scoped and not stale.findings(kind="age")
    later = now + timedelta(hours=1)  # the doc is 31 days old now: overdue, and no code changed
    result = Detector(stale.db, stale.store, stale.settings, now=later).run("shop", RunScope())
    assert result.scoped and result.checked == 1 and len(stale.findings(kind="age")) == 1
    scoped = snapshot(stale)
    Detector(stale.db, stale.store, stale.settings, now=later).run("shop")
    assert snapshot(stale) == scoped
    result = Detector(stale.db, stale.store, stale.settings, now=later).run("shop", RunScope())
    assert result.scoped and result.checked == 0 and snapshot(stale) == scoped
