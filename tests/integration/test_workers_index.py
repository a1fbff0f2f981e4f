"""Real index jobs through the catalog's queue: a real git repository, the bundled model and
the embedded store. One is enqueued from the admin page and run by the worker thread that
``sourcewise serve``'s app starts (SQLite + edge: ``workers.in_serve=auto``); one is
enqueued with ``sourcewise index --queue`` and run by ``sourcewise worker --once``."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import ui.pages
from assistant.container import Container
from assistant.settings import load_settings
from tests.fixtures.gitrepo import make_sample_repo
from tests.fixtures.signed_in import sign_in_as
from tests.integration.cli import run_cli, run_json
from ui.server import create_server_app

pytestmark = pytest.mark.slow


def _token(client: TestClient, url: str) -> str:
    m = re.search(r'name="csrf-token" content="([0-9a-f]+)"', client.get(url).text)
    assert m
    return m.group(1)


def _serve_app(tmp_path: Path, repo: Path, **settings: Any) -> tuple[Any, Container, dict[str, str]]:
    container = Container(load_settings(home=tmp_path / "home", indexing={"allowed_roots": [str(repo)]},
                                        **settings))
    container.users.create("root", is_admin=True)
    container.users.create("pat", groups=["eng"])
    app = create_server_app(container, chat=False)  # `sourcewise serve`'s app, Chainlit aside
    who = sign_in_as(app, container)
    return app, container, who


def _add_and_index(client: TestClient, repo: Path) -> int:
    r = client.post("/admin/sources", data={
        "csrf_token": _token(client, "/admin"), "name": "app", "kind": "git", "location": str(repo),
        "groups": "eng", "index_now": "true"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    [job] = client.get("/admin/jobs").json()
    return int(job["id"])


def test_serve_runs_the_admin_pages_index_job_on_its_worker_thread(tmp_path: Path) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    app, container, who = _serve_app(tmp_path, repo.path)
    try:
        with TestClient(app) as client:  # startup: the worker thread starts (SQLite + edge)
            job_id = _add_and_index(client, repo.path)
            deadline = time.monotonic() + 600
            while (job := client.get(f"/admin/jobs/{job_id}").json())["state"] in ("queued", "running"):
                assert time.monotonic() < deadline, job
                time.sleep(0.2)
            assert job["state"] == "done", job
            assert job["report"]["status"] == "ok" and job["report"]["new"] == 7 and job["worker"]
            assert job["tasks"]["embed"]["done"] == job["tasks"]["embed"]["total"] > 0 and job["percent"] == 100
            assert container.store.count() > 7
            assert repo.head()[:10] in client.get("/admin/sources/app").text
            # Jobs are the admins' business: anyone else gets the admin pages' refusal.
            who["name"] = "pat"
            assert client.get("/admin/jobs", follow_redirects=False).status_code == 403
            assert client.get(f"/admin/jobs/{job_id}", follow_redirects=False).status_code == 403
            assert client.get(f"/owners/jobs/{job_id}", follow_redirects=False).status_code == 404
    finally:
        ui.pages.shutdown(app)
        container.close()


def test_serve_with_in_serve_never_leaves_jobs_to_the_workers(tmp_path: Path) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    app, container, _ = _serve_app(tmp_path, repo.path, workers={"in_serve": "never"})
    try:
        with TestClient(app) as client:
            job_id = _add_and_index(client, repo.path)
            time.sleep(1.5)  # several poll intervals: nothing in this process claims it
            assert client.get(f"/admin/jobs/{job_id}").json()["state"] == "queued"
            assert getattr(app.state, "index_worker", None) is None
    finally:
        ui.pages.shutdown(app)
        container.close()


def test_worker_once_runs_a_queued_real_index_job(tmp_path: Path) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    home = tmp_path / "home"
    run_cli(home, "source", "add", "app", "--git", str(repo.path))
    [queued] = run_json(home, "index", "app", "--queue")
    assert queued["state"] == "queued" and queued["source"] == "app" and queued["requested_by"].startswith("cli")
    assert run_json(home, "status")[0]["documents"] == 0  # nothing indexed yet: it is only queued
    [again] = run_json(home, "index", "app", "--queue")
    assert again["id"] == queued["id"]  # the identical queued job, not a second one
    out = run_cli(home, "worker", "--once", "--name", "cli-worker")
    assert "ran 1 job(s)" in out.stderr
    done = run_json(home, "jobs", "show", str(queued["id"]))
    assert done["state"] == "done" and done["worker"] == "cli-worker", done
    assert done["report"]["status"] == "ok" and done["report"]["new"] == 7
    assert run_json(home, "status")[0]["documents"] == 7
    hits = run_json(home, "search", "retry failed payments")
    assert any(h["path"] == "payments/retry.py" for h in hits)
    listed = run_json(home, "jobs", "list")
    assert [j["id"] for j in listed] == [queued["id"]]
    refused = run_cli(home, "jobs", "cancel", str(queued["id"]), check=False)
    assert refused.returncode == 2 and "already done" in refused.stderr


def test_cli_cancels_a_queued_job_and_refuses_paused_sources(tmp_path: Path) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    home = tmp_path / "home"
    run_cli(home, "source", "add", "app", "--git", str(repo.path))
    [queued] = run_json(home, "index", "app", "--queue", "--full")
    assert queued["full"] is True
    out = run_cli(home, "jobs", "cancel", str(queued["id"]))
    assert "cancelled" in out.stdout
    assert run_json(home, "jobs", "show", str(queued["id"]))["state"] == "cancelled"
    assert run_json(home, "jobs", "list", "--state", "queued") == []
    audit = run_cli(home, "audit", "--action", "job.cancel").stdout
    assert "job.cancel" in audit and "app" in audit
    run_cli(home, "source", "pause", "app")
    refused = run_cli(home, "index", "app", "--queue", check=False)
    assert refused.returncode == 2 and "paused" in refused.stderr
    missing = run_cli(home, "jobs", "show", "999", check=False)
    assert missing.returncode == 2 and "no job 999" in missing.stderr
    kept = run_cli(home, "jobs", "prune")  # the default 30 days: the cancelled job is new
    assert "deleted 0 finished job(s) older than 30 day(s)" in kept.stdout
    pruned = run_cli(home, "jobs", "prune", "--older-than-days", "0")
    assert "deleted 1 finished job(s)" in pruned.stdout
    assert run_json(home, "jobs", "list") == []
    assert "job.prune" in run_cli(home, "audit", "--action", "job.prune").stdout
