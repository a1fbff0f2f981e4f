"""Catalog: migrations match the models; WAL; round trips keep UTC."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from assistant.catalog.db import Database
from assistant.catalog.repo import Catalog
from assistant.catalog.schema import Base
from assistant.errors import ConfigError


def test_migrations_match_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/c.db")
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_source_crud_and_documents(tmp_path: Path) -> None:
    cat = Catalog(Database(f"sqlite:///{tmp_path}/c.db"))
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
