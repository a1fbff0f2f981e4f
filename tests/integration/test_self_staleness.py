"""Sourcewise checks itself: this repository, cloned with its history, indexed by the real
CLI; a dead reference in our own README or ``docs/`` fails the build."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.cli import run_cli

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# What is checked is the symbol table and the references, not retrieval: the real model
# reads 16 tokens of big chunks, so indexing the whole repository takes a fraction of a
# normal index's time.
FAST_INDEX = {"SOURCEWISE_EMBEDDING__MAX_SEQ_LENGTH": "16", "SOURCEWISE_INDEXING__CHUNK_MAX_CHARS": "20000"}


@pytest.mark.timeout(1800)
def test_our_own_readme_and_docs_have_no_dead_references(tmp_path: Path) -> None:
    inside = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--is-inside-work-tree"], capture_output=True,
                            text=True)
    if inside.returncode != 0:
        pytest.skip("not a git checkout (an sdist?): nothing to clone")
    clone = tmp_path / "sourcewise"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(clone)], check=True)
    home = tmp_path / "home"
    run_cli(home, "source", "add", "sourcewise", "--git", str(clone))
    report = run_cli(home, "index", "sourcewise", "--json", env=FAST_INDEX, timeout=1700).stdout
    assert '"staleness_error": null' in report, report
    gate = run_cli(home, "stale", "--source", "sourcewise", "--min-severity", "dead",
                   "--path", "README.md", "--path", "docs/**", check=False)
    assert gate.returncode == 0, f"dead references in our own docs:\n{gate.stdout}\n{gate.stderr}"
    assert "has no reference table" not in gate.stderr  # the docs really were checked
