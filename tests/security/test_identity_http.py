"""Through the real server app (API + pages + Chainlit, in-process): header auth only from a trusted
proxy, sessions that end on logout, password change and disable, /docs behind auth, and one
identity per anonymous browser (issue 17, failures 7 and 8; promise 2)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.security.identity_support import client, login, make_container, server_app

from assistant.catalog.chat_schema import ChatElementRow, ChatThreadRow  # noqa: I001
from assistant.catalog.tokens import TokenStore
from assistant.container import Container
from ui import identity

PROXY = ("10.1.2.3", 50000)
SECRET = "a-long-shared-proxy-secret-0123456789"
ADMIN_HEADERS = {"X-Forwarded-User": "admin", "X-Forwarded-Groups": "anything,everything"}


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Any]:
    """``make(ui=..., auth=...)`` -> (container, app) for the whole server; closed afterwards."""
    opened: list[tuple[Container, Any]] = []

    def build(**kw: Any) -> tuple[Container, Any]:
        container = make_container(tmp_path / f"home{len(opened)}", **kw)
        ctx = server_app(container)
        app = ctx.__enter__()
        opened.append((container, ctx))
        return container, app

    yield build
    for container, ctx in opened:
        ctx.__exit__(None, None, None)
        container.close()


def thread_with_element(container: Container, owner: str | None) -> str:
    """A stored chat thread of ``owner`` with one citation element; returns the element id."""
    tid, eid = str(uuid.uuid4()), str(uuid.uuid4())
    with container.db.session() as s:
        s.add(ChatThreadRow(id=tid, user_name=owner, meta={}, tags=[]))
    with container.db.session() as s:
        s.add(ChatElementRow(id=eid, thread_id=tid, type="text", name="[1]", content="secret source text"))
    return eid


# -- header auth ---------------------------------------------------------------------------
def test_proxy_headers_from_a_peer_outside_the_proxy_list_are_ignored(make: Any) -> None:
    """Regression: with header auth on, anyone who reached the port could send ``X-Forwarded-User: admin``."""
    container, app = make(ui={"header_auth": True}, auth={"trusted_proxies": ["10.0.0.0/8"]})
    with client(app) as outsider:
        page = outsider.get("/admin", headers=ADMIN_HEADERS)
        assert page.status_code == 303 and page.headers["location"] == "/login"
        assert outsider.post("/auth/header", headers=ADMIN_HEADERS).status_code == 401  # Chainlit's header login
        assert outsider.get("/openapi.json", headers=ADMIN_HEADERS).status_code == 401
        outsider.get("/owners", headers={"X-Forwarded-User": "mallory"})
    assert container.users.get("mallory") is None
    with client(app, PROXY) as proxy:
        assert proxy.get("/admin", headers=ADMIN_HEADERS).status_code == 200
        signed = proxy.post("/auth/header", headers={**ADMIN_HEADERS, "X-Forwarded-For": "203.0.113.50, 10.1.2.3"})
        assert signed.status_code == 200 and proxy.cookies.get("access_token")
    [entry] = container.audit.entries(action="login.success")
    assert (entry.actor, entry.details["provider"], entry.details["address"]) == ("admin", "header", "203.0.113.50")


def test_the_chat_data_layer_believes_only_a_trusted_proxy(make: Any) -> None:
    container, app = make(ui={"header_auth": True}, auth={"trusted_proxies": ["10.0.0.0/8"]})
    element = thread_with_element(container, "admin")
    with client(app) as outsider:
        assert outsider.get(f"/chat-element/{element}", headers=ADMIN_HEADERS).status_code == 404
    with client(app, PROXY) as proxy:
        shown = proxy.get(f"/chat-element/{element}", headers=ADMIN_HEADERS)
        assert shown.status_code == 200 and shown.text == "secret source text"


def test_the_shared_secret_header_admits_and_nothing_else_does(make: Any) -> None:
    container, app = make(ui={"header_auth": True}, auth={"proxy_secret": SECRET})
    with client(app) as c:
        assert c.get("/admin", headers={**ADMIN_HEADERS, "X-Sourcewise-Proxy-Secret": SECRET}).status_code == 200
        for wrong in (SECRET[:-1] + "x", SECRET[:-1], SECRET + "0", "", b"\xe9" * 40):
            r = c.get("/admin", headers={**ADMIN_HEADERS, "X-Sourcewise-Proxy-Secret": wrong})
            assert r.status_code == 303, wrong
        assert c.get("/admin", headers=ADMIN_HEADERS).status_code == 303


def test_header_auth_without_a_proxy_address_or_secret_admits_nobody(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    container = make_container(tmp_path / "home", ui={"header_auth": True})
    with caplog.at_level(logging.ERROR, logger="sourcewise.ui"), server_app(container) as app, \
            client(app, ("127.0.0.1", 5000)) as c:
        assert c.get("/admin", headers=ADMIN_HEADERS).status_code == 303
    container.close()
    assert "SOURCEWISE_AUTH__TRUSTED_PROXIES" in caplog.text and "SOURCEWISE_AUTH__PROXY_SECRET" in caplog.text


# -- sessions ------------------------------------------------------------------------------
def _alive(c: Any, token: str) -> dict[str, int]:
    """Status of a page, Chainlit's own user route and its thread list for the session ``token``."""
    c.cookies.clear()
    c.cookies.set("access_token", token)
    out = {"page": c.get("/owners").status_code, "chainlit": c.get("/user").status_code,
           "threads": c.post("/project/threads", json={"pagination": {"first": 5}, "filter": {}}).status_code,
           "reissue": c.post("/auth/jwt", headers={"Authorization": f"Bearer {token}"}).status_code}
    c.cookies.clear()
    return out


LIVE = {"page": 200, "chainlit": 200, "threads": 200, "reissue": 200}
DEAD = {"page": 303, "chainlit": 401, "threads": 401, "reissue": 401}


def test_logout_ends_the_session_and_every_older_one(make: Any) -> None:
    container, app = make()
    container.users.create("alice", password="alice-password")
    with client(app) as c:
        laptop, phone = login(c, "alice", "alice-password"), login(c, "alice", "alice-password")
        assert _alive(c, laptop) == LIVE
        c.cookies.set("access_token", phone)
        out = c.post("/logout", json={})
        assert out.status_code == 200 and out.json() == {"success": True}
        assert 'access_token=""' in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]
        assert _alive(c, phone) == DEAD and _alive(c, laptop) == DEAD
        assert _alive(c, login(c, "alice", "alice-password")) == LIVE
    assert [e.action for e in container.audit.entries(actor="alice")][::-1].count("logout") == 1


def test_a_password_change_ends_old_sessions(make: Any) -> None:
    container, app = make()
    container.users.create("alice", password="alice-password")
    with client(app) as c:
        old = login(c, "alice", "alice-password")
        container.users.set_password("alice", "a-new-password")
        assert _alive(c, old) == DEAD
        assert _alive(c, login(c, "alice", "a-new-password")) == LIVE


def test_a_disabled_users_cookie_is_refused_everywhere(make: Any) -> None:
    """Regression: Chainlit's own routes still accepted a disabled user's JWT (its user lookup fell back)."""
    container, app = make()
    container.users.create("alice", password="alice-password")
    with client(app) as c:
        token = login(c, "alice", "alice-password")
        container.users.disable("alice")
        assert _alive(c, token) == DEAD
        container.users.enable("alice")
        assert _alive(c, token) == DEAD  # enabling again does not revive old sessions


# -- /docs -----------------------------------------------------------------------------------
def test_docs_and_schema_need_a_token_or_a_signed_in_browser(make: Any) -> None:
    """Regression: ``/docs`` and ``/openapi.json`` answered anyone."""
    container, app = make()
    container.users.create("alice", password="alice-password")
    _, token = TokenStore(container.db).create("t", user="alice")
    with client(app) as c:
        for path in ("/docs", "/openapi.json"):
            assert c.get(path).status_code == 401, path
            assert c.get(path, headers={"Authorization": "Bearer sw_not-a-token"}).status_code == 401, path
        assert c.get("/redoc").status_code == 404
        assert "/api/ask" in c.get("/openapi.json", headers={"Authorization": f"Bearer {token}"}).json()["paths"]
        login(c, "alice", "alice-password")
        assert c.get("/docs").status_code == 200 and "swagger" in c.get("/docs").text.lower()


# -- anonymous -------------------------------------------------------------------------------
def test_each_anonymous_browser_has_an_identity_of_its_own(make: Any) -> None:
    """Regression: with ``allow_anonymous`` every visitor was the same user and could open the others' threads."""
    container, app = make(ui={"allow_anonymous": True})
    with client(app) as first, client(app) as second:
        assert first.get("/").status_code == 200 and second.get("/").status_code == 200
        one, two = first.cookies.get("sw_anon"), second.cookies.get("sw_anon")
        assert one and two and one != two
        element = thread_with_element(container, identity.anonymous_name(one))
        assert first.get(f"/chat-element/{element}").text == "secret source text"
        assert second.get(f"/chat-element/{element}").status_code == 404
        legacy = thread_with_element(container, None)  # an ownerless thread from before
        assert first.get(f"/chat-element/{legacy}").status_code == 404
    with client(app) as third:
        third.cookies.set(identity.ANON_COOKIE, "short")  # not a value we issue: a fresh identity instead
        r = third.get(f"/chat-element/{element}")
        assert r.status_code == 404 and r.headers["set-cookie"].startswith(f"{identity.ANON_COOKIE}=")
        assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=Lax" in r.headers["set-cookie"]
    assert not identity.is_anonymous("admin") and identity.is_anonymous(identity.anonymous_name(one))
    with pytest.raises(Exception, match="invalid user name"):
        container.users.ensure(identity.anonymous_name(one))  # no account can ever be an anonymous identity


def test_anonymous_cookies_are_only_issued_when_anonymous_chat_is_allowed(make: Any) -> None:
    _, app = make()
    with client(app) as c:
        c.get("/login")
        assert c.cookies.get(identity.ANON_COOKIE) is None


def test_forwarded_for_and_proto_count_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    """The client address (throttling, audit) and the scheme come from a trusted proxy's headers only."""
    from fastapi.testclient import TestClient

    from assistant.settings import load_settings

    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scheme=scope["scheme"], address=identity.request_address(), trusted=identity.request_trusted())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    settings = load_settings(home=tmp_path, ui={"header_auth": True}, auth={"trusted_proxies": ["10.0.0.0/8"]})
    forwarded = {"X-Forwarded-For": "198.51.100.1, 10.9.9.9", "X-Forwarded-Proto": "https"}
    mw = identity.CallerMiddleware(app, settings=settings)
    TestClient(mw, client=PROXY).get("/", headers=forwarded)
    assert seen == {"scheme": "https", "address": "198.51.100.1", "trusted": True}
    TestClient(mw, client=("192.0.2.10", 1)).get("/", headers=forwarded)
    assert seen == {"scheme": "http", "address": "192.0.2.10", "trusted": False}
    TestClient(mw, client=PROXY).get("/", headers={"X-Forwarded-For": "not-an-ip, 198.51.100.1"})
    assert seen["address"] == "198.51.100.1"
    TestClient(mw, client=PROXY).get("/", headers={"X-Forwarded-For": "198.51.100.1, junk"})
    assert seen["address"] == PROXY[0]  # a garbled hop next to the proxy: blame the proxy
