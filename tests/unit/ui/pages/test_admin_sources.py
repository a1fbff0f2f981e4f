"""Admin sources: health, add, pause/resume, access groups, re-index with progress, remove."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from sqlalchemy import select

from assistant.catalog.schema import DocumentRow
from tests.fixtures.gitrepo import make_sample_repo
from tests.unit.ui.pages.conftest import Pages, add_doc


def test_sources_table_shows_health_and_freshness(pages: Pages) -> None:
    c = pages.container
    for path, days in [("a.py", 5), ("b.py", 10), ("c.py", 60), ("d.py", 200), ("e.py", 800), ("f.py", 2000)]:
        add_doc(c, "app", path, age_days=days)
    row = c.catalog.get_source("app")
    c.catalog.update_source(row.id, last_version="b" * 40, last_indexed_at=row.created_at)
    run = c.catalog.start_run(row.id)
    c.catalog.add_failures(run, row.id, [("img/logo.png", "binary", "binary file"),
                                         ("big.json", "too-large", "2 MB > 1 MB")])
    c.catalog.finish_run(run, status="ok")
    pages.as_user("root")
    body = pages.get("/admin").text
    assert re.search(r'<td class="num">6</td>\s*<td class="num">12</td>', body)  # docs, chunks
    assert "bbbbbbbbbb" in body and "2 skipped" in body
    # freshness bars: 2 of 6 under 30 days, then 1 each
    assert 'class="col b0"><div class="bar" style="height: 33.3%"' in body
    assert 'class="col b4"><div class="bar" style="height: 16.7%"' in body
    detail = pages.get("/admin/sources/app").text
    assert "img/logo.png" in detail and "too-large" in detail and "2 MB &gt; 1 MB" in detail


def test_add_a_source_and_index_it_now(pages: Pages, tmp_path: Path) -> None:
    repo = make_sample_repo(tmp_path / "srv" / "repo").path
    pages.as_user("root")
    r = pages.post("/admin/sources", {"name": "payments", "kind": "git", "location": str(repo), "ref": "main",
                                      "groups": "payments, eng,payments", "include": "src/**\n*.md",
                                      "index_now": "true"})
    assert r.headers["location"] == "/admin/sources/payments"
    pages.wait_jobs()
    row = pages.container.catalog.get_source("payments")
    assert (row.kind, row.location, row.ref, row.access_groups) == ("git", str(repo), "main", ["eng", "payments"])
    assert row.options["include"] == ["src/**", "*.md"]
    assert pages.reindex.calls == [("payments", False)]
    actions = [e.action for e in pages.container.audit.entries()]
    assert "source.add" in actions and "source.reindex" in actions


def test_add_refuses_what_could_not_work(pages: Pages, tmp_path: Path) -> None:
    pages.as_user("root")
    cases = [({"name": "x", "kind": "docs", "location": str(tmp_path / "srv" / "missing"), "groups": "eng"},
              "does not exist"),
             ({"name": "x", "kind": "git", "location": "relative/path"}, "absolute path"),
             ({"name": "x", "kind": "svn", "location": "/srv/x"}, "one of git, docs, wiki"),
             ({"name": "a b", "kind": "git", "location": "/srv/x"}, "source name")]
    for form, message in cases:
        assert message in pages.flash(pages.post("/admin/sources", form)), form
    repo = make_sample_repo(tmp_path / "srv" / "x")
    pages.post("/admin/sources", {"name": "x", "kind": "git", "location": str(repo.path), "groups": "eng"})
    again = pages.post("/admin/sources", {"name": "x", "kind": "git", "location": "/srv/y", "public": "true"})
    assert "exists" in pages.flash(again)
    assert [r.name for r in pages.container.catalog.list_sources()] == ["x"]
    assert pages.reindex.calls == []  # index_now not ticked


def test_pause_stops_reindexing_until_resumed(pages: Pages) -> None:
    add_doc(pages.container, "app", "a.py")
    pages.as_user("root")
    pages.post("/admin/sources/app/pause")
    assert pages.container.catalog.get_source("app").status == "paused"
    assert "paused" in pages.get("/admin").text
    assert "resume it" in pages.flash(pages.post("/admin/sources/app/reindex"))
    assert pages.reindex.calls == []
    pages.post("/admin/sources/app/resume")
    pages.post("/admin/sources/app/reindex", {"full": "true"})
    pages.wait_jobs()
    assert pages.reindex.calls == [("app", True)]
    assert [e.action for e in pages.container.audit.entries()][::-1] == \
        ["source.pause", "source.resume", "source.reindex"]


def test_editing_access_groups_saves_and_applies_them_to_the_index_at_once(pages: Pages) -> None:
    add_doc(pages.container, "app", "a.py")
    pages.as_user("root")
    r = pages.post("/admin/sources/app/groups", {"groups": "sre, eng"})
    assert "applied" in pages.flash(r)
    pages.wait_jobs()
    assert pages.container.catalog.get_source("app").access_groups == ["eng", "sre"]
    assert ("source_payload", ("app", {"access_groups": ["eng", "sre"]})) in pages.store.calls
    assert pages.reindex.calls == []  # no re-index needed
    [entry] = pages.container.audit.entries(action="source.update")
    assert entry.details["access_groups"] == ["eng", "sre"]


def test_reindex_progress_is_visible_while_it_runs(pages: Pages) -> None:
    add_doc(pages.container, "app", "a.py")
    pages.reindex.gate = threading.Event()
    pages.as_user("root")
    pages.post("/admin/sources/app/reindex")
    assert pages.reindex.started.wait(30)
    for _ in range(300):  # the worker's next (throttled) progress write shows it
        job = pages.get("/admin/jobs/1").json()
        if job["current"] == "embed" and job["percent"] == 25:
            break
        threading.Event().wait(0.05)
    assert job["state"] == "running" and job["current"] == "embed" and job["percent"] == 25
    assert job["tasks"]["scan"] == {"done": 3, "total": 3}
    page = pages.get("/admin").text
    assert 'data-job-url="/admin/jobs/1"' in page and "<script nonce=" in page
    assert re.search(r"<button\s+disabled>Re-index</button>", page)  # no second run while one is going
    pages.post("/admin/sources/app/reindex")  # asking again queues one run after it (new commits) ...
    pages.post("/admin/sources/app/reindex")  # ... and asking once more joins that queued one
    pages.reindex.gate.set()
    pages.wait_jobs()
    done = pages.get("/admin/jobs/1").json()
    assert done["state"] == "done" and done["percent"] == 100 and done["report"]["new"] == 1
    assert [j["id"] for j in pages.get("/admin/jobs").json()] == [2, 1]
    assert pages.reindex.calls == [("app", False), ("app", False)]
    assert pages.get("/admin/jobs/99").status_code == 404


def test_remove_purges_points_then_catalog_rows(pages: Pages) -> None:
    add_doc(pages.container, "app", "a.py")
    add_doc(pages.container, "other", "b.py")
    pages.as_user("root")
    refused = pages.post("/admin/sources/app/remove", {"confirm": "ap"})
    assert "to confirm" in pages.flash(refused)
    assert pages.store.calls == []
    r = pages.post("/admin/sources/app/remove", {"confirm": "app"})
    assert "Removed app" in pages.flash(r)
    assert pages.store.calls[:2] == [("delete_source", "app"), ("flush", None)]
    assert [s.name for s in pages.container.catalog.list_sources()] == ["other"]
    with pages.container.db.session() as s:
        assert list(s.scalars(select(DocumentRow.doc_id))) == ["other:b.py"]
    [entry] = pages.container.audit.entries(action="source.remove")
    assert entry.actor == "root" and entry.target == "app"
