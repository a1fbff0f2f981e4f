"""Who may see and post what: sign-in, admin-only pages, CSRF, inert user text, headers."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

import ui.pages
from assistant.api.app import create_app
from assistant.container import Container
from assistant.models import User
from assistant.settings import load_settings
from tests.fixtures.gitrepo import make_sample_repo
from tests.unit.ui.pages.conftest import Pages, add_answer, add_doc
from ui.pages.csrf import csrf_token

ADMIN_GETS = ["/admin", "/admin/users", "/admin/tokens", "/admin/feedback", "/admin/settings", "/admin/audit",
              "/admin/jobs"]


def test_anonymous_browsers_are_sent_to_login(pages: Pages) -> None:
    for url in ["/owners", *ADMIN_GETS]:
        r = pages.get(url)
        assert r.status_code == 303 and r.headers["location"] == "/login", url
    r = pages.client.post("/admin/sources", data={"name": "x"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert pages.container.catalog.list_sources() == []


def test_real_identity_dependency_uses_the_sso_header(tmp_path: Path) -> None:
    """No override: ``ui.identity.browser_user`` decides (header auth on, behind a proxy with a shared secret)."""
    secret = "s3cret-from-the-proxy-0123456789"
    container = Container(load_settings(home=tmp_path / "home", ui={"header_auth": True},
                                        auth={"proxy_secret": secret}))
    container.users.create("root", is_admin=True)
    container.users.create("gone")
    container.users.disable("gone")
    app = create_app(container)
    app.include_router(ui.pages.router)
    proxy = {"X-Sourcewise-Proxy-Secret": secret}
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/owners", follow_redirects=False).headers["location"] == "/login"
        dana = {"X-Forwarded-User": "dana", "X-Forwarded-Groups": "eng"}
        assert client.get("/owners", headers=dana, follow_redirects=False).status_code == 303  # not via the proxy
        assert container.users.get("dana") is None
        assert client.get("/owners", headers={**dana, **proxy}).status_code == 200  # created on first sight
        assert client.get("/admin", headers={**dana, **proxy}).status_code == 403
        assert client.get("/admin", headers={"X-Forwarded-User": "root", **proxy}).status_code == 200
        assert client.get("/admin", headers={"X-Forwarded-User": "root"}, follow_redirects=False).status_code == 303
        assert client.get("/owners", headers={"X-Forwarded-User": "gone", **proxy},
                          follow_redirects=False).status_code == 303
    container.close()


def test_non_admins_get_403_on_every_admin_page_and_action(pages: Pages) -> None:
    pages.as_user("alice")
    for url in ADMIN_GETS:
        r = pages.get(url)
        assert r.status_code == 403, url
        assert "for admins" in r.text
    token = pages.csrf("/owners")
    for url, data in [("/admin/sources", {"name": "x", "kind": "git", "location": "/srv/x"}),
                      ("/admin/users", {"name": "mallory", "password": "password123", "is_admin": "true"}),
                      ("/admin/users/alice", {"groups": "everything", "is_admin": "true"}),
                      ("/admin/tokens", {"name": "t", "user": "alice", "is_admin": "true"}),
                      ("/admin/settings", {"key": "allow_anonymous", "value": "true"})]:
        assert pages.post(url, data, token=token).status_code == 403, url
    assert pages.container.catalog.list_sources() == []
    assert pages.container.users.get("mallory") is None
    assert not pages.container.users.get("alice").is_admin
    assert pages.container.app_settings.get("allow_anonymous") is None


def test_jobs_are_for_admins_only(pages: Pages) -> None:
    """Seeing and cancelling indexing jobs is an admin action; an owner sees their own
    'mark fixed' jobs only, and any other job looks as if it did not exist."""
    job = pages.jobs.enqueue("not-run-here", "app", requested_by="root")  # no worker claims this kind
    pages.as_user("alice")
    token = pages.csrf("/owners")
    assert pages.get(f"/admin/jobs/{job.id}").status_code == 403
    assert pages.post(f"/admin/jobs/{job.id}/cancel", {}, token=token).status_code == 403
    missing = pages.get(f"/owners/jobs/{job.id}")
    assert missing.status_code == 404 and "app" not in missing.text
    assert pages.get("/owners/jobs/999").status_code == 404  # the same answer as for a job that exists
    assert pages.jobs.get(job.id).state == "queued" and not pages.jobs.get(job.id).cancel_requested
    assert pages.container.audit.entries(action="job.cancel") == []
    pages.as_user("root")
    assert pages.get(f"/admin/jobs/{job.id}").json()["state"] == "queued"
    r = pages.post(f"/admin/jobs/{job.id}/cancel", {})
    assert r.status_code == 303 and "cancelled" in pages.flash(r)
    assert pages.jobs.get(job.id).state == "cancelled"
    [entry] = pages.container.audit.entries(action="job.cancel")
    assert entry.actor == "root" and entry.details["job"] == job.id


def test_posts_without_or_with_a_wrong_csrf_token_are_refused(pages: Pages, tmp_path: Path) -> None:
    pages.as_user("root")
    form = {"name": "app", "kind": "git", "location": str(make_sample_repo(tmp_path / "srv" / "app").path),
            "groups": "eng"}
    missing = pages.post("/admin/sources", form, token=None)
    assert missing.status_code == 403 and "security token" in missing.text
    wrong = pages.post("/admin/sources", form, token="0" * 64)
    assert wrong.status_code == 403
    pages.as_user("alice")
    alices = pages.csrf("/owners")
    pages.as_user("root")
    assert pages.post("/admin/sources", form, token=alices).status_code == 403  # another user's token
    assert pages.container.catalog.list_sources() == []
    assert pages.container.audit.entries() == []
    cross = pages.post("/admin/sources", form, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403 and "another site" in cross.text
    ok = pages.post("/admin/sources", form)
    assert ok.status_code == 303
    assert [r.name for r in pages.container.catalog.list_sources()] == ["app"]


def test_csrf_tokens_differ_per_user_and_survive_a_restart(pages: Pages) -> None:
    pages.as_user("alice")
    first = pages.csrf("/owners")
    pages.as_user("bob")
    assert pages.csrf("/owners") != first
    pages.client.app.state.csrf_secret = None  # a new process reads the key file again
    pages.as_user("alice")
    assert pages.csrf("/owners") == first
    key = pages.container.settings.home / "ui-secret.key"
    assert key.stat().st_mode & 0o777 == 0o600


def test_user_text_renders_as_text_not_markup(pages: Pages) -> None:
    c = pages.container
    doc = add_doc(c, "app", "docs/<b>deploy</b>.md", owner="@alice", title="<i>Deploying</i>",
                  url="javascript:alert(document.cookie)")
    ident = add_answer(c, "bob", "<script>alert('q')</script> how do we deploy?",
                       "Run <img src=x onerror=alert(1)> [1]", [doc])
    c.feedback.flag(ident, 1, User("bob"), "outdated", comment='"><svg onload=alert(2)>')
    c.feedback.rate(ident, User("bob"), "down", reason="wrong_answer", comment="<script>x()</script>")
    for user, url in [("alice", "/owners"), ("root", "/admin/feedback"), ("root", "/admin/audit"),
                      ("root", "/owners?owner=%3Cscript%3E")]:
        pages.as_user(user)
        body = pages.get(url).text
        for raw in ["<script>alert", "<img src=x", "<svg onload", "<b>deploy</b>", "<i>Deploying", "<script>x()",
                    "javascript:alert"]:
            assert raw not in body, (url, raw)
    pages.as_user("alice")
    body = pages.get("/owners").text
    assert "&lt;script&gt;alert(&#39;q&#39;)&lt;/script&gt; how do we deploy?" in body
    assert "Run &lt;img src=x onerror=alert(1)&gt; [1]" in body
    assert "docs/&lt;b&gt;deploy&lt;/b&gt;.md" in body


def test_pages_send_a_strict_content_security_policy(pages: Pages) -> None:
    pages.as_user("root")
    r = pages.get("/admin")
    csp = r.headers["content-security-policy"]
    assert "script-src 'nonce-" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp.split(";")[1]
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert r.text.count("<script") == r.text.count(f'<script nonce="{nonce}"')
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"


def test_failed_form_posts_come_back_with_the_message(pages: Pages) -> None:
    pages.as_user("root")
    r = pages.post("/admin/sources", {"name": "bad name!", "kind": "git", "location": "/srv/x"},
                   headers={"Referer": "http://testserver/admin"})
    assert r.headers["location"] == "/admin"
    assert "source name" in pages.flash(r)
    evil = pages.post("/admin/sources", {"name": "bad name!", "kind": "git", "location": "/srv/x"},
                      headers={"Referer": "https://evil.example/phish"})
    assert evil.headers["location"] == "/admin"  # never an open redirect
    missing = pages.get("/admin/sources/nope")
    assert missing.status_code == 400 and "no source named" in missing.text


def test_csrf_token_is_bound_to_the_account_name(pages: Pages) -> None:
    pages.as_user("root")
    page = pages.get("/admin")
    request = type("R", (), {"app": pages.client.app})()
    root = pages.container.users.get("root")
    assert f'value="{csrf_token(request, root)}"' in page.text
