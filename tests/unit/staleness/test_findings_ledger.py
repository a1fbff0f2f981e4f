"""The lifecycle rules on the catalog alone, and the score."""

from __future__ import annotations


import pytest
from sqlalchemy import select

from assistant.catalog.db import Database
from assistant.catalog.repo import Catalog
from assistant.catalog.schema import FlagRow, utcnow
from assistant.catalog.staleness_schema import FindingRow
from assistant.staleness import Weights, combine, readers_may_see, refresh_scores, score_document
from indexers.staleness.findings import Candidate, apply
from indexers.staleness.ignore import StaleIgnore
from indexers.staleness.patch import replace_on_lines, unified_patch
from tests.fixtures.postgres import catalog_url, pg_server  # noqa: F401 - fixtures


def cand(ref: str = "old_name", line: int = 3, kind: str = "dead", code: str = "app", doc: str = "app:a.md") -> Candidate:
    return Candidate(kind, doc, "a.md", ref, f"x.py::{ref}", line, f"names `{ref}`", "public", {"lines": [line]},
                     None, code)


@pytest.fixture
def db(catalog_url: str):
    d = Database(catalog_url)  # on SQLite and on PostgreSQL
    Catalog(d).add_source("app", "git", "/x")
    yield d
    d.close()


def rows(db: Database) -> list[FindingRow]:
    with db.session() as s:
        return list(s.scalars(select(FindingRow).order_by(FindingRow.id)))


def test_open_keep_close_reopen_and_dismissed_stays(db: Database) -> None:
    docs = {"app:a.md"}
    first = apply(db, 1, docs, [cand()], {"app:a.md": "@o"})
    assert len(first.opened) == 1 and first.open == 1
    moved = apply(db, 1, docs, [cand(line=9)], {})  # the line moved: same finding, updated
    assert moved.opened == [] and [r.line for r in rows(db)] == [9]
    gone = apply(db, 1, docs, [], {})
    assert gone.closed == 1 and rows(db)[0].status == "closed" and gone.open == 0
    back = apply(db, 1, docs, [cand()], {})
    assert back.reopened == 1 and rows(db)[0].reopened == 1 and rows(db)[0].status == "open"
    with db.session() as s:
        s.get(FindingRow, rows(db)[0].id).status = "dismissed"
    again = apply(db, 1, docs, [cand()], {})
    assert again.opened == [] and rows(db)[0].status == "dismissed"
    assert len(rows(db)) == 1  # one row per fingerprint, ever


def test_unusable_code_sources_and_unread_docs_keep_their_findings(db: Database) -> None:
    apply(db, 1, {"app:a.md", "app:b.md"}, [cand(), cand(doc="app:b.md", code="other")], {})
    kept = apply(db, 1, {"app:a.md", "app:b.md"}, [], {}, keep_code_sources={"app"}, keep_docs={"app:b.md"})
    assert kept.closed == 0 and [r.status for r in rows(db)] == ["open", "open"]
    deleted = apply(db, 1, {"app:b.md"}, [], {}, keep_code_sources={"app"}, keep_docs={"app:b.md"})
    assert deleted.closed == 1 and [r.status for r in rows(db)] == ["closed", "open"]  # a.md was deleted


def test_score_combines_findings_and_flags(db: Database) -> None:
    w = Weights()
    assert combine([0.6, 0.6]) == pytest.approx(0.84) and combine([]) == 0.0
    f = FindingRow(kind="dead", summary="names `x`", evidence={})
    flag = FlagRow(kind="outdated", path="a.md", user_name="ann", comment="steps changed")
    score, reason = score_document([f], [flag], w, lambda r: r.summary)
    assert score == pytest.approx(1 - 0.4 * 0.7) and reason == "names `x` (and 1 more finding)"
    score, reason = score_document([], [flag], w, lambda r: r.summary)
    assert score == pytest.approx(0.3) and reason == "`a.md` was flagged as outdated by ann: steps changed"
    age = FindingRow(kind="age", summary="old", evidence={"code_changed": [{"source": "app"}]})
    assert score_document([age], [], w, lambda r: r.summary)[0] == pytest.approx(0.3)


def test_reason_quotes_the_code_only_where_every_reader_may_read_it() -> None:
    assert readers_may_see(["eng"], ["eng", "security"]) and readers_may_see(["eng"], [])
    assert not readers_may_see(["eng"], ["security"]) and not readers_may_see([], ["security"])
    assert readers_may_see(["eng", "ops"], ["everyone"])  # PUBLIC_GROUP


def test_refresh_scores_writes_catalog_and_changed_payloads(db: Database) -> None:
    class Store:
        def __init__(self) -> None:
            self.calls: list[tuple[str, dict]] = []

        def set_doc_payload(self, doc_id: str, payload: dict) -> None:
            self.calls.append((doc_id, payload))

        def flush(self) -> None:
            pass

    from datetime import UTC, datetime

    cat = Catalog(db)
    cat.record_documents(1, [({"doc_id": "app:a.md", "path": "a.md", "kind": "docs", "language": "markdown",
                               "title": None, "content_hash": "h", "meta_hash": "m",
                               "updated_at": datetime(2024, 1, 1, tzinfo=UTC), "version": "c", "author": None,
                               "owner": None, "url": None, "status": "active", "chunk_count": 1,
                               "chunk_strategy": "prose", "model_id": "m"}, [])])
    apply(db, 1, {"app:a.md"}, [cand()], {})
    store = Store()
    assert refresh_scores(db, store, ["app:a.md"], Weights()) == 1
    assert store.calls == [("app:a.md", {"staleness": 0.6, "stale_reason": "names `old_name`"})]
    assert refresh_scores(db, store, ["app:a.md"], Weights()) == 0 and len(store.calls) == 1  # unchanged
    with db.session() as s:
        s.add(FlagRow(doc_id="app:a.md", source_name="app", path="a.md", kind="wrong", origin="user",
                      user_name="ann", status="open", created_at=utcnow()))
    refresh_scores(db, store, ["app:a.md"], Weights())
    assert store.calls[-1][1]["staleness"] == pytest.approx(1 - 0.4 * 0.7)
    assert cat.document("app:a.md").staleness == pytest.approx(0.72)


def test_patch_replaces_whole_tokens_on_the_lines_only() -> None:
    text = "a `old_name()` here\nold_name_x stays\n`old_name` again\n"
    after = replace_on_lines(text, [1, 2], "old_name", "new_name")
    assert after == "a `new_name()` here\nold_name_x stays\n`old_name` again\n"
    assert replace_on_lines(text, [2], "old_name", "x") is None
    patch = unified_patch("docs/a.md", text, after)
    assert patch.startswith("--- a/docs/a.md\n+++ b/docs/a.md\n") and "+a `new_name()` here" in patch


def test_ignore_file_globs_and_tokens() -> None:
    ig = StaleIgnore.parse(["# why\ndocs/api/**\nlegacy_*   # kept\n--verbose\n", None])
    assert ig.ignores_doc("docs/api/x.md") and not ig.ignores_doc("docs/x.md")
    assert ig.ignores_reference("legacy_total") and ig.ignores_reference("--verbose")
    assert not ig.ignores_reference("compute_total")
    assert StaleIgnore.parse([]).ignores_doc("a.md") is False


def test_text_from_documents_cannot_break_out_of_its_code_span_or_mention_everyone() -> None:
    from indexers.staleness.detect import slack_text
    from indexers.staleness.doccheck import _lit, _plain
    from indexers.staleness.drift import Change

    assert _lit("docs/a`[x](javascript:alert(1))`.md") == "docs/a'[x](javascript:alert(1))'.md"
    assert _lit("a\nb") == "a b" and "`" not in Change("value", "'`x`'", "1").describe("N").strip("`N")
    assert _plain("fix [click](http://evil) <b>`rm`</b>") == "fix clickhttp://evil brm/b"
    assert slack_text("<!channel> & <https://x|y>") == "&lt;!channel&gt; &amp; &lt;https://x|y&gt;"
    flag = FlagRow(kind="wrong", path="a`b.md", user_name="ann", comment="see [here](javascript:x)")
    assert score_document([], [flag], Weights(), lambda r: "")[1] == "`a'b.md` was flagged as wrong by ann: see herejavascript:x"
