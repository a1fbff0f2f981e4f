"""Which Source a catalog row becomes; docs inside a checkout take git freshness."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from assistant.catalog.db import Database
from assistant.catalog.repo import Catalog
from assistant.models import Document
from assistant.settings import load_settings
from indexers.sources.docs import DocsSource
from indexers.sources.factory import detect_wiki_format, make_source
from indexers.sources.git import GitSource
from indexers.sources.wiki import ConfluenceSource, MediaWikiSource
from tests.fixtures.gitrepo import GitRepo, make_sample_repo


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Catalog:
    monkeypatch.setenv("SOURCEWISE_HOME", str(tmp_path / "home"))
    return Catalog(Database(load_settings().catalog_url))


def test_docs_inside_checkout_use_git_history(tmp_path: Path, catalog: Catalog) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    repo.write("docs/guide/intro.rst", "Intro\n=====\n\nHello.\n")
    repo.write("docs/tool.py", "print('not a doc')\n")
    repo.commit("docs", "2024-05-05T05:05:00+00:00", "Dora Docs <dora@example.com>")
    row = catalog.add_source("handbook", "docs", str(repo.path / "docs"))
    src = make_source(row, load_settings(), catalog)
    assert isinstance(src, GitSource)
    docs = {d.path: d for d in src.scan() if isinstance(d, Document)}
    assert set(docs) == {"docs/deploy.md", "docs/guide/intro.rst"}
    assert docs["docs/deploy.md"].updated_at == datetime(2024, 1, 10, 10, tzinfo=UTC)
    assert docs["docs/guide/intro.rst"].author == "Dora Docs <dora@example.com>"


def test_plain_directory_is_docs_source(tmp_path: Path, catalog: Catalog) -> None:
    (tmp_path / "handbook").mkdir()
    row = catalog.add_source("hb", "docs", str(tmp_path / "handbook"))
    assert isinstance(make_source(row, load_settings(), catalog), DocsSource)


def test_wiki_formats(tmp_path: Path, catalog: Catalog) -> None:
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "wiki"
    assert detect_wiki_format(str(fixtures / "mediawiki-export.xml")) == "mediawiki"
    assert detect_wiki_format(str(fixtures / "confluence-ENG")) == "confluence"
    wiki = GitRepo(tmp_path / "wiki")
    assert detect_wiki_format(str(wiki.path)) == "git"
    assert detect_wiki_format("https://github.com/acme/app.wiki.git") == "git"
    settings = load_settings()
    mw = catalog.add_source("mw", "wiki", str(fixtures / "mediawiki-export.xml"), options={"format": "mediawiki"})
    cf = catalog.add_source("cf", "wiki", str(fixtures / "confluence-ENG"), options={"format": "confluence"})
    gw = catalog.add_source("gw", "wiki", str(wiki.path), options={"format": "git"})
    assert isinstance(make_source(mw, settings, catalog), MediaWikiSource)
    assert isinstance(make_source(cf, settings, catalog), ConfluenceSource)
    assert isinstance(make_source(gw, settings, catalog), GitSource)
