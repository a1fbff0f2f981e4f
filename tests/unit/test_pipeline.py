"""Pipeline hash gate, payload-only updates, shrink, recovery, failure isolation.

Unit level: a counting fake embedder stands in for the model; the store is a real
EdgeStore and the source a real git repository.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from assistant.catalog.db import Database
from assistant.catalog.repo import Catalog
from assistant.embedding.sparse import SparseEncoder
from assistant.errors import SourceError
from assistant.models import Document, Filter, ItemFailure, Point, SparseVector, point_id
from assistant.settings import load_settings
from assistant.store.edge import EdgeStore
from assistant.store.server import QdrantServerStore
from indexers.pipeline import Pipeline
from indexers.sources.factory import make_source
from tests.fixtures.gitrepo import make_sample_repo


class CountingEmbedder:
    def __init__(self, model_id: str = "fake-8") -> None:
        self.model_id = model_id
        self.embedded = 0

    @property
    def dim(self) -> int:
        return 8

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> list[list[float]]:
        self.embedded += len(texts)
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        digest = hashlib.sha256(text.encode()).digest()
        return [b / 255 + 0.01 for b in digest[:8]]


class World:
    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str = "edge") -> None:
        monkeypatch.setenv("SOURCEWISE_HOME", str(tmp_path / "home"))
        self.settings = load_settings()
        self.repo = make_sample_repo(tmp_path / "repo")
        self.catalog = Catalog(Database(self.settings.catalog_url))
        self.store = (EdgeStore(tmp_path / "home" / "store") if backend == "edge"
                      else QdrantServerStore(f"pipe-{tmp_path.name}", location=":memory:"))
        self.embedder = CountingEmbedder()
        self.row = self.catalog.add_source("app", "git", str(self.repo.path), access_groups=["eng"])

    def index(self, source=None, embedder=None, **kw):
        row = self.catalog.get_source("app")
        pipe = Pipeline(self.catalog, self.store, embedder or self.embedder, SparseEncoder(), batch_docs=3)
        return pipe.index(row, source or make_source(row, self.settings, self.catalog), **kw)

    def consistent(self) -> None:
        """Catalog and store agree: same documents, point count = sum of chunk counts."""
        states = self.catalog.doc_states(self.row.id)
        assert self.store.doc_ids(Filter({"source": ["app"]})) == set(states)
        assert self.store.count() == sum(s.chunk_count for s in states.values())
        assert self.catalog.pending(self.row.id) == []


@pytest.fixture(params=["edge", "server"])
def world(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = World(tmp_path, monkeypatch, request.param)
    yield w
    w.store.close()


def test_first_run_then_unchanged_embeds_nothing(world: World) -> None:
    first = world.index()
    assert first.status == "ok" and first.new == 7 and first.skipped == {"binary": 1}
    assert world.embedder.embedded == first.chunks > 0
    world.consistent()
    before = world.embedder.embedded
    again = world.index()
    assert (again.unchanged, again.embedded, again.chunks) == (7, 0, 0)
    assert world.embedder.embedded == before
    world.consistent()


def test_group_change_rewrites_payload_without_embedding(world: World) -> None:
    world.index()
    before = world.embedder.embedded
    world.catalog.update_source(world.row.id, access_groups=["eng", "sre"])
    report = world.index()
    assert report.meta_updated == 7 and report.embedded == 0
    assert world.embedder.embedded == before
    groups = {tuple(h.payload["access_groups"]) for h in world.store.points()}
    assert groups == {("eng", "sre")}


def test_shrinking_document_drops_tail_points(world: World) -> None:
    world.index()
    big = "\n\n".join(f"def f{i}(x):\n" + "\n".join(f"    y{j} = x + {j}" for j in range(30)) + "\n    return x"
                      for i in range(12))
    world.repo.write("payments/retry.py", big)
    world.repo.commit("grow", "2024-07-01T00:00:00+00:00")
    world.index()
    grown = world.catalog.doc_states(world.row.id)["app:payments/retry.py"].chunk_count
    assert grown > 3
    world.repo.write("payments/retry.py", "RETRY_LIMIT = 1\n")
    world.repo.commit("shrink", "2024-08-01T00:00:00+00:00")
    report = world.index()
    assert report.changed == 1
    assert world.catalog.doc_states(world.row.id)["app:payments/retry.py"].chunk_count == 1
    world.consistent()


def test_pending_documents_are_recovered(world: World) -> None:
    world.index()
    # simulate a run killed after writing points for a doc but before recording it
    doc_id = "app:payments/retry.py"
    world.catalog.mark_pending(world.row.id, [doc_id])
    junk = Point(point_id(doc_id, 99), [0.5] * 8, SparseVector((), ()), {"doc_id": doc_id, "source": "app",
                                                                        "chunk_index": 99})
    world.store.upsert([junk])
    report = world.index()
    assert report.recovered == 1 and report.new == 1
    assert point_id(doc_id, 99) not in {h.id for h in world.store.points()}
    world.consistent()


def test_source_error_changes_nothing(world: World) -> None:
    world.index()
    before = world.catalog.doc_states(world.row.id)

    class Broken:
        name = "app"
        version = "x"

        def scan(self) -> Iterator[Document | ItemFailure]:
            yield from []
            raise SourceError("export is truncated: re-export it")

    report = world.index(source=Broken())
    assert report.status == "failed" and "re-export" in report.error
    assert world.catalog.doc_states(world.row.id) == before
    assert world.catalog.get_source("app").last_error == "export is truncated: re-export it"
    world.consistent()


def test_new_model_reembeds_everything(world: World) -> None:
    first = world.index()
    other = CountingEmbedder("fake-other")
    report = world.index(embedder=other)
    assert report.changed == 7 and other.embedded == first.chunks


def test_deleted_and_renamed_files_leave_store_and_catalog(world: World) -> None:
    world.index()
    world.repo.remove("notes.txt")
    world.repo.move("core/legacy.py", "core/renamed.py")
    world.repo.commit("rm", "2024-07-01T00:00:00+00:00")
    report = world.index()
    assert (report.deleted, report.new) == (2, 1)
    paths = {h.payload["path"] for h in world.store.points()}
    assert "notes.txt" not in paths and "core/legacy.py" not in paths and "core/renamed.py" in paths
    world.consistent()


def test_full_sweeps_orphan_points(world: World) -> None:
    world.index()
    orphan = Point(point_id("app:ghost.py", 0), [0.5] * 8, SparseVector((), ()),
                   {"doc_id": "app:ghost.py", "source": "app", "chunk_index": 0})
    world.store.upsert([orphan])
    world.index(full=True)
    assert "app:ghost.py" not in world.store.doc_ids()
    world.consistent()


def _doc(path: str, loader) -> Document:
    from datetime import UTC, datetime

    return Document(doc_id=f"app:{path}", source="app", path=path, kind="code", content_hash=path,
                    updated_at=datetime(2024, 1, 1, tzinfo=UTC), version="v1", loader=loader,
                    language="python")


class ListSource:
    name = "app"
    version = "v1"

    def __init__(self, docs: list[Document]) -> None:
        self.docs = docs

    def scan(self) -> Iterator[Document | ItemFailure]:
        yield from self.docs


def test_unexpected_item_error_is_recorded_and_run_goes_on(world: World) -> None:
    def boom() -> str:
        raise RuntimeError("chunker bug")

    src = ListSource([_doc("good.py", lambda: "def ok():\n    return 1\n"), _doc("bad.py", boom)])
    report = world.index(source=src)
    assert report.status == "ok" and report.new == 1
    assert report.skipped == {"internal-error": 1}
    assert [f.path for f in report.failures] == ["bad.py"]
    assert set(world.catalog.doc_states(world.row.id)) == {"app:good.py"}


def test_store_failure_marks_run_failed_and_propagates(world: World) -> None:
    from assistant.errors import StoreError

    def refuse(points):
        raise StoreError("disk full")

    world.store.upsert = refuse  # type: ignore[method-assign]
    with pytest.raises(StoreError):
        world.index()
    run = world.catalog.last_run(world.row.id)
    assert run.status == "failed" and "disk full" in run.error
    assert world.catalog.doc_states(world.row.id) == {}


def test_a_run_stopped_on_purpose_is_interrupted_not_failed(world: World) -> None:
    """A cancelled job's run must not read as a failure (the ``index_failing`` alert reads it)."""
    from assistant.errors import RunStopped

    class Cancelling:
        def start(self, task: str, total: int) -> None:
            pass

        def advance(self, task: str, amount: int = 1) -> None:
            raise RunStopped("cancel")

        def finish(self, task: str) -> None:
            pass

    row = world.catalog.get_source("app")
    pipe = Pipeline(world.catalog, world.store, world.embedder, SparseEncoder(), batch_docs=3,
                    progress=Cancelling())
    with pytest.raises(RunStopped):
        pipe.index(row, make_source(row, world.settings, world.catalog))
    run = world.catalog.last_run(world.row.id)
    assert run.status == "interrupted" and run.error == "interrupted (cancel)"


def test_owner_decisions_survive_reindexing(world: World) -> None:
    """A reassigned owner and a deprecation (excluded from retrieval) outlive a content change."""
    world.index()
    doc = "app:payments/retry.py"
    world.catalog.set_doc_override(doc, "admin", owner="@carol", deprecated=True)
    world.repo.write("payments/retry.py", "RETRY_LIMIT = 9\n")
    world.repo.commit("change", "2024-09-01T00:00:00+00:00")
    assert world.index().changed == 1
    hidden = Filter({}, {"excluded": ["deprecated"]})
    assert doc not in world.store.doc_ids(hidden)
    assert {h.payload["owner"] for h in world.store.points(Filter({"doc_id": [doc]}))} == {"@carol"}
    row = world.catalog.document(doc)
    assert row is not None and (row.owner, row.status) == ("@carol", "deprecated")
    world.catalog.set_doc_override(doc, "admin", deprecated=False)
    world.repo.write("payments/retry.py", "RETRY_LIMIT = 10\n")
    world.repo.commit("again", "2024-10-01T00:00:00+00:00")
    world.index()
    assert doc in world.store.doc_ids(hidden)
