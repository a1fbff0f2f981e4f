"""The pipeline applies redaction for every source kind: secret paths are per-item
failures, text is redacted before anything is derived from it, redaction rows follow
their documents, and a change of rules or of a source's personal-data option
re-processes documents whose content did not change.

Unit level: a recording fake embedder, a real EdgeStore and catalog, in-memory sources.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import func, select, text

from assistant.catalog.db import Database, migrate
from assistant.catalog.redaction_schema import RedactionRow
from assistant.catalog.redactions import RedactionLog
from assistant.catalog.repo import Catalog
from assistant.embedding.sparse import SparseEncoder
from assistant.models import Document, ItemFailure, sha256_text
from assistant.store.edge import EdgeStore
from indexers.pipeline import Pipeline, RunReport
from indexers.redaction import Redactor
from sourcewise.reports import print_redactions, print_report

RND = random.Random(5)
TOKEN = "gh" + "p_" + "".join(RND.choice(string.ascii_letters + string.digits) for _ in range(35)) + "7"
PASSWORD = "".join(RND.choice(string.ascii_letters) for _ in range(14)) + "42"


class RecordingEmbedder:
    model_id = "fake-8"
    dim = 8

    def __init__(self) -> None:
        self.texts: list[str] = []

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> list[list[float]]:
        self.texts += texts
        return [[(len(t) % 7 + 1) / 8] * 8 for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return [0.5] * 8


def doc(path: str, body: str, kind: str = "docs", title: str | None = None, version: str = "v1") -> Document:
    language = {"md": "markdown", "py": "python", "yaml": "yaml"}.get(path.rsplit(".", 1)[-1])
    return Document(doc_id=f"app:{path}", source="app", path=path, kind=kind, content_hash=sha256_text(body),  # type: ignore[arg-type]
                    updated_at=datetime(2024, 1, 1, tzinfo=UTC), version=version, loader=lambda: body,
                    title=title, language=language, author="Ann Author <ann@example.org>")


class ListSource:
    name = "app"
    version = "v1"

    def __init__(self, docs: list[Document]) -> None:
        self.docs = docs
        self.read: list[str] = []

    def scan(self) -> Iterator[Document | ItemFailure]:
        for d in self.docs:
            def load(d: Document = d) -> str:
                self.read.append(d.path)
                return d.loader()
            yield Document(**{**d.__dict__, "loader": load})


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.db = Database(f"sqlite:///{tmp_path}/catalog.db")
        self.catalog = Catalog(self.db)
        self.store = EdgeStore(tmp_path / "store")
        self.embedder = RecordingEmbedder()
        self.catalog.add_source("app", "wiki", "/x")

    def index(self, docs: list[Document], redactor: Redactor | None = None) -> tuple[RunReport, ListSource]:
        source = ListSource(docs)
        pipe = Pipeline(self.catalog, self.store, self.embedder, SparseEncoder(), batch_docs=2, redactor=redactor)
        return pipe.index(self.catalog.get_source("app"), source), source

    def payload_text(self) -> str:
        return repr([h.payload for h in self.store.points()])

    def redaction_rows(self) -> int:
        with self.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(RedactionRow)) or 0)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.store.close()


def corpus(kind: str) -> list[Document]:
    return [
        doc(".env", f"GITHUB_TOKEN={TOKEN}\n", kind),
        doc("keys/id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n", kind),
        doc("guide.md", f"---\ntitle: Using {TOKEN}\n---\n# Setup\n\nExport `GITHUB_TOKEN={TOKEN}` first.\n\n"
            f"## Database\n\nThe password is {PASSWORD} today.\n", kind),
        doc("ok.md", "# Nothing secret\n\nJust text.\n", kind, title=f"Page about {TOKEN}"),
    ]


@pytest.mark.parametrize("kind", ["code", "docs", "wiki"])
def test_every_source_kind_skips_secret_paths_and_redacts_text(world: World, kind: str) -> None:
    report, source = world.index(corpus(kind))
    assert report.status == "ok" and report.skipped == {"secret-path": 2}
    assert {f.path: f.reason for f in report.failures} == {".env": "secret-path", "keys/id_ed25519": "secret-path"}
    assert ".env" not in source.read and "keys/id_ed25519" not in source.read  # never even read
    assert TOKEN[:12] not in world.payload_text() and PASSWORD not in world.payload_text()
    assert not any(TOKEN[:12] in t or PASSWORD in t for t in world.embedder.texts)  # the dense model saw clean text
    titles = {h.payload["path"]: h.payload["doc_title"] for h in world.store.points()}
    assert titles["ok.md"] == "Page about [REDACTED:github-token]"
    assert titles["guide.md"] == "Using [REDACTED:github-token]"
    assert dict(report.redactions["guide.md"]) == {"github-token": 2, "secret-assignment": 1}
    rows = RedactionLog(world.db).for_source(1)
    assert [(r.path, r.rule, r.count, r.lines) for r in rows] == [
        ("guide.md", "github-token", 2, (2, 6)), ("guide.md", "secret-assignment", 1, (10,))]


def test_rules_change_reprocesses_unchanged_documents(world: World) -> None:
    """An index written without redaction (or before it existed: key NULL) is redacted by
    the next run, though no content changed; a third run has nothing to do."""
    docs = corpus("docs")
    first, _ = world.index(docs, Redactor(scan=False, allow_paths=["*"]))
    assert first.new == 4 and TOKEN in world.payload_text()
    with world.db.session() as s:
        s.execute(text("UPDATE documents SET redaction_key = NULL WHERE path = 'guide.md'"))
    second, _ = world.index(docs)
    assert (second.changed, second.deleted, second.unchanged) == (2, 2, 0)  # .env and the key file leave
    assert TOKEN[:12] not in world.payload_text()
    assert {h.payload["path"] for h in world.store.points()} == {"guide.md", "ok.md"}
    assert {d.path for d in world.catalog.documents(1)} == {"guide.md", "ok.md"}
    embedded = len(world.embedder.texts)
    third, _ = world.index(docs)
    assert (third.changed, third.unchanged, len(world.embedder.texts)) == (0, 2, embedded)


def test_redaction_rows_follow_their_documents(world: World) -> None:
    world.index(corpus("docs"))
    assert world.redaction_rows() == 2
    world.index([d for d in corpus("docs") if d.path != "guide.md"])  # the file was deleted
    assert world.redaction_rows() == 0
    world.index(corpus("docs"))
    fixed = [d if d.path != "guide.md" else doc("guide.md", "# Setup\n\nUse the vault.\n", version="v2")
             for d in corpus("docs")]
    world.index(fixed)  # the secret was removed: its rows close by themselves
    assert world.redaction_rows() == 0
    world.index(corpus("docs"))
    world.catalog.remove_source(1)
    assert world.redaction_rows() == 0


def test_personal_data_per_source_option(world: World) -> None:
    body = "---\nowner: jane.doe@example.org\n---\n# Ticket\n\nCustomer: bob.smith@example.com, +1 415 555 0134.\n"
    docs = [doc("ticket.md", body)]
    first, _ = world.index(docs)
    assert "bob.smith@example.com" in world.payload_text() and not first.redactions
    row = world.catalog.get_source("app")
    world.catalog.update_source(row.id, options={**row.options, "redact_pii": True})
    second, _ = world.index(docs)
    assert second.changed == 1 and dict(second.redactions["ticket.md"]) == {"email": 2, "phone": 1}
    payload = world.store.points()[0].payload
    assert "bob.smith" not in payload["text"] and "555 0134" not in payload["text"]
    assert payload["owner"] == "jane.doe@example.org"  # an owner handle routes flags; it is not content
    assert payload["author"] == "Ann Author <[REDACTED:email]>"
    assert world.catalog.documents(row.id)[0].author == "Ann Author <[REDACTED:email]>"
    assert RedactionLog(world.db).for_source(row.id)[0].kind == "pii"
    world.catalog.update_source(row.id, options={**row.options, "redact_pii": False})
    third, _ = world.index(docs)
    assert third.changed == 1 and "bob.smith@example.com" in world.payload_text()


def test_a_restricted_classification_turns_personal_data_redaction_on(world: World) -> None:
    docs = [doc("ticket.md", "# Ticket\n\nCustomer: bob.smith@example.com.\n")]
    redactor = Redactor(pii_classifications=["restricted"])
    world.index(docs, redactor)
    assert "bob.smith@example.com" in world.payload_text()  # internal (the default): kept
    row = world.catalog.get_source("app")
    world.catalog.update_source(row.id, classification="restricted")
    again, _ = world.index(docs, redactor)  # the redaction key changed: the document is re-processed
    assert again.changed == 1 and "bob.smith@example.com" not in world.payload_text()


def test_npmrc_with_a_token_is_skipped_after_reading(world: World) -> None:
    docs = [doc(".npmrc", "registry=https://registry.npmjs.org/\n")]
    assert world.index(docs)[0].new == 1
    report, _ = world.index([doc(".npmrc", f"//registry.npmjs.org/:_authToken={TOKEN}\n")])
    assert report.skipped == {"secret-path": 1} and report.deleted == 1 and world.store.count() == 0


def test_catalog_from_before_redaction_migrates_with_null_keys(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from assistant.catalog.db import MIGRATIONS_DIR, make_engine

    engine = make_engine(f"sqlite:///{tmp_path}/old.db")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0008")
        conn.execute(text("INSERT INTO sources (name, kind, location, access_groups, options, status, created_at) "
                          "VALUES ('app', 'git', '/x', '[]', '{}', 'active', '2024-01-01 00:00:00')"))
        conn.execute(text("INSERT INTO documents (source_id, doc_id, path, kind, content_hash, meta_hash, updated_at, "
                          "version, status, chunk_count, model_id, indexed_at) VALUES (1, 'app:a.py', 'a.py', 'code',"
                          " 'h', 'm', '2024-01-01 00:00:00', 'v', 'active', 1, 'fake-8', '2024-01-01 00:00:00')"))
    migrate(engine)
    engine.dispose()
    state = Catalog(Database(f"sqlite:///{tmp_path}/old.db")).doc_states(1)["app:a.py"]
    assert state.redaction_key is None and state.redaction_key != Redactor().key(False)


def test_reports_name_rules_and_counts_never_values() -> None:
    from collections import Counter

    from assistant.catalog.redactions import RedactionInfo

    report = RunReport(source="app", version="c" * 40, seen=3, new=3)
    report.redactions = {"config/settings.py": Counter({"aws-secret-key": 1, "secret-assignment": 2})}
    console = Console(record=True, width=200)
    print_report(console, report)
    print_redactions(console, "app", [RedactionInfo("config/settings.py", "c" * 40, "aws-secret-key", "secret", 1, (7,))])
    out = console.export_text()
    assert "redacted 3 secrets in 1 files" in out
    assert "config/settings.py: aws-secret-key 1, secret-assignment 2" in out
    assert "config/settings.py@cccccccccccc: aws-secret-key 1 (L7)" in out
    assert report.counts()["redacted"] == {"aws-secret-key": 1, "secret-assignment": 2}
