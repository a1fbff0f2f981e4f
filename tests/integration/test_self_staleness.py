"""Sourcewise checks itself: this repository, cloned with its history, indexed by the real
CLI; a dead reference in our own README or ``docs/`` fails the build."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.cli import run_cli

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_our_own_readme_and_docs_have_no_dead_references(tmp_path: Path) -> None:
    inside = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--is-inside-work-tree"], capture_output=True,
                            text=True)
    if inside.returncode != 0:
        pytest.skip("not a git checkout (an sdist?): nothing to clone")
    clone = tmp_path / "sourcewise"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(clone)], check=True)
    home = tmp_path / "home"
    run_cli(home, "source", "add", "sourcewise", "--git", str(clone))
    run_cli(home, "index", "sourcewise", timeout=1800)
    gate = run_cli(home, "stale", "--source", "sourcewise", "--min-severity", "dead",
                   "--path", "README.md", "--path", "docs/**", check=False)
    assert gate.returncode == 0, f"dead references in our own docs:\n{gate.stdout}\n{gate.stderr}"
