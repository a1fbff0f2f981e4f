"""The MCP mount in the whole server app (API, pages, chat), in-process: it sits before the
chat's catch-all, needs a live token on every request, and is gone (404, never the chat)
when turned off."""

from __future__ import annotations

from pathlib import Path

from assistant.catalog.tokens import TokenStore
from assistant.container import Container
from assistant.settings import load_settings
from tests.security.identity_support import FAST_HASH, client, server_app

LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
ACCEPT = {"Accept": "application/json, text/event-stream"}


def _container(home: Path, **mcp: object) -> Container:
    return Container(load_settings(home=home, auth=FAST_HASH, mcp=mcp))


def test_mounted_before_the_chat_and_every_request_needs_a_live_token(tmp_path: Path) -> None:
    container = _container(tmp_path / "home")
    container.users.create("alice", groups=["eng"])
    container.users.create("ann", groups=["eng"])
    tokens = TokenStore(container.db)
    alice = tokens.create("t-alice", user="alice", groups=["eng"])[1]
    ann = tokens.create("t-ann", user="ann", groups=["eng"])[1]
    container.users.disable("ann")
    try:
        with server_app(container) as app:
            c = client(app)
            r = c.post("/mcp", json=LIST, headers={**ACCEPT, "Authorization": f"Bearer {alice}"})
            assert r.status_code == 200, r.text
            names = {t["name"] for t in r.json()["result"]["tools"]}
            assert names == {"search_code", "ask", "get_source", "list_sources", "find_definition", "report_outdated"}
            for headers in ({}, {"Authorization": "Bearer sw_nope"}, {"Authorization": f"Bearer {ann}"},
                            {"Authorization": f"Basic {alice}"}):
                for method in ("post", "get", "delete"):
                    r = c.request(method, "/mcp", json=LIST if method == "post" else None, headers={**ACCEPT, **headers})
                    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", (method, headers)
                    assert "tools" not in r.text
            assert c.post("/mcp/anything", json=LIST, headers=ACCEPT).status_code == 404  # not the chat's page
    finally:
        container.close()


def test_turned_off_it_is_not_found_not_the_chat(tmp_path: Path) -> None:
    container = _container(tmp_path / "home", enabled=False)
    container.users.create("alice", groups=["eng"])
    alice = TokenStore(container.db).create("t-alice", user="alice", groups=["eng"])[1]
    try:
        with server_app(container) as app:
            r = client(app).post("/mcp", json=LIST, headers={**ACCEPT, "Authorization": f"Bearer {alice}"})
            assert r.status_code == 404 and "<html" not in r.text.lower()
    finally:
        container.close()
