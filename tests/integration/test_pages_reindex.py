"""The admin page adds and indexes a real git repository through the catalog's job queue and
the serving process's worker thread, with the real model and EdgeStore; an owner's "mark
fixed" re-indexes it again and closes the flag."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import ui.pages
from assistant.api.app import create_app
from assistant.catalog.interactions import InteractionLog
from assistant.container import Container
from assistant.models import User
from assistant.settings import load_settings
from tests.fixtures.gitrepo import make_sample_repo
from tests.fixtures.signed_in import sign_in_as
from ui.pages.jobs import jobs_for, start_worker

pytestmark = pytest.mark.slow


def _token(client: TestClient, url: str) -> str:
    m = re.search(r'name="csrf-token" content="([0-9a-f]+)"', client.get(url).text)
    assert m
    return m.group(1)


def test_add_index_and_mark_fixed_through_the_pages(tmp_path: Path) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    # the admin form adds local repositories only under allowed roots
    container = Container(load_settings(home=tmp_path / "home", indexing={"allowed_roots": [str(repo.path)]}))
    container.users.create("root", is_admin=True)
    container.users.create("pat", groups=["payments-team"])
    app = create_app(container)
    app.include_router(ui.pages.router)
    who = sign_in_as(app, container)
    start_worker(app, container)  # as `sourcewise serve` does with SQLite and the embedded store
    try:
        with TestClient(app) as client:
            r = client.post("/admin/sources", data={
                "csrf_token": _token(client, "/admin"), "name": "app", "kind": "git", "location": str(repo.path),
                "groups": "eng, payments-team", "index_now": "true"}, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == "/admin/sources/app"
            jobs = jobs_for(app)
            [job] = jobs.list()
            job = jobs.wait(job.id, 600)
            assert job.state == "done", job.error
            snap = client.get(f"/admin/jobs/{job.id}").json()
            assert snap["report"]["status"] == "ok" and snap["report"]["new"] == 7
            assert snap["tasks"]["embed"]["done"] == snap["tasks"]["embed"]["total"] > 0
            page = client.get("/admin/sources/app").text
            assert "assets/logo.png" in page and "binary" in page  # skipped, with its reason
            assert repo.head()[:10] in page
            assert container.store.count() > 7

            # someone flags the payments code; its CODEOWNERS owner fixes it
            doc_id = "app:payments/retry.py"
            assert container.catalog.document(doc_id).owner == "@payments-team"
            ident = InteractionLog(container.db).record(
                user_name="root", channel="ui", question="What is the retry limit?", answer="5 [1]",
                retrieved=[{"n": 1, "id": "p1", "doc_id": doc_id, "path": "payments/retry.py", "score": 1.0}],
                citations=[{"n": 1, "id": "p1", "citation": f"app@{repo.head()}:payments/retry.py#L3-L3"}])
            container.feedback.flag(ident, 1, User("root", is_admin=True), "outdated", comment="it is 7 now")
            repo.write("payments/retry.py", repo.path.joinpath("payments/retry.py").read_text()
                       .replace("RETRY_LIMIT = 5", "RETRY_LIMIT = 7"))
            fixed_commit = repo.commit("retry limit 7", "2024-09-01T00:00:00+00:00")
            who["name"] = "pat"
            assert "payments/retry.py" in client.get("/owners").text
            r = client.post("/owners/fixed", data={"csrf_token": _token(client, "/owners"), "doc_id": doc_id},
                            follow_redirects=False)
            assert r.status_code == 303
            fix = jobs.list()[0]
            assert fix.label == "mark fixed"
            fix = jobs.wait(fix.id, 600)
            assert fix.state == "done", fix.error
            assert fix.report["changed"] == 1 and fix.report["new"] == 0
            assert container.owners.open_flags(doc_id) == []
            assert container.catalog.get_source("app").last_version == fixed_commit
            assert "Nothing flagged" in client.get("/owners").text
            actions = {e.action for e in container.audit.entries()}
            assert {"source.add", "source.reindex", "owner.fixed"} <= actions
    finally:
        ui.pages.shutdown(app)
        container.close()
