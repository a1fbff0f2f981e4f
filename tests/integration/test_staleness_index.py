"""Symbol tables and doc references through the real CLI, pipeline, model and store, on a
git repository with real history."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from assistant.catalog.db import Database
from assistant.catalog.symbols import SymbolCatalog
from tests.fixtures.gitrepo import GitRepo, make_sample_repo
from tests.integration.cli import run_cli, run_json

pytestmark = pytest.mark.slow

BILLING_MD = """\
---
owner: "@billing"
---
# Billing

Call `retry_failed_payment(payment_id, attempt=2)` when a capture fails; the
limit is `RETRY_LIMIT`. The policy lives in [retry.py](../payments/retry.py#L6-L13).

```python
from payments.retry import RetryPolicy

RetryPolicy(base_delay=1.0).delay(3)
```

```bash
PAYMENTS_URL=https://pay.example.com python -m payments --dry-run
```
"""

API_RST = """\
API
===

.. autofunction:: payments.retry.retry_failed_payment

See :class:`payments.retry.RetryPolicy` and ``RETRY_LIMIT``.
"""


def _symbols(home: Path) -> SymbolCatalog:
    return SymbolCatalog(Database(f"sqlite:///{home}/catalog.db"))


def _blob(repo: GitRepo, path: str) -> str:
    return repo.git("rev-parse", f"HEAD:{path}")


def _rows(home: Path) -> dict[str, list]:
    con = sqlite3.connect(home / "catalog.db")
    try:
        return {
            "symbols": sorted(con.execute(
                "select path, blob, name, kind, line, end_line, signature, value, params from symbols")),
            "blobs": sorted(con.execute("select path, blob, language, count from symbol_blobs")),
            "refs": sorted(con.execute(
                "select doc_id, blob, text, kind, line, context, details from doc_references")),
            "scans": sorted(con.execute(
                "select doc_id, blob, count, truncated, ignored, code_languages from doc_reference_scans")),
        }
    finally:
        con.close()


def test_symbol_tables_and_references_follow_the_history(tmp_path: Path) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    repo.write("docs/billing.md", BILLING_MD)
    repo.write("docs/api.rst", API_RST)
    repo.commit("billing docs", "2024-07-01T00:00:00+00:00")
    home = tmp_path / "home"
    run_cli(home, "source", "add", "app", "--git", str(repo.path))

    [first] = run_json(home, "index")
    assert first["status"] == "ok"
    assert first["symbols_files"] == 3  # payments/retry.py, web/http_client.js, core/legacy.py
    assert first["references_docs"] == 5  # billing.md, api.rst, deploy.md, notes.txt, .gitignore
    assert first["references"] > 0 and first["references_truncated"] == 0

    symbols = _symbols(home)
    sid = 1
    retry_v1 = ("payments/retry.py", _blob(repo, "payments/retry.py"))
    defs = {d.name: d for d in symbols.definitions(sid, [retry_v1])[retry_v1]}
    assert defs["retry_failed_payment"].signature == "(payment_id: str, attempt: int = 0)"
    assert defs["retry_failed_payment"].params[1] == ("attempt", "0", "int")
    assert defs["RETRY_LIMIT"].value == "5" and defs["RetryPolicy.delay"].line == 12
    js = ("web/http_client.js", _blob(repo, "web/http_client.js"))
    assert {"HttpClient", "HttpClient.send", "buildRequest"} <= {
        d.name for d in symbols.definitions(sid, [js])[js]}

    refs = symbols.references(sid)
    blob, billing = refs["app:docs/billing.md"]
    assert blob == _blob(repo, "docs/billing.md")
    found = {(r.text, r.kind, r.line) for r in billing}
    assert {("retry_failed_payment", "symbol", 6), ("RETRY_LIMIT", "symbol", 7),
            ("payments/retry.py", "path", 7), ("payments.retry.RetryPolicy", "symbol", 10),
            ("payments.retry.RetryPolicy.delay", "symbol", 12), ("PAYMENTS_URL", "env", 16),
            ("--dry-run", "option", 16)} <= found
    call = next(r for r in billing if r.text == "retry_failed_payment")
    assert call.details["call_kwargs"] == ["attempt"] and "retry_failed_payment" in call.context
    anchor = next(r for r in billing if r.kind == "path")
    assert anchor.details["anchor"] == [6, 13]
    api = {(r.text, r.line) for r in refs["app:docs/api.rst"][1]}
    assert api == {("payments.retry.retry_failed_payment", 4), ("payments.retry.RetryPolicy", 6),
                   ("RETRY_LIMIT", 6)}

    # one commit later: only the changed code file is parsed again; old blobs stay
    repo.write("payments/retry.py", repo.path.joinpath("payments/retry.py").read_text()
               .replace("retry_failed_payment", "retry_payment").replace("attempt: int = 0", "attempt: int = 1"))
    repo.remove("docs/api.rst")
    repo.remove("core/legacy.py")
    repo.commit("rename, drop the api page", "2024-08-01T00:00:00+00:00")
    [second] = run_json(home, "index")
    assert (second["changed"], second["deleted"]) == (1, 2)
    assert second["symbols_files"] == 1 and second["references_docs"] == 0
    retry_v2 = ("payments/retry.py", _blob(repo, "payments/retry.py"))
    both = symbols.definitions(sid, [retry_v1, retry_v2])
    assert "retry_failed_payment" in {d.name for d in both[retry_v1]}
    v2 = {d.name: d for d in both[retry_v2]}
    assert "retry_failed_payment" not in v2 and v2["retry_payment"].params[1] == ("attempt", "1", "int")
    assert ("core/legacy.py", _blob_at(repo, "HEAD~1", "core/legacy.py")) in symbols.parsed_blobs(sid)
    after = symbols.references(sid)
    assert "app:docs/api.rst" not in after  # the deleted doc lost its references
    assert after["app:docs/billing.md"] == refs["app:docs/billing.md"]  # unchanged doc: untouched

    # an index built before symbol tables existed gains them without re-embedding
    expected = _rows(home)
    con = sqlite3.connect(home / "catalog.db")
    for table in ("symbols", "symbol_blobs", "doc_references", "doc_reference_scans"):
        con.execute(f"delete from {table}")
    con.commit()
    con.close()
    [backfill] = run_json(home, "index")
    assert backfill["embedded"] == 0 and backfill["unchanged"] == backfill["seen"] - 1  # binary skipped
    assert backfill["symbols_files"] == 2 and backfill["references_docs"] == 4
    rebuilt = _rows(home)
    current = {retry_v2, ("web/http_client.js", _blob(repo, "web/http_client.js"))}
    blobs = {(p, b) for p, b, *_ in rebuilt["blobs"]}
    # every current file again, plus at most the old version the detector re-read on demand
    # (billing.md was written against retry_v1; its dead reference is checked against it)
    assert current <= blobs and blobs - current <= {retry_v1}, blobs - current
    assert [r for r in expected["symbols"] if (r[0], r[1]) in current] == [
        r for r in rebuilt["symbols"] if (r[0], r[1]) in current]
    assert expected["refs"] == rebuilt["refs"] and expected["scans"] == rebuilt["scans"]
    [quiet] = run_json(home, "index")
    assert quiet["symbols_files"] == 0 and quiet["references_docs"] == 0 and quiet["embedded"] == 0


def _blob_at(repo: GitRepo, rev: str, path: str) -> str:
    return repo.git("rev-parse", f"{rev}:{path}")


def test_docs_source_reads_code_blocks_for_the_code_sources_languages(tmp_path: Path) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    docs = tmp_path / "handbook"
    docs.mkdir()
    page = ("# Payments\n\n```python\nfrom payments.retry import RetryPolicy\n```\n\n"
            "```go\nclient := NewClient(addr)\n```\n")
    (docs / "payments.md").write_text(page)
    (docs / "skipped.md").write_text("---\nstale_check: false\n---\n# Old\n\nSee `retry_failed_payment()`.\n")
    home = tmp_path / "home"
    run_cli(home, "source", "add", "handbook", "--docs", str(docs))
    run_cli(home, "source", "add", "app", "--git", str(repo.path))
    env = {"SOURCEWISE_STALENESS__CODE_SOURCES": json.dumps(["app"])}

    # the code source is not indexed yet: no code languages, the python block names nothing
    [handbook] = run_json(home, "index", "handbook", env=env)
    symbols = _symbols(home)
    hid = 1
    assert symbols.references(hid)["handbook:payments.md"][1] == []
    run_json(home, "index", "app", env=env)
    # once it is, the docs are read again for its languages (python, javascript), not re-embedded
    [again] = run_json(home, "index", "handbook", env=env)
    assert again["embedded"] == 0 and again["references_docs"] == 2
    refs = symbols.references(hid)
    assert [(r.text, r.line) for r in refs["handbook:payments.md"][1]] == [("payments.retry.RetryPolicy", 4)]
    assert refs["handbook:skipped.md"][1] == []
    scan = symbols.reference_scan("handbook:skipped.md")
    assert scan is not None and scan.ignored == 1
    assert handbook["status"] == "ok"
