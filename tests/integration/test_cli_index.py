"""The CLI end to end on a real git repo with the real bundled model and EdgeStore."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.gitrepo import make_sample_repo
from tests.integration.cli import run_cli, run_json, snapshot

pytestmark = pytest.mark.slow


def test_index_search_reindex_switch_ref_remove(tmp_path: Path) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    home = tmp_path / "home"
    run_cli(home, "source", "add", "app", "--git", str(repo.path), "--groups", "eng,payments")

    [first] = run_json(home, "index")
    assert first["status"] == "ok"
    assert first["new"] == 7 and first["skipped"] == {"binary": 1}
    assert first["embedded"] == first["chunks"] > 7

    hits = run_json(home, "search", "where do we retry failed payments", "--k", "5")
    assert hits[0]["path"] == "payments/retry.py"
    assert set(hits[0]) >= {"source", "path", "start_line", "end_line", "symbol", "score",
                            "updated_at", "commit", "url"}
    assert hits[0]["source"] == "app" and hits[0]["updated_at"].startswith("2024-01-10")
    ident = run_json(home, "search", "HttpClient.send", "--k", "3")
    assert ident[0]["path"] == "web/http_client.js"

    # unchanged: nothing re-chunked or re-embedded
    [again] = run_json(home, "index")
    assert (again["unchanged"], again["embedded"], again["new"], again["changed"]) == (7, 0, 0, 0)

    # change, delete, rename
    repo.write("payments/retry.py", repo.path.joinpath("payments/retry.py").read_text().replace("5", "7"))
    repo.remove("notes.txt")
    repo.move("core/legacy.py", "core/legacy2.py")
    repo.commit("edit", "2024-09-01T00:00:00+00:00", "Eve <eve@example.com>")
    [edit] = run_json(home, "index")
    assert (edit["changed"], edit["new"], edit["deleted"]) == (1, 1, 2)
    snap = snapshot(home)
    paths = {p["path"] for p in snap["points"].values()}
    assert "notes.txt" not in paths and "core/legacy.py" not in paths and "core/legacy2.py" in paths
    retry = [p for p in snap["points"].values() if p["path"] == "payments/retry.py"]
    assert retry and all(p["updated_at"].startswith("2024-09-01") for p in retry)
    assert all(p["access_groups"] == ["eng", "payments"] for p in snap["points"].values())

    # switch to the first commit: only files that differ are re-embedded
    first_commit = repo.git("rev-list", "--max-parents=0", "HEAD")
    run_cli(home, "source", "update", "app", "--ref", first_commit)
    [switched] = run_json(home, "index")
    assert switched["changed"] == 2  # retry.py and http_client.js differ
    assert switched["new"] == 1 and switched["deleted"] == 1  # old/legacy.py back, core/legacy2.py gone

    status = run_json(home, "status")
    assert status[0]["name"] == "app" and status[0]["last_version"] == first_commit
    assert status[0]["documents"] == 6

    run_cli(home, "source", "remove", "app")
    assert snapshot(home)["points"] == {}
    assert run_json(home, "status") == []


def test_bad_sources_fail_alone_with_clear_messages(tmp_path: Path) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    home = tmp_path / "home"
    run_cli(home, "source", "add", "good", "--git", str(repo.path))
    # `source add` checks at once: nothing unusable reaches the catalog
    out = run_cli(home, "source", "add", "wrongref", "--git", str(repo.path), "--ref", "no-such-branch", check=False)
    said = " ".join(out.stderr.split())  # rich wraps long lines
    assert out.returncode == 2 and "not found" in said and "branches: main" in said
    out = run_cli(home, "source", "add", "gone", "--git", "file:///nonexistent/repo.git", check=False)
    assert out.returncode == 2 and "file:// URLs are not fetched" in " ".join(out.stderr.split())
    assert [s["name"] for s in run_json(home, "source", "list")] == ["good"]
    # sources that break after they were added fail alone when indexed
    repo.git("branch", "feature")
    run_cli(home, "source", "add", "wrongref", "--git", str(repo.path), "--ref", "feature")
    repo.git("branch", "-D", "feature")
    other = make_sample_repo(tmp_path / "other")
    run_cli(home, "source", "add", "gone", "--git", str(other.path))
    import shutil

    shutil.rmtree(other.path)
    proc = run_cli(home, "index", "--json", check=False)
    assert proc.returncode == 1
    import json

    reports = {r["source"]: r for r in json.loads(proc.stdout)}
    assert reports["good"]["status"] == "ok" and reports["good"]["new"] == 7
    assert "not found" in reports["wrongref"]["error"] and "--ref" in reports["wrongref"]["error"]
    assert "does not exist" in reports["gone"]["error"]
    out = run_cli(home, "source", "add", "x", "--git", str(repo.path), "--docs", str(repo.path), check=False)
    assert out.returncode == 2 and "exactly one of" in out.stderr
    out = run_cli(home, "search", "anything", "--source", "nope", check=False)
    assert out.returncode == 2 and "unknown source" in out.stderr
    assert "Traceback" not in out.stderr


def test_second_writer_is_refused(tmp_path: Path) -> None:
    from assistant.lock import WriterLock

    repo = make_sample_repo(tmp_path / "repo")
    home = tmp_path / "home"
    run_cli(home, "source", "add", "app", "--git", str(repo.path))
    with WriterLock(home):  # another writer holds the data dir
        proc = run_cli(home, "index", check=False)
    assert proc.returncode == 2
    assert "another sourcewise process" in proc.stderr and "Traceback" not in proc.stderr
    [report] = run_json(home, "index")  # free again: nothing was half-written
    assert report["status"] == "ok" and report["new"] == 7


def test_shell_answers_with_citations_and_follow_ups(tmp_path: Path) -> None:
    """What `make run` opens: streamed cited answers, a follow-up, quit on an empty line."""
    import os
    import subprocess
    import sys

    repo = make_sample_repo(tmp_path / "repo")
    home = tmp_path / "home"
    run_cli(home, "source", "add", "app", "--git", str(repo.path))
    run_cli(home, "index")
    proc = subprocess.run(
        [sys.executable, "-m", "sourcewise.cli", "shell"],
        input="where do we retry failed payments?\nwhat is the retry limit there?\n\n",
        env={**os.environ, "SOURCEWISE_HOME": str(home)}, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("payments/retry.py") >= 2  # both answers cite it
    assert "[1]" in proc.stdout and "Traceback" not in proc.stderr
    assert proc.stderr.count("interaction") == 2  # one interaction row per answer
