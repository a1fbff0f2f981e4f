"""Catalog: migrations match the models; WAL; round trips keep UTC; on SQLite and PostgreSQL
(``catalog_url`` runs each test on both); a bad PostgreSQL URL is a clear error without the password."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from assistant.catalog.db import Database
from assistant.catalog.repo import Catalog
from assistant.catalog.schema import Base
from assistant.errors import ConfigError, StoreError
from tests.fixtures.postgres import PostgresServer, catalog_url, pg_server  # noqa: F401 - fixtures


def test_migrations_match_models(catalog_url: str) -> None:
    db = Database(catalog_url)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        else:  # every *_at column keeps its time zone (aware UTC in, aware UTC out)
            naive = conn.execute(text(
                "SELECT table_name || '.' || column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND data_type = 'timestamp without time zone'")).scalars().all()
            assert naive == []
    db.close()


def test_source_crud_and_documents(catalog_url: str) -> None:
    cat = Catalog(Database(catalog_url))
    row = cat.add_source("app", "git", "/x", ref="main", access_groups=["eng"])
    with pytest.raises(ConfigError, match="exists"):
        cat.add_source("app", "git", "/y")
    with pytest.raises(ConfigError, match="no source named 'nope'.*app"):
        cat.get_source("nope")
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    fields = dict(doc_id="app:a.py", path="a.py", kind="code", language="python", title=None,
                  content_hash="h1", meta_hash="m1", updated_at=when, version="c1", author="A",
                  owner="@o", url=None, status="active", chunk_count=2, chunk_strategy="code",
                  model_id="m")
    chunks = [dict(chunk_index=i, point_id=f"p{i}", start_line=1, end_line=2, symbol=None, title=None)
              for i in range(2)]
    cat.mark_pending(row.id, ["app:a.py"])
    assert cat.pending(row.id) == ["app:a.py"]
    cat.record_documents(row.id, [(fields, chunks)])
    assert cat.pending(row.id) == []
    states = cat.doc_states(row.id)
    assert states["app:a.py"].content_hash == "h1" and states["app:a.py"].chunk_count == 2
    doc = cat.documents(row.id)[0]
    assert doc.updated_at == when and doc.updated_at.tzinfo is not None
    status = cat.status()[0]
    assert (status.documents, status.chunks) == (1, 2)
    cat.remove_source(row.id)
    assert cat.doc_states(row.id) == {}


def test_an_unreachable_postgresql_url_names_the_host_never_the_password() -> None:
    with pytest.raises(StoreError) as err:
        Database("postgresql+psycopg://sourcewise:hunter2-secret@127.0.0.1:1/catalog")
    message = str(err.value)
    assert "127.0.0.1:1" in message and "SOURCEWISE_CATALOG__URL" in message
    assert "hunter2" not in message and "hunter2" not in repr(err.value.__cause__ or "")


def test_a_malformed_or_driverless_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a database URL"):
        Database("postgres//sourcewise:hunter2@db/x")
    with pytest.raises(ConfigError, match="no database driver") as err:
        Database("postgresql+nosuchdriver://sourcewise:hunter2@db.internal/x")
    assert "db.internal" in str(err.value) and "hunter2" not in str(err.value)


@pytest.mark.postgres
def test_a_missing_postgresql_database_is_a_store_error_naming_it(pg_server: PostgresServer) -> None:
    url = pg_server.url("no_such_catalog").replace("sw@", "sw:hunter2@")
    with pytest.raises(StoreError, match="no_such_catalog") as err:
        Database(url)
    assert "hunter2" not in str(err.value)


def test_concurrent_first_writes_of_one_key_lose_nothing_and_fail_nothing(catalog_url: str) -> None:
    """Regression (PostgreSQL runs writers in parallel): two admins saving a run-time setting, or
    two owners deciding about one document, at once; both read "no row yet" and insert."""
    import threading

    from assistant.app_settings import KNOWN, AppSettings
    from assistant.catalog.schema import AppSettingRow

    db = Database(catalog_url)
    cat, settings = Catalog(db), AppSettings(db)
    key = next(k for k, (kind, *_) in KNOWN.items() if kind is bool)
    errors: list[BaseException] = []

    def race(fns: list) -> None:
        start = threading.Barrier(len(fns))

        def run(fn) -> None:
            start.wait()
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(fn,)) for fn in fns]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    for n in range(3):
        with db.session() as s:
            s.query(AppSettingRow).delete()
        race([lambda i=i: settings.set(key, bool(i % 2), f"admin{i}") for i in range(6)])
        race([lambda i=i, n=n: cat.set_doc_override(f"app:doc{n}.md", f"owner{i}", owner=f"@o{i}")
                 for i in range(6)])
    assert errors == []
    assert isinstance(settings.get(key), bool)
    overrides = cat.doc_overrides()
    assert sorted(overrides) == ["app:doc0.md", "app:doc1.md", "app:doc2.md"]
    db.close()


OPENER = """
import sys
from assistant.catalog.db import Database
print("ready", flush=True)
sys.stdin.readline()
Database(sys.argv[1]).close()
"""


def test_processes_starting_at_once_migrate_one_schema(catalog_url: str) -> None:
    """Regression (PostgreSQL): app replicas and workers start together against an empty
    database; each runs the migrations, and all but one failed on tables the first had made."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    procs = [subprocess.Popen([sys.executable, "-c", OPENER, catalog_url], cwd=root, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(root)}) for _ in range(4)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert [rc for rc, _ in results] == [0] * 4, "\n".join(err for _, err in results)
    db = Database(catalog_url, run_migrations=False)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    db.close()
