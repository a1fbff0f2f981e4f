"""Promise 7: `source add` (CLI and admin form) checks the location at once (allowed,
exists, a repository, the ref resolves), shows git's own reason when git refuses, and adds
nothing when a check fails; local paths stay out of the data directory and, from the
admin form, inside the allowed roots; every index run checks again."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi import Request

from assistant.catalog.db import Database
from assistant.catalog.repo import Catalog
from assistant.container import Container
from assistant.errors import SourceError
from assistant.settings import load_settings
from indexers.admin import add_source
from indexers.sources.factory import make_source
from tests.fixtures.githttp import GitHttpServer
from tests.fixtures.gitrepo import GitRepo, make_sample_repo
from tests.integration.cli import run_cli
from tests.unit.ui.pages.conftest import Pages, pages  # noqa: F401  (the real app, signed in as admin)

LOOPBACK = {"fetch_schemes": ["http"], "fetch_allow_networks": ["127.0.0.0/8"]}


def said(proc: Any) -> str:
    return " ".join(proc.stderr.split())  # rich wraps long lines


def sources(home: Path) -> list[str]:
    db = Database(f"sqlite:///{home}/catalog.db")
    try:
        return [r.name for r in Catalog(db).list_sources()]
    finally:
        db.close()


# -- the CLI -------------------------------------------------------------------------------
def test_cli_refuses_a_wrong_ref_a_plain_directory_and_the_data_dir(tmp_path: Path) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    (tmp_path / "plain").mkdir()
    home = tmp_path / "home"
    cases = [
        (["--git", str(repo.path), "--ref", "nope"], "ref 'nope' not found", "branches: main"),
        (["--git", str(tmp_path / "plain")], "is not a git repository", "--docs"),
        (["--git", str(tmp_path / "missing")], "does not exist", ""),
        (["--git", str(repo.path), "--ref", "--upload-pack=x"], "cannot start with '-'", ""),
        (["--docs", str(home)], "inside the data directory", ""),
        (["--docs", str(home / "repos")], "inside the data directory", ""),
        (["--docs", str(tmp_path)], "contains the data directory", ""),
        (["--git", "http://127.0.0.1:9/x.git"], "http:// clone URLs are not allowed", ""),
        (["--git", "https://169.254.169.254/x.git"], "link-local address", ""),
        (["--git", "file://" + str(repo.path)], "file:// URLs are not fetched", ""),
        (["--git", "ext::sh -c touch% /tmp/x"], "control characters", ""),
        (["--git", "ext::sh"], "<transport>::<address>", ""),
    ]
    for args, message, extra in cases:
        proc = run_cli(home, "source", "add", "x", *args, check=False)
        assert proc.returncode == 2 and message in said(proc) and extra in said(proc), (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert sources(home) == []
    # a local admin may add any readable path, also relative ones
    run_cli(home, "source", "add", "app", "--git", "repo", "--ref", "main")
    assert sources(home) == ["app"]
    # a new ref is checked at once too, and a refused one leaves the old ref in place
    for ref, message in [("nope", "ref 'nope' not found"), ("--upload-pack=x", "cannot start with '-'")]:
        proc = run_cli(home, "source", "update", "app", "--ref", ref, check=False)
        assert proc.returncode == 2 and message in said(proc), proc.stderr
    listed = run_cli(home, "source", "list", "--json").stdout
    assert '"ref": "main"' in listed


def test_cli_shows_gits_reason_for_a_repository_owned_by_another_user(tmp_path: Path) -> None:
    """git refuses a repository another user owns ("dubious ownership"): the user sees that,
    with git's own hint, not "ref not found" — when adding and when indexing later."""
    if os.geteuid() != 0:
        pytest.skip("needs root to give the repository to another user (chown)")
    repo = make_sample_repo(tmp_path / "repo")
    home = tmp_path / "home"
    env = {"GIT_CONFIG_GLOBAL": "/dev/null"}  # no safe.directory exception from the machine
    run_cli(home, "source", "add", "app", "--git", str(repo.path), env=env)
    uid = 65534  # nobody
    for path in [repo.path, *repo.path.rglob("*")]:
        os.lchown(path, uid, uid)
    proc = run_cli(home, "source", "add", "other", "--git", str(repo.path), "--ref", "main", check=False, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "detected dubious ownership" in said(proc) and "safe.directory" in said(proc)
    assert "not found" not in said(proc)
    assert sources(home) == ["app"]
    report = run_cli(home, "index", "--json", check=False, env=env)
    assert report.returncode == 1 and "detected dubious ownership" in report.stdout


class _AuthRequired(SimpleHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def auth_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AuthRequired)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/private.git"
    server.shutdown()
    server.server_close()


def test_clone_urls_are_checked_with_git_ls_remote(tmp_path: Path, auth_server: str) -> None:
    repo = make_sample_repo(tmp_path / "repo")
    container = Container(load_settings(home=tmp_path / "home", indexing=LOOPBACK))
    try:
        with GitHttpServer(tmp_path / "served") as server:
            url = server.publish(repo.path)
            with pytest.raises(SourceError, match=r"ref 'nope' not found at http://127\.0\.0\.1:\d+/repo\.git; "
                                                  r"branches: main"):
                add_source(container, "x", "git", url, actor="root", ref="nope")
            with pytest.raises(SourceError, match="cannot reach .*missing.git.*not found"):
                add_source(container, "x", "git", url.replace("repo.git", "missing.git"), actor="root")
            row = add_source(container, "app", "git", url, actor="root", ref="main")
            assert row.location == url and row.options["added_via"] == "web"
        closed = url  # the server is gone now
        with pytest.raises(SourceError, match="cannot reach .*(Failed to connect|Connection refused|Couldn't connect)"):
            add_source(container, "y", "git", closed, actor="root")
        with pytest.raises(SourceError, match="cannot reach .*(terminal prompts disabled|Authentication failed)"):
            add_source(container, "z", "git", auth_server, actor="root")
        assert [r.name for r in container.catalog.list_sources()] == ["app"]
        assert [e.action for e in container.audit.entries()][::-1] == ["source.refused", "source.refused",
                                                                       "source.add", "source.refused",
                                                                       "source.refused"]
    finally:
        container.close()


def test_every_index_run_checks_the_location_again(tmp_path: Path) -> None:
    """A docs tree added under an allowed root and then swapped for a symlink into the data
    directory is refused when indexed; so is a web source once its root is no longer allowed."""
    srv = tmp_path / "srv"
    (srv / "handbook").mkdir(parents=True)
    (srv / "handbook" / "a.md").write_text("# A\n")
    home = tmp_path / "home"
    settings = load_settings(home=home, indexing={"allowed_roots": [str(srv)]})
    container = Container(settings)
    try:
        row = add_source(container, "hb", "docs", str(srv / "handbook"), actor="root")
        assert [d.path for d in make_source(row, settings, container.catalog).scan()] == ["a.md"]
        shutil.rmtree(srv / "handbook")
        (srv / "handbook").symlink_to(home)
        with pytest.raises(SourceError, match="inside the data directory"):
            list(make_source(row, settings, container.catalog).scan())
        (srv / "handbook").unlink()
        (srv / "handbook").mkdir()
        narrowed = load_settings(home=home, indexing={"allowed_roots": [str(tmp_path / "elsewhere")]})
        with pytest.raises(SourceError, match="outside the allowed roots"):
            list(make_source(row, narrowed, container.catalog).scan())
        cli_row = add_source(container, "cli", "docs", str(srv / "handbook"), actor="cli:root", door="cli")
        assert list(make_source(cli_row, narrowed, container.catalog).scan()) == []  # the CLI's choice stands
    finally:
        container.close()


# -- the admin form, through the real app as an admin ---------------------------------------
REFUSED_FROM_THE_FORM = [
    ("git", "file:///etc", "file:// URLs are not fetched"),
    ("git", "file://{repo}", "file:// URLs are not fetched"),
    ("git", "http://127.0.0.1:6333/collections", "http:// clone URLs are not allowed"),
    ("git", "https://127.0.0.1/x.git", "is a loopback address"),
    ("git", "https://localhost/x.git", "is a loopback address"),
    ("git", "https://2130706433/x.git", "is a loopback address"),
    ("git", "https://[::ffff:127.0.0.1]/x.git", "is a loopback address"),
    ("git", "https://169.254.169.254/latest/meta-data", "is a link-local address"),
    ("git", "https://10.0.0.8/x.git", "is a private address"),
    ("git", "ext::sh -c touch% /tmp/pwned", "control characters"),
    ("git", "ext::sh", "<transport>::<address>"),
    ("git", "ssh://-oProxyCommand=touch%20x/r.git", "ssh:// clone URLs are not allowed"),
    ("git", "https://user:token@github.com/x.git", "password or token"),
    ("git", "{outside}", "outside the allowed roots"),
    ("git", "{srv}/../outside-repo", "outside the allowed roots"),
    ("git", "{srv}/link-out", "outside the allowed roots"),
    ("docs", "{home}", "inside the data directory"),
    ("docs", "{srv}/link-home", "inside the data directory"),
    ("git", "{srv}/plain", "is not a git repository"),
    ("wiki", "{srv}/missing.xml", "does not exist"),
]


def test_the_admin_form_refuses_forbidden_locations(pages: Pages, tmp_path: Path) -> None:  # noqa: F811
    srv = tmp_path / "srv"
    repo = make_sample_repo(srv / "repo")
    outside = make_sample_repo(tmp_path / "outside-repo")
    (srv / "plain").mkdir()
    (srv / "link-out").symlink_to(outside.path)
    (srv / "link-home").symlink_to(pages.container.settings.home)
    pages.as_user("root")
    for kind, location, message in REFUSED_FROM_THE_FORM:
        loc = location.format(repo=repo.path, outside=outside.path, srv=srv, home=pages.container.settings.home)
        flash = pages.flash(pages.post("/admin/sources", {"name": "x", "kind": kind, "location": loc,
                                                          "groups": "eng", "index_now": "true"}))
        assert message in flash.replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'"), (loc, flash)
    assert pages.container.catalog.list_sources() == []
    refusals = pages.container.audit.entries(limit=100)
    assert {e.action for e in refusals} == {"source.refused"} and len(refusals) == len(REFUSED_FROM_THE_FORM)
    assert refusals[-1].actor == "root" and refusals[-1].details["location"] == "file:///etc"
    assert "file:// URLs are not fetched" in refusals[-1].details["reason"]
    assert "token" not in str([e.details for e in refusals]).replace("password or token", "")  # redacted
    assert pages.reindex.calls == []
    ok = pages.post("/admin/sources", {"name": "app", "kind": "git", "location": str(repo.path), "ref": "main",
                                       "groups": "eng"})
    assert "Added app" in pages.flash(ok)
    wrong_ref = pages.post("/admin/sources", {"name": "app2", "kind": "git", "location": str(repo.path),
                                               "ref": "release", "groups": "eng"})
    assert "ref &#39;release&#39; not found" in pages.flash(wrong_ref)
    assert [r.name for r in pages.container.catalog.list_sources()] == ["app"]


def test_the_admin_form_adds_no_local_path_without_allowed_roots(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    import ui.pages
    from assistant.api.app import create_app
    from ui.pages.deps import current_account

    repo = make_sample_repo(tmp_path / "repo")
    container = Container(load_settings(home=tmp_path / "home"))
    container.users.create("root", is_admin=True)
    app = create_app(container)
    app.include_router(ui.pages.router)

    async def root(request: Request) -> Any:
        return container.users.get("root")

    app.dependency_overrides[current_account] = root
    try:
        with TestClient(app) as client:
            import re

            page = client.get("/admin")
            m = re.search(r"name=\"csrf-token\" content=\"([0-9a-f]+)\"", page.text)
            assert m, (page.status_code, page.text[-1500:])
            token = m.group(1)
            r = client.post("/admin/sources", data={"csrf_token": token, "name": "app", "kind": "git",
                                                    "location": str(repo.path), "groups": "eng"},
                               follow_redirects=True)
            assert "ALLOWED_ROOTS" in r.text and "none is set" in r.text
        assert container.catalog.list_sources() == []
    finally:
        container.close()


def test_an_empty_repository_is_refused(tmp_path: Path) -> None:
    empty = GitRepo(tmp_path / "empty")
    proc = run_cli(tmp_path / "home", "source", "add", "e", "--git", str(empty.path), check=False)
    assert proc.returncode == 2 and "has no commits yet" in said(proc)
