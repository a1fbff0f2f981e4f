"""The pipeline's staleness step with a counting fake embedder (real git repo, catalog
and EdgeStore): what is extracted when, and what is never invented."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.catalog.db import Database
from assistant.catalog.repo import Catalog
from assistant.catalog.symbols import SymbolCatalog
from assistant.embedding.sparse import SparseEncoder
from assistant.settings import load_settings
from assistant.store.edge import EdgeStore
from indexers.pipeline import Pipeline
from indexers.sources.factory import make_source
from indexers.staleness import recorder as recorder_module
from tests.fixtures.gitrepo import GitRepo
from tests.unit.test_pipeline import CountingEmbedder

BROKEN = "def (((:\n" * 40


class World:
    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SOURCEWISE_HOME", str(tmp_path / "home"))
        self.settings = load_settings()
        self.repo = GitRepo(tmp_path / "repo")
        self.repo.write("pkg/api.py", "def compute_total(cart, tax=0.2):\n    return 1\n")
        self.repo.write("pkg/broken.py", BROKEN)
        self.repo.write("docs/guide.md", "# Guide\n\nCall `compute_total(cart, tax=0.1)`.\n")
        self.repo.commit("init", "2024-01-01T00:00:00+00:00")
        self.catalog = Catalog(Database(self.settings.catalog_url))
        self.store = EdgeStore(tmp_path / "home" / "store")
        self.embedder = CountingEmbedder()
        self.row = self.catalog.add_source("app", "git", str(self.repo.path))
        self.symbols = SymbolCatalog(self.catalog.db)

    def index(self, full: bool = False, **kw):
        row = self.catalog.get_source("app")
        pipe = Pipeline(self.catalog, self.store, self.embedder, SparseEncoder(), batch_docs=2, **kw)
        return pipe.index(row, make_source(row, self.settings, self.catalog), full=full)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    w = World(tmp_path, monkeypatch)
    yield w
    w.store.close()


def test_a_file_too_broken_to_chunk_gets_no_symbol_table_and_is_not_retried(world: World) -> None:
    first = world.index()
    assert first.fallback == {"parse-error": 1}
    parsed = {p for p, _ in world.symbols.parsed_blobs(world.row.id)}
    assert parsed == {"pkg/api.py"}  # unknown names, never "defines nothing"
    again = world.index()
    assert (again.symbols_files, again.references_docs, again.embedded) == (0, 0, 0)
    rebuilt = world.index(full=True)  # --full rebuilds the symbol tables it re-reads
    assert (rebuilt.symbols_files, rebuilt.references_docs) == (1, 1)


def test_counts_and_timing_in_the_report(world: World) -> None:
    report = world.index()
    counts = report.counts()
    assert (counts["symbols_files"], counts["symbols"]) == (1, 1)
    assert (counts["references_docs"], counts["references"], counts["references_truncated"]) == (1, 1, 0)
    assert report.staleness_seconds > 0
    [ref] = world.symbols.references(world.row.id)["app:docs/guide.md"][1]
    assert ref.details["call_kwargs"] == ["tax"] and ref.line == 3


def test_an_extraction_bug_never_costs_a_document_its_index(world: World, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(recorder_module, "doc_references", boom)
    monkeypatch.setattr(recorder_module, "definitions_from_tree", boom)
    report = world.index()
    assert report.status == "ok" and report.new == 3 and report.embedded > 0
    assert world.symbols.parsed_blobs(world.row.id) == set()
    monkeypatch.undo()
    fixed = world.index()  # the next run fills the gap without re-embedding
    assert fixed.embedded == 0 and (fixed.symbols_files, fixed.references_docs) == (1, 1)


def test_pending_documents_lose_their_references_on_recovery(world: World) -> None:
    world.index()
    world.catalog.mark_pending(world.row.id, ["app:docs/guide.md"])  # as a killed run leaves it
    world.repo.remove("docs/guide.md")
    world.repo.commit("drop", "2024-02-01T00:00:00+00:00")
    report = world.index()
    assert report.recovered == 1
    assert "app:docs/guide.md" not in world.symbols.references(world.row.id)


def test_code_sources_setting_gives_a_docs_source_its_languages(world: World, tmp_path: Path) -> None:
    world.index()
    docs = tmp_path / "handbook"
    docs.mkdir()
    (docs / "a.md").write_text("```python\nfrom pkg.api import compute_total\n```\n")
    row = world.catalog.add_source("handbook", "docs", str(docs))

    def index_docs(code_sources):
        pipe = Pipeline(world.catalog, world.store, world.embedder, SparseEncoder(), code_sources=code_sources)
        pipe.index(world.catalog.get_source("handbook"),
                   make_source(world.catalog.get_source("handbook"), world.settings, world.catalog))
        return world.symbols.references(row.id)["handbook:a.md"][1]

    assert index_docs([]) == []
    assert [r.text for r in index_docs(["app", "no-such-source"])] == ["pkg.api.compute_total"]
