"""Existing indexes and per-source options, through the real CLI and model.

An index written before redaction existed (unredacted text, `.env` indexed, catalog
rows without a redaction key, as migration 0009 leaves them) is cleaned by the next
plain `sourcewise index`; and `--redact-pii` on a docs source turns personal-data
redaction on and off, re-processing the source each time.
"""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest
from sqlalchemy import text

from assistant.catalog.db import Database
from assistant.container import build
from assistant.settings import load_settings
from indexers.pipeline import Pipeline
from indexers.redaction import Redactor
from indexers.sources.factory import make_source
from tests.fixtures.gitrepo import GitRepo
from tests.integration.cli import run_cli, run_json
from tests.security.leaks import catalog_strings, strings_in

pytestmark = pytest.mark.slow
RND = random.Random()


def rs(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    """Random, from ``alphabet``, with a letter and a digit so no rule takes it for a word."""
    letters = [c for c in alphabet if c.isalpha()]
    return "".join(RND.choice(alphabet) for _ in range(n - 2)) + RND.choice(letters) + "7"


def stored(home: Path) -> str:
    from assistant.store.edge import EdgeStore
    from assistant.container import collection_name

    store = EdgeStore(home / "qdrant" / collection_name("sourcewise", "all-MiniLM-L6-v2"))
    try:
        points = "\n".join(s for h in store.points() for s in strings_in(dict(h.payload)))
    finally:
        store.close()
    return points + "\n".join(t for _, t in catalog_strings(f"sqlite:///{home / 'catalog.db'}"))


def test_an_index_from_before_redaction_is_cleaned_by_the_next_run(tmp_path: Path) -> None:
    key_id, key = "AK" + "IA" + rs(16, string.ascii_uppercase + string.digits), rs(40)
    token, env_pw = "gh" + "p_" + rs(36), rs(20)
    repo = GitRepo(tmp_path / "repo")
    repo.write("config/settings.py", f'AWS_ACCESS_KEY_ID = "{key_id}"\nAWS_SECRET_ACCESS_KEY = "{key}"\n')
    repo.write("docs/notes.md", f"# Release\n\nThe bot pushes with {token}.\n")
    repo.write(".env", f"DB_PASSWORD={env_pw}\n")
    repo.write("app/main.py", "def main() -> int:\n    return 0\n")
    repo.commit("init", "2024-02-01T00:00:00+00:00")
    home = tmp_path / "home"
    settings = load_settings(home=home)
    container = build(settings)
    try:  # what the pipeline wrote before this change: no path rules, no redaction
        row = container.catalog.add_source("app", "git", str(repo.path))
        old = Pipeline(container.catalog, container.store, container.embedder, container.sparse,
                       redactor=Redactor(scan=False, allow_paths=["*"]))
        assert old.index(row, make_source(row, settings, container.catalog)).new == 4
    finally:
        container.close()
    db = Database(f"sqlite:///{home / 'catalog.db'}")
    with db.session() as s:
        s.execute(text("UPDATE documents SET redaction_key = NULL"))
    db.close()
    before = stored(home)
    assert key in before and token in before and env_pw in before  # the leak this run must clean up

    report = run_json(home, "index")[0]
    assert (report["changed"], report["unchanged"], report["deleted"]) == (3, 0, 1)
    assert report["skipped"] == {"secret-path": 1}
    assert report["redactions"] == {"config/settings.py": {"aws-access-key": 1, "aws-secret-key": 1},
                                    "docs/notes.md": {"github-token": 1}}
    after = stored(home)
    assert not any(v in after for v in (key_id, key, token, env_pw))
    again = run_json(home, "index")[0]
    assert (again["changed"], again["unchanged"], again["embedded"]) == (0, 3, 0)


def test_redact_pii_is_a_per_source_option(tmp_path: Path) -> None:
    docs = tmp_path / "support"
    docs.mkdir()
    email, phone, ssn = f"{rs(8).lower()}@customer-mail.com", "+44 20 7946 0958", "123-45-6789"
    (docs / "ticket.md").write_text(f"---\nowner: support-lead@acme.com\n---\n# Refund for order 881\n\n"
                                    f"Customer {email} (phone {phone}, SSN {ssn}) asked for a refund.\n")
    (docs / "guide.md").write_text("# Refunds\n\nRefunds go back to the card they came from.\n")
    home = tmp_path / "home"
    run_cli(home, "source", "add", "support", "--docs", str(docs), "--redact-pii")
    assert run_json(home, "source", "list")[0]["redact_pii"] is True
    first = run_json(home, "index")[0]
    assert first["redactions"] == {"ticket.md": {"email": 1, "phone": 1, "us-ssn": 1}}
    content = stored(home)
    assert not any(v in content for v in (email, phone, ssn))
    assert "support-lead@acme.com" in content  # the owner handle stays: it routes flags
    status = run_cli(home, "status", "--failures").stdout
    assert "ticket.md" in status and "email 1 (L6)" in status

    run_cli(home, "source", "update", "support", "--no-redact-pii")
    second = run_json(home, "index")[0]
    assert (second["changed"], second["redactions"]) == (2, {})
    assert email in stored(home)
    audit = run_cli(home, "audit", "--action", "source.update").stdout
    assert "redact_pii" in audit and "support" in audit
    assert json.loads(run_cli(home, "source", "list", "--json").stdout)[0]["redact_pii"] is False
