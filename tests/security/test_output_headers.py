"""Promise 4's headers, on the real server (uvicorn, the chat mounted, the real pages):
a strict Content-Security-Policy on the chat, ``nosniff`` and ``no-referrer`` on the
chat, the owners' and admin pages and the API; the chat's index page loads nothing from
other hosts and its inline scripts are exactly the ones the policy pins."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.test_ui_server import Server, admin_password, login

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("headers-home"))
    yield srv
    srv.stop()


def _directives(policy: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in policy.split(";")) if d}


@pytest.mark.parametrize("path", ["/", "/login", "/thread/00000000-0000-0000-0000-000000000000", "/owners",
                                  "/admin", "/api/search?q=x", "/v1/models", "/healthz", "/api/nowhere"])
def test_every_response_is_nosniff_and_no_referrer(server: Server, path: str) -> None:
    resp = httpx.get(server.base + path, follow_redirects=False, timeout=20)
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["referrer-policy"] == "no-referrer"
    policy = _directives(resp.headers["content-security-policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    if path.startswith(("/api", "/v1", "/healthz")):
        assert policy["default-src"] == ["'none'"]


@pytest.mark.parametrize("path", ["/", "/login"])
def test_the_chat_policy_is_strict_and_pins_the_inline_scripts(server: Server, path: str) -> None:
    resp = httpx.get(server.base + path, timeout=20)
    assert resp.status_code == 200 and "text/html" in resp.headers["content-type"]
    policy = _directives(resp.headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["connect-src"][0] == "'self'" and all(s.startswith(("ws://", "wss://"))
                                                        for s in policy["connect-src"][1:])
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    scripts = policy["script-src"]
    assert "'unsafe-eval'" not in scripts and "'unsafe-inline'" not in scripts
    inline = re.findall(r"<script>(.*?)</script>", resp.text, re.S)
    pinned = {"'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'" for s in inline}
    assert inline and pinned == set(scripts) - {"'self'"}
    assert not re.search(r"""(?:src|href)=["']?https?://""", resp.text), "the chat page loads from another host"


def test_pages_keep_their_own_nonce_policy(server: Server) -> None:
    client = login(server.base, "admin", admin_password(server.home))
    for path in ("/owners", "/admin"):
        page = client.get(path)
        assert page.status_code == 200, page.text[:300]
        policy = _directives(page.headers["content-security-policy"])
        assert any(s.startswith("'nonce-") for s in policy["script-src"])
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"
