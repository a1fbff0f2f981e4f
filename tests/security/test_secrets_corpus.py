"""No secret is indexed: a repository with 20+ kinds of secrets in realistic files goes
through the real pipeline, and nothing stored, in the store or the catalog, holds any
secret or any 12-character piece of one.

Regression (issue 17): before redaction the same corpus put `.env`, `id_rsa`,
`.aws/credentials` and every inline secret into chunk payloads word for word.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.integration.cli import run_cli
from tests.security.conftest import Indexed
from tests.security.leaks import find_leaks

pytestmark = pytest.mark.slow
MARKER = re.compile(r"\[REDACTED:[a-z0-9-]+\]")


def test_the_corpus_plants_twenty_kinds_of_secrets(indexed: Indexed) -> None:
    kinds = indexed.planted.kinds()
    assert len(kinds) >= 20, sorted(kinds)
    assert len(indexed.planted.skipped_paths) >= 8


def test_no_secret_in_any_payload_field_or_catalog_row(indexed: Indexed) -> None:
    texts = indexed.stored_texts()
    assert any(w.startswith("point config/settings.py .text") for w, _ in texts)  # the scan saw the points
    assert any(w == "chunks.symbol" for w, _ in texts) or any(w == "documents.path" for w, _ in texts)
    leaks = find_leaks(indexed.planted, texts)
    assert leaks == [], f"seed {indexed.planted.seed}: " + "\n".join(leaks)


def test_secret_files_are_per_item_failures_and_never_documents(indexed: Indexed) -> None:
    report = indexed.report
    failures = {f.path: f for f in report.failures if f.reason == "secret-path"}
    assert set(failures) == set(indexed.planted.skipped_paths)
    for path, rule in indexed.planted.skipped_paths.items():
        assert failures[path].message.startswith(f"{rule} file"), failures[path]
    assert report.skipped["secret-path"] == len(indexed.planted.skipped_paths)
    stored = {p["path"] for p in indexed.points}
    assert not stored & set(indexed.planted.skipped_paths)
    assert ".env.example" in stored  # documented placeholders are allowed (and scanned)


def test_every_chunk_keeps_its_lines_and_only_secrets_change(indexed: Indexed) -> None:
    changed = 0
    for p in indexed.points:
        original = indexed.planted.files[p["path"]].split("\n")[p["start_line"] - 1 : p["end_line"]]
        lines = p["text"].split("\n")
        assert len(lines) == p["end_line"] - p["start_line"] + 1, p["path"]
        for got, want in zip(lines, original, strict=False):
            if got != want:
                changed += 1
                pattern = "^" + ".+".join(re.escape(part) for part in MARKER.split(got)) + "$"
                assert MARKER.search(got) and re.match(pattern, want), (p["path"], got)
    assert changed >= 30


def test_redactions_are_counted_per_file_and_stored_as_rows(indexed: Indexed) -> None:
    from assistant.catalog.db import Database
    from assistant.catalog.redactions import RedactionLog

    redactions = indexed.report.redactions
    settings = dict(redactions["config/settings.py"])
    assert settings["aws-access-key"] == 1 and settings["aws-secret-key"] == 1
    assert settings["secret-assignment"] == 3  # PASSWORD, SECRET_KEY, TWILIO_AUTH_TOKEN
    runbook = dict(redactions["docs/runbook.md"])
    assert runbook["private-key"] == 1  # one block of 14 lines counts once
    assert "payments/retry.py" not in redactions

    db = Database(indexed.catalog_url, run_migrations=False)
    try:
        rows = RedactionLog(db).for_source(1)
    finally:
        db.close()
    by_file: dict[str, dict[str, int]] = {}
    for r in rows:
        by_file.setdefault(r.path, {})[r.rule] = r.count
        assert r.kind == "secret" and r.version == indexed.report.version
    assert by_file == {path: dict(c) for path, c in redactions.items()}
    key_line = next(i for i, line in enumerate(indexed.planted.files["docs/runbook.md"].split("\n"), 1)
                    if "BEGIN OPENSSH" in line)
    assert next(r.lines for r in rows if r.path == "docs/runbook.md" and r.rule == "private-key") == (key_line,)


def test_cli_reports_count_redactions_and_list_secret_paths(indexed: Indexed) -> None:
    full = run_cli(indexed.home, "index", "--full", "--json")
    report = json.loads(full.stdout)[0]
    assert report["skipped"]["secret-path"] == len(indexed.planted.skipped_paths)
    assert report["redactions"]["config/settings.py"]["aws-secret-key"] == 1
    assert report["redacted"]["private-key"] == 2
    status = run_cli(indexed.home, "status", "--failures")
    for path in indexed.planted.skipped_paths:
        assert re.search(rf"{re.escape(path)}: secret-path ", status.stdout), status.stdout
    assert re.search(r"config/settings\.py@[0-9a-f]{12}: aws-access-key 1 \(L\d+\)", status.stdout), status.stdout
    outputs = [("index --json", full.stdout + full.stderr), ("status --failures", status.stdout + status.stderr)]
    assert find_leaks(indexed.planted, outputs) == []
