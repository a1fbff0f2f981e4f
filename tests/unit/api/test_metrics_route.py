"""/metrics on the API app: an admin's token, nobody else; or only on ``metrics.bind``."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.catalog.tokens import TokenStore
from assistant.container import build
from assistant.errors import ConfigError
from assistant.settings import MetricsSettings, load_settings
from tests.unit.api.conftest import Api, FakeAnswerer, FakeRetriever


def test_admin_token_reads_metrics_others_are_refused_and_audited(api: Api) -> None:
    api.container.metrics.observe_feedback("up")
    ok = api.client.get("/metrics", headers=api.auth(api.admin))
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")
    assert 'sourcewise_feedback_total{kind="up"} 1.0' in ok.text
    assert ok.headers["cache-control"] == "no-store"
    refused = [(api.client.get("/metrics"), 401), (api.client.get("/metrics", headers=api.auth()), 403),
               (api.client.get("/metrics", headers=api.auth("sw_forged")), 401)]
    for resp, status in refused:
        assert resp.status_code == status and "sourcewise_" not in resp.text
    entries = [e for e in api.container.audit.entries() if e.action.startswith("metrics")]
    assert [(e.actor, e.details["reason"]) for e in reversed(entries)] == [
        ("anonymous", "missing token"), ("alice", "not an admin"), ("anonymous", "invalid token")]
    api.client.get("/metrics", headers=api.auth(api.admin))
    assert len([e for e in api.container.audit.entries() if e.action.startswith("metrics")]) == 3
    assert "/metrics" not in api.client.get("/openapi.json", headers=api.auth()).text  # not advertised


def test_a_flood_of_refusals_writes_one_audit_row_a_minute(api: Api) -> None:
    for _ in range(20):
        assert api.client.get("/metrics").status_code == 401
    rows = [e for e in api.container.audit.entries() if e.action == "metrics.refused"]
    assert len(rows) == 1 and "suppressed" not in rows[0].details


def test_refusal_throttle_counts_what_it_left_out_and_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.api import metrics_route
    from assistant.api.metrics_route import RefusalThrottle

    now = [0.0]
    throttle = RefusalThrottle(every_s=60, clock=lambda: now[0])
    key = ("anonymous", "missing token", "10.0.0.9")
    assert throttle.admit(key) == 0
    assert [throttle.admit(key) for _ in range(3)] == [None] * 3
    assert throttle.admit(("alice", "not an admin", "10.0.0.9")) == 0  # another key: its own row
    now[0] = 61.0
    assert throttle.admit(key) == 3  # the next row says three were left out
    monkeypatch.setattr(metrics_route, "_MAX_KEYS", 10)
    for i in range(50):
        throttle.admit(("anonymous", "missing token", f"10.1.0.{i}"))
    assert len(throttle._seen) == 10


def test_a_revoked_admin_token_is_refused(api: Api) -> None:
    api.tokens.revoke("ops")
    assert api.client.get("/metrics", headers=api.auth(api.admin)).status_code == 401


def test_metrics_off_means_no_route(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home").model_copy(update={"metrics": MetricsSettings(enabled=False)})
    container = build(settings)
    container.users.create("root", is_admin=True)
    _, admin = TokenStore(container.db).create("ops", user="root", is_admin=True)
    with TestClient(create_app(container, answerer=FakeAnswerer(), retriever=FakeRetriever())) as client:
        assert client.get("/metrics", headers={"Authorization": f"Bearer {admin}"}).status_code == 404
    container.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bind_serves_metrics_on_its_own_address_only(tmp_path: Path) -> None:
    port = _free_port()
    settings = load_settings(home=tmp_path / "home").model_copy(
        update={"metrics": MetricsSettings(bind=f"127.0.0.1:{port}")})
    container = build(settings)
    container.users.create("root", is_admin=True)
    _, admin = TokenStore(container.db).create("ops", user="root", is_admin=True)
    app = create_app(container, answerer=FakeAnswerer(), retriever=FakeRetriever())
    with TestClient(app) as client:  # startup starts the listener
        assert client.get("/metrics", headers={"Authorization": f"Bearer {admin}"}).status_code == 404
        side = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert side.status_code == 200 and "sourcewise_questions_total" in side.text
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 404
        assert httpx.post(f"http://127.0.0.1:{port}/metrics", timeout=10).status_code == 404
    with pytest.raises(httpx.TransportError):  # stopped with the app
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
    container.close()


def test_a_taken_bind_address_fails_the_start_with_advice(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        settings = load_settings(home=tmp_path / "home").model_copy(
            update={"metrics": MetricsSettings(bind=f"127.0.0.1:{port}")})
        container = build(settings)
        app = create_app(container, answerer=FakeAnswerer(), retriever=FakeRetriever())
        with pytest.raises(ConfigError, match="SOURCEWISE_METRICS__BIND"), TestClient(app):
            pass
        container.close()


def test_bind_setting_is_checked() -> None:
    with pytest.raises(ValueError):
        MetricsSettings(bind="9464")
    with pytest.raises(ValueError):
        MetricsSettings(latency_buckets=[1.0, 0.5])
    assert MetricsSettings(bind="").bind is None
