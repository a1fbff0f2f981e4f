"""kill -9 at any moment, run again: the state equals a clean run's, exactly."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.gitrepo import GitRepo, make_sample_repo
from tests.integration.cli import run_cli, snapshot

pytestmark = pytest.mark.slow

SMALL_BATCHES = {"SOURCEWISE_INDEXING__DOCS_BATCH": "2"}
STAGES = ["after-mark-pending", "after-upsert", "before-catalog", "after-catalog:2", "after-store-delete"]


def _second_version(repo: GitRepo) -> None:
    for i in range(6):
        repo.write(f"pkg/mod{i}.py", f"def handler_{i}(event):\n    return event['id'] * {i}\n")
    repo.write("payments/retry.py", "RETRY_LIMIT = 9\n\ndef retry_failed_payment(pid):\n    return pid\n")
    repo.remove("notes.txt")
    repo.remove("docs/deploy.md")
    repo.commit("v2", "2024-10-01T00:00:00+00:00")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("crash")
    repo = make_sample_repo(root / "repo")
    v1_home = root / "v1"
    run_cli(v1_home, "source", "add", "app", "--git", str(repo.path))
    run_cli(v1_home, "index", env=SMALL_BATCHES)
    _second_version(repo)
    clean = root / "clean"
    run_cli(clean, "source", "add", "app", "--git", str(repo.path))
    run_cli(clean, "index", env=SMALL_BATCHES)
    return {"root": root, "repo": repo, "v1": v1_home, "clean": snapshot(clean)}


@pytest.mark.parametrize("stage", STAGES)
def test_crash_at_stage_converges(world: dict, stage: str) -> None:
    home = world["root"] / f"home-{stage.replace(':', '-')}"
    shutil.copytree(world["v1"], home)
    crashed = run_cli(home, "index", env={**SMALL_BATCHES, "SOURCEWISE_TEST_CRASH_AT": stage}, check=False)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    report = run_cli(home, "index", "--json", env=SMALL_BATCHES)
    assert '"status": "ok"' in report.stdout
    assert snapshot(home) == world["clean"]


def test_random_kills_converge(world: dict) -> None:
    rng = random.Random(7)
    home = world["root"] / "home-random"
    shutil.copytree(world["v1"], home)
    env = {**os.environ, "SOURCEWISE_HOME": str(home), **SMALL_BATCHES}
    kills = 0
    for _ in range(4):  # bounded: at most four interrupted runs
        proc = subprocess.Popen([sys.executable, "-m", "sourcewise.cli", "index"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.0, 9.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    run_cli(home, "index", env=SMALL_BATCHES)
    assert snapshot(home) == world["clean"]


def test_crash_then_source_changes_leaves_no_orphans(tmp_path: Path) -> None:
    """Points written by a killed run for files that are gone by the next run are swept."""
    repo = make_sample_repo(tmp_path / "repo")
    home = tmp_path / "home"
    run_cli(home, "source", "add", "app", "--git", str(repo.path))
    run_cli(home, "index", env=SMALL_BATCHES)
    _second_version(repo)
    crashed = run_cli(home, "index", env={**SMALL_BATCHES, "SOURCEWISE_TEST_CRASH_AT": "before-catalog:3"},
                      check=False)
    assert crashed.returncode == -signal.SIGKILL
    for i in range(6):  # every new module of v2 disappears before the re-run
        repo.remove(f"pkg/mod{i}.py")
    repo.commit("v3", "2024-11-01T00:00:00+00:00")
    run_cli(home, "index", env=SMALL_BATCHES)
    clean = tmp_path / "clean"
    run_cli(clean, "source", "add", "app", "--git", str(repo.path))
    run_cli(clean, "index", env=SMALL_BATCHES)
    assert snapshot(home) == snapshot(clean)


def test_crash_during_backfill_converges(tmp_path: Path) -> None:
    """An index without symbol tables (built before they existed) gains them on the next
    run without re-embedding; killed midway, the run after that finishes the job."""
    import sqlite3

    repo = make_sample_repo(tmp_path / "repo")
    _second_version(repo)
    home = tmp_path / "home"
    run_cli(home, "source", "add", "app", "--git", str(repo.path))
    run_cli(home, "index", env=SMALL_BATCHES)
    clean = snapshot(home)
    assert any(clean["symbols"]["app"].values()) and clean["references"]["app"][0]
    con = sqlite3.connect(home / "catalog.db")
    for table in ("symbols", "symbol_blobs", "doc_references", "doc_reference_scans"):
        con.execute(f"delete from {table}")
    con.commit()
    con.close()
    env = {**SMALL_BATCHES, "SOURCEWISE_TEST_CRASH_AT": "after-backfill:2"}
    crashed = run_cli(home, "index", env=env, check=False)
    assert crashed.returncode == -signal.SIGKILL
    report = run_cli(home, "index", "--json", env=SMALL_BATCHES)
    assert '"embedded": 0' in report.stdout
    assert snapshot(home) == clean
