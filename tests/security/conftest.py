"""One secret-laden repository, indexed once per test session through the real pipeline
(the bundled model, EdgeStore, the catalog), shared by the storage, answer and API tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant.container import build
from assistant.settings import load_settings
from indexers.pipeline import RunReport
from indexers.runner import index_source
from tests.security.leaks import catalog_strings, strings_in
from tests.security.secret_corpus import Planted, build_secret_repo

SOURCE = "acme"


@dataclass
class Indexed:
    home: Path
    repo: Path
    planted: Planted
    report: RunReport
    points: list[dict]  # every payload in the store after the run

    @property
    def catalog_url(self) -> str:
        return f"sqlite:///{self.home / 'catalog.db'}"

    def stored_texts(self) -> list[tuple[str, str]]:
        """Every string of every payload field of every point, and of every catalog row."""
        texts = [(f"point {p.get('path')} .{key}", s) for p in self.points for key, value in p.items()
                 for s in strings_in(value)]
        return texts + list(catalog_strings(self.catalog_url))


@pytest.fixture(scope="session")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Indexed]:
    base = tmp_path_factory.mktemp("secrets")
    seed = int.from_bytes(os.urandom(4), "big")
    repo, planted = build_secret_repo(base / "repo", seed)
    settings = load_settings(home=base / "home")
    container = build(settings)
    try:
        row = container.catalog.add_source(SOURCE, "git", str(repo.path))  # no groups: everyone reads it
        report = index_source(container, row)
        assert report.status == "ok", report.error
        points = [dict(h.payload) for h in container.store.points()]
    finally:
        container.close()  # the server tests open the store in another process
    yield Indexed(base / "home", repo.path, planted, report, points)
