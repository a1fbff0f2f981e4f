"""SymbolCatalog on a real (migrated) SQLite catalog."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from assistant.catalog.db import Database
from assistant.catalog.repo import Catalog
from assistant.catalog.symbols import (
    ReferenceRecord,
    SymbolCatalog,
    SymbolRecord,
    symbol_key,
    write_references,
)
from tests.fixtures.postgres import catalog_url, pg_server  # noqa: F401 - fixtures

DELAY = SymbolRecord("RetryPolicy.delay", "method", 12, 13, "(self, attempt: int)", None,
                     (("self", None, None), ("attempt", None, "int")))
LIMIT = SymbolRecord("RETRY_LIMIT", "constant", 3, 3, value="5")
OPTION = SymbolRecord("--dry-run", "option", 20, 20)


@pytest.fixture
def world(catalog_url: str) -> tuple[Catalog, SymbolCatalog, int]:
    db = Database(catalog_url)  # on SQLite and on PostgreSQL
    catalog = Catalog(db)
    row = catalog.add_source("app", "git", "/x")
    return catalog, SymbolCatalog(db), row.id


def test_definitions_are_keyed_by_path_and_blob_and_saved_idempotently(world) -> None:
    _, symbols, sid = world
    symbols.save_definitions(sid, [("payments/retry.py", "b1", "python", [LIMIT, DELAY]),
                                   ("empty.py", "b0", "python", [])])
    symbols.save_definitions(sid, [("payments/retry.py", "b1", "python", [LIMIT, DELAY])])
    assert symbols.parsed_blobs(sid) == {("payments/retry.py", "b1"), ("empty.py", "b0")}
    found = symbols.definitions(sid, [("payments/retry.py", "b1"), ("empty.py", "b0"), ("new.py", "b9")])
    assert found == {("payments/retry.py", "b1"): [LIMIT, DELAY], ("empty.py", "b0"): []}
    assert found[("payments/retry.py", "b1")][1].params[1] == ("attempt", None, "int")


def test_a_changed_file_keeps_the_old_blobs_rows_for_history(world) -> None:
    _, symbols, sid = world
    symbols.save_definitions(sid, [("payments/retry.py", "b1", "python", [LIMIT, DELAY])])
    renamed = SymbolRecord("RetryPolicy.backoff", "method", 12, 13, "(self, attempt: int)")
    symbols.save_definitions(sid, [("payments/retry.py", "b2", "python", [LIMIT, renamed])])
    old = symbols.find(sid, "delay")
    assert old == [("payments/retry.py", "b1", DELAY)]
    assert symbols.find(sid, "Delay", pairs=[("payments/retry.py", "b2")]) == []
    assert [r.name for _, _, r in symbols.find(sid, "retry_limit")] == ["RETRY_LIMIT", "RETRY_LIMIT"]
    assert symbols.find(sid, "--dry-run") == []


def test_symbol_keys() -> None:
    assert symbol_key("RetryPolicy.delay") == "delay"
    assert symbol_key("RETRY_LIMIT") == "retry_limit"
    assert symbol_key("--dry-run") == "--dry-run"
    assert symbol_key("a.b.C") == "c"


def test_references_replace_per_doc_and_go_with_the_doc(world) -> None:
    _, symbols, sid = world
    first = [ReferenceRecord("retry_failed_payment", "symbol", 3, "Call `retry_failed_payment()`",
                             {"how": "code-span", "call_kwargs": ["attempt"]}),
             ReferenceRecord("payments/retry.py", "path", 5, "[x](../payments/retry.py#L1)",
                             {"how": "link", "anchor": [1, 1]})]
    symbols.save_references(sid, "app:docs/a.md", "h1", first, code_languages=["python"])
    symbols.save_references(sid, "app:docs/b.md", "h7", [], truncated=True, ignored=4)
    got = symbols.references(sid)
    assert got["app:docs/a.md"] == ("h1", first)
    assert got["app:docs/b.md"] == ("h7", [])
    scan = symbols.reference_scan("app:docs/b.md")
    assert scan is not None and (scan.blob, scan.count, scan.truncated, scan.ignored) == ("h7", 0, True, 4)
    assert symbols.scanned_docs(sid)["app:docs/a.md"].code_languages == "python"

    second = [ReferenceRecord("invoice_total", "symbol", 4, "Call `invoice_total()`", {"how": "code-span"})]
    symbols.save_references(sid, "app:docs/a.md", "h2", second)
    assert symbols.references(sid, ["app:docs/a.md"]) == {"app:docs/a.md": ("h2", second)}

    symbols.delete_references(["app:docs/a.md"])
    assert set(symbols.references(sid)) == {"app:docs/b.md"}
    assert symbols.reference_scan("app:docs/a.md") is None


def test_rows_written_in_the_documents_transaction_roll_back_with_it(world) -> None:
    catalog, symbols, sid = world

    def boom(session) -> None:
        write_references(session, sid, "app:docs/a.md", "h1", [ReferenceRecord("x_y", "symbol", 1)])
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        catalog.record_documents(sid, [(_doc_fields("app:docs/a.md"), [])], also=boom)
    assert symbols.references(sid) == {} and catalog.documents(sid) == []


def test_code_documents_and_languages_of_named_sources(world) -> None:
    catalog, symbols, sid = world
    catalog.record_documents(sid, [(_doc_fields("app:a.py", strategy="code"), []),
                                   (_doc_fields("app:b.py", strategy="window:parse-error"), [])])
    assert symbols.code_documents(sid) == {"app:a.py"}
    symbols.save_definitions(sid, [("a.py", "b1", "python", [LIMIT]), ("w.go", "b2", "go", [])])
    assert symbols.code_languages(["app", "missing"]) == frozenset({"python", "go"})
    assert symbols.code_languages([]) == frozenset()


def test_removing_a_source_removes_its_rows(world) -> None:
    catalog, symbols, sid = world
    symbols.save_definitions(sid, [("a.py", "b1", "python", [LIMIT])])
    symbols.save_references(sid, "app:docs/a.md", "h1", [ReferenceRecord("x_y", "symbol", 1)])
    catalog.remove_source(sid)
    other = catalog.add_source("other", "git", "/y")
    assert symbols.parsed_blobs(sid) == set() and symbols.references(sid) == {}
    assert symbols.find(sid, "retry_limit") == [] and symbols.scanned_docs(sid) == {}
    assert symbols.parsed_blobs(other.id) == set()


def _doc_fields(doc_id: str, strategy: str = "prose") -> dict:
    path = doc_id.split(":", 1)[1]
    return dict(doc_id=doc_id, path=path, kind="code", language="python", title=None,
                content_hash="b1", meta_hash="m", updated_at=datetime(2024, 1, 1, tzinfo=UTC),
                version="c1", author=None, owner=None, url=None, status="active", chunk_count=0,
                chunk_strategy=strategy, model_id="m")
