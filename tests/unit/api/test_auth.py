"""Bearer auth on every route but /healthz; tokens become the User the core sees."""

from __future__ import annotations

import pytest

from assistant.models import User
from tests.unit.api.conftest import Api

ROUTES = [
    ("post", "/api/ask", {"question": "where do we retry?"}),
    ("get", "/api/search?q=retry", None),
    ("post", "/v1/chat/completions", {"model": "sourcewise", "messages": [{"role": "user", "content": "hi"}]}),
    ("get", "/v1/models", None),
    ("get", "/v1/models/sourcewise", None),
]


def test_healthz_needs_no_token(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize("method,url,body", ROUTES)
@pytest.mark.parametrize("header,code", [
    (None, "missing_api_key"),
    ("Bearer sw_not-a-real-token", "invalid_api_key"),
    ("Bearer ", "missing_api_key"),
    ("Basic YWxpY2U6cHc=", "missing_api_key"),
])
def test_missing_or_bad_token_is_401(api: Api, method: str, url: str, body: dict | None,
                                     header: str | None, code: str) -> None:
    headers = {"Authorization": header} if header is not None else {}
    resp = api.client.request(method, url, json=body, headers=headers)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    err = resp.json()["error"]
    assert err["type"] == "authentication_error" and err["code"] == code
    assert "token" in err["message"]
    assert api.answerer.calls == [] and api.retriever.calls == []


def test_revoked_token_stops_working(api: Api) -> None:
    assert api.client.get("/v1/models", headers=api.auth()).status_code == 200
    api.tokens.revoke("alice-laptop")
    resp = api.client.get("/v1/models", headers=api.auth())
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "invalid_api_key"


def test_token_maps_to_user_groups_and_admin(api: Api) -> None:
    api.client.post("/api/ask", json={"question": "q1"}, headers=api.auth(api.alice))
    api.client.post("/api/ask", json={"question": "q2"}, headers={"authorization": f"bearer {api.admin}"})
    api.client.get("/api/search", params={"q": "q3"}, headers=api.auth(api.alice))
    assert api.answerer.calls[0]["user"] == User("alice", ("payments",), False)
    assert api.answerer.calls[1]["user"] == User("root", (), True)
    assert api.retriever.calls[0]["user"] == User("alice", ("payments",), False)
    used = {t.name: t.last_used_at for t in api.tokens.list()}
    assert used["alice-laptop"] is not None and used["ops"] is not None
