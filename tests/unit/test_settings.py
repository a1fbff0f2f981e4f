from pathlib import Path

import pytest

from assistant.errors import ConfigError
from assistant.settings import load_settings


def test_defaults_and_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOURCEWISE_HOME", raising=False)
    s = load_settings()
    assert s.home == tmp_path / ".sourcewise"
    assert s.catalog_url == f"sqlite:///{tmp_path}/.sourcewise/catalog.db"
    assert s.store.backend == "edge"
    monkeypatch.setenv("SOURCEWISE_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("SOURCEWISE_EMBEDDING__BATCH_SIZE", "8")
    s = load_settings()
    assert s.home == tmp_path / "data" and s.embedding.batch_size == 8


def test_toml_file_and_env_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOURCEWISE_HOME", raising=False)
    (tmp_path / "sourcewise.toml").write_text('[indexing]\nchunk_max_chars = 900\n[embedding]\nbatch_size = 4\n')
    monkeypatch.setenv("SOURCEWISE_EMBEDDING__BATCH_SIZE", "16")
    s = load_settings()
    assert s.indexing.chunk_max_chars == 900
    assert s.embedding.batch_size == 16


def test_bad_values_are_config_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCEWISE_EMBEDDING__BATCH_SIZE", "0")
    with pytest.raises(ConfigError, match="embedding.batch_size"):
        load_settings()
    monkeypatch.setenv("SOURCEWISE_EMBEDDING__BATCH_SIZE", "4")
    monkeypatch.setenv("SOURCEWISE_STORE__BACKEND", "mongo")
    with pytest.raises(ConfigError, match="store.backend"):
        load_settings()
