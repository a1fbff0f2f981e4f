"""``SourceReader``: a document's indexed text by line range, under the caller's access."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from assistant.audit import AuditLog
from assistant.catalog.db import Database
from assistant.catalog.repo import Catalog
from assistant.errors import ConfigError, NotFoundError
from assistant.models import Filter, Hit, User
from assistant.source_reader import SourceReader

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class PointStore:
    """Stand-in for the vector store's ``points``: ``any_of`` filters over payloads."""

    def __init__(self, payloads: list[dict[str, Any]]) -> None:
        self.payloads = payloads

    def points(self, flt: Filter | None = None) -> list[Hit]:
        def ok(p: dict[str, Any]) -> bool:
            for key, values in (flt.any_of if flt else {}).items():
                have = p.get(key)
                have = have if isinstance(have, list) else [have]
                if not set(have) & set(values):
                    return False
            return True

        return [Hit(str(i), 0.0, p) for i, p in enumerate(self.payloads) if ok(p)]


def chunk(doc_id: str, start: int, text: str, groups: list[str], index: int) -> dict[str, Any]:
    return {"doc_id": doc_id, "source": doc_id.split(":")[0], "path": doc_id.split(":", 1)[1],
            "start_line": start, "end_line": start + text.count("\n"), "text": text, "chunk_index": index,
            "commit": COMMIT, "access_groups": groups, "kind": "code", "language": "python",
            "updated_at": "2024-01-01T00:00:00+00:00", "url": "https://git.example/app/blob/x/a.py#L1-L3",
            "owner": "@core"}


@pytest.fixture
def reader(tmp_path: Path) -> SourceReader:
    db = Database(f"sqlite:///{tmp_path / 'catalog.db'}")
    cat = Catalog(db)
    cat.add_source("app", "git", "/tmp/app", access_groups=["everyone"])
    cat.add_source("vault", "git", "/tmp/vault", access_groups=["security"])
    store = PointStore([
        chunk("app:a.py", 1, "line1\nline2\nline3", ["everyone"], 0),
        chunk("app:a.py", 3, "line3\nline4", ["everyone"], 1),  # overlaps line 3
        chunk("app:a.py", 7, "line7\n" + "x" * 50, ["everyone"], 2),  # lines 5-6 are held by no chunk
        chunk("vault:keys.py", 1, "SECRET PLAN", ["security"], 0),
    ])
    return SourceReader(db, store, AuditLog(db))  # type: ignore[arg-type]


def test_reassembles_lines_and_reports_the_gaps(reader: SourceReader) -> None:
    doc = reader.read(User("alice"), "app", "a.py")
    assert doc.text.split("\n")[:7] == ["line1", "line2", "line3", "line4", "", "", "line7"]
    assert (doc.start_line, doc.end_line, doc.last_line, doc.missing_lines) == (1, 8, 8, ((5, 6),))
    assert doc.commit == COMMIT and doc.url == "https://git.example/app/blob/x/a.py" and not doc.truncated
    part = reader.read(User("alice"), "app", "a.py", start_line=2, end_line=3, commit=COMMIT[:8])
    assert (part.text, part.start_line, part.end_line) == ("line2\nline3", 2, 3)
    assert doc.updated_at == datetime(2024, 1, 1, tzinfo=UTC)


def test_cuts_at_a_line_boundary_and_says_so(reader: SourceReader) -> None:
    doc = reader.read(User("alice"), "app", "a.py", max_chars=20)
    assert doc.truncated and doc.text == "line1\nline2\nline3" and doc.end_line == 3
    one = reader.read(User("alice"), "app", "a.py", start_line=8, max_chars=10)
    assert one.truncated and one.text == "x" * 10


def test_forbidden_missing_and_other_commits_answer_alike(reader: SourceReader) -> None:
    messages = []
    for user, source, path, commit in ((User("alice"), "vault", "keys.py", None),
                                       (User("alice"), "app", "nothing.py", None),
                                       (User("alice"), "app", "a.py", "fedcba9876"),
                                       (User("alice"), "nosuch", "keys.py", None)):
        with pytest.raises(NotFoundError) as err:
            reader.read(user, source, path, commit=commit)
        messages.append(str(err.value).replace(source, "S").replace(path, "P"))
        assert "SECRET" not in str(err.value)
    assert len(set(messages)) == 1, messages
    assert reader.read(User("sam", ("security",)), "vault", "keys.py").text == "SECRET PLAN"
    rows = reader.audit.entries(action="source.read")
    assert [r.details["found"] for r in rows] == [True, False, False, False, False]
    with pytest.raises(ConfigError, match="past the end"):
        reader.read(User("alice"), "app", "a.py", start_line=99)


def test_sources_lists_only_readable_ones(reader: SourceReader) -> None:
    assert [s.name for s in reader.sources(User("alice"))] == ["app"]
    assert [s.name for s in reader.sources(User("sam", ("security",)))] == ["app", "vault"]
    assert [s.name for s in reader.sources(User("root", is_admin=True))] == ["app", "vault"]
