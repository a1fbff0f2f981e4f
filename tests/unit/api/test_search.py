"""GET /api/search: ranked passages with citation fields, filters passed to the retriever."""

from __future__ import annotations

import pytest

from assistant.errors import ConfigError
from assistant.retrieval.query import QueryFilters
from tests.unit.api.conftest import Api


def test_ranked_passages(api: Api) -> None:
    resp = api.client.get("/api/search", params=[("q", "retry payments"), ("k", "5"), ("repo", "app"),
                                                 ("path", "payments/**"), ("lang", "python")],
                          headers=api.auth())
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert data["query"] == "retry payments"
    assert data["filters"] == {"repos": ["app"], "paths": ["payments/**"], "langs": ["python"], "kinds": []}
    ranks = [p["rank"] for p in data["passages"]]
    assert ranks == [1, 2]
    top = data["passages"][0]
    assert top["citation"] == f"app@{'a' * 12}:payments/retry.py#L1-L20" and top["score"] == 0.875
    assert {"text", "age_days", "updated_at", "status", "url", "lines", "symbol"} <= set(top)
    [call] = api.retriever.calls
    assert call["k"] == 5
    assert call["filters"] == QueryFilters(repos=("app",), paths=("payments/**",), langs=("python",))


def test_no_filters_means_none(api: Api) -> None:
    api.client.get("/api/search", params={"q": "x"}, headers=api.auth())
    assert api.retriever.calls[0]["filters"] is None and api.retriever.calls[0]["k"] == 10


@pytest.mark.parametrize("params,status,fragment", [
    ({}, 422, "q: Field required"),
    ({"q": "x", "k": "0"}, 422, "k:"),
    ({"q": "x", "k": "many"}, 422, "k:"),
])
def test_bad_queries(api: Api, params: dict, status: int, fragment: str) -> None:
    resp = api.client.get("/api/search", params=params, headers=api.auth())
    assert resp.status_code == status and fragment in resp.json()["error"]["message"]
    assert api.retriever.calls == []


def test_unknown_repo_from_the_retriever_is_400(api: Api) -> None:
    api.retriever.error = ConfigError("unknown repo 'nope'; known: app")
    resp = api.client.get("/api/search", params={"q": "repo:nope retry"}, headers=api.auth())
    assert resp.status_code == 400 and resp.json()["error"]["message"] == "unknown repo 'nope'; known: app"
