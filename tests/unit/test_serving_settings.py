"""`sourcewise serve` gives the model half the cores unless the settings say otherwise."""

from __future__ import annotations

import pytest

from assistant.settings import Settings
from sourcewise import api_cli


def test_serve_defaults_to_half_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_cli.os, "cpu_count", lambda: 16)
    assert api_cli.serving_settings(Settings()).embedding.threads == 8
    monkeypatch.setattr(api_cli.os, "cpu_count", lambda: 1)
    assert api_cli.serving_settings(Settings()).embedding.threads == 1
    monkeypatch.setattr(api_cli.os, "cpu_count", lambda: None)
    assert api_cli.serving_settings(Settings()).embedding.threads == 1


def test_an_explicit_thread_count_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCEWISE_EMBEDDING__THREADS", "3")
    settings = Settings()
    assert api_cli.serving_settings(settings).embedding.threads == 3
    monkeypatch.delenv("SOURCEWISE_EMBEDDING__THREADS")
    assert Settings().embedding.threads == 0  # the CLI keeps torch's default (all cores)
