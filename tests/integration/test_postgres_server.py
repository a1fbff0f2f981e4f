"""The whole app on a PostgreSQL catalog, end to end: the real CLI indexes a real git repository
with the real model into a catalog on the throwaway PostgreSQL server; `sourcewise serve` answers
over HTTP (`/api/ask` with tokens, the chat over Chainlit's socket with feedback), survives the
server dropping its connections, and a second server process (a restart, or another replica)
resumes the thread from PostgreSQL. Nothing is written to a SQLite catalog on the way."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from assistant.audit import AuditLog
from assistant.catalog.db import Database
from assistant.catalog.schema import FeedbackRow, InteractionRow
from assistant.catalog.chat_schema import ChatThreadRow
from assistant.catalog.tokens import TokenStore
from assistant.users import UserStore
from tests.fixtures.gitrepo import make_sample_repo
from tests.fixtures.postgres import PostgresServer, database_name, pg_server  # noqa: F401 - fixture
from tests.fixtures.serve_process import stop_process
from tests.integration.cli import run_cli, run_json
from tests.integration.test_ui_server import chat_round_trip, login

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

QUESTION = "where do we retry failed payments?"
TIMEOUT = httpx.Timeout(300.0)  # the first question loads the model in the server


class Serve:
    """`sourcewise serve` in a subprocess with the catalog on PostgreSQL."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = home.parent / f"serve-{self.port}.log"
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sourcewise.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env, cwd=home.parent, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}:\n{self.log_path.read_text()}")
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)  # polling for readiness, not timing anything
        self.stop()
        raise AssertionError(f"serve not healthy:\n{self.log_path.read_text()}")

    def stop(self) -> str:
        stop_process(self.proc)
        return self.log_path.read_text()


def ask(base: str, token: str) -> dict:
    resp = httpx.post(f"{base}/api/ask", json={"question": QUESTION}, timeout=TIMEOUT,
                      headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_index_ask_chat_feedback_and_resume_on_postgresql(tmp_path: Path, pg_server: PostgresServer) -> None:
    url = pg_server.create_database()
    dbname = database_name(url)
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCEWISE_", "CHAINLIT_"))}
    env.update(SOURCEWISE_HOME=str(home), SOURCEWISE_CATALOG__URL=url)
    repo = make_sample_repo(tmp_path / "repo")

    run_cli(home, "source", "add", "app", "--git", str(repo.path), "--groups", "payments", env=env)
    [report] = run_json(home, "index", env=env)
    assert report["status"] == "ok", report
    db = Database(url)
    UserStore(db).create("alice", password="alice-password-1", groups=["payments"])
    UserStore(db).create("bob", password="bob-password-1", groups=["marketing"])
    tokens = TokenStore(db)
    _, alice = tokens.create("alice-laptop", user="alice", groups=["payments"])
    _, bob = tokens.create("bob-laptop", user="bob", groups=["marketing"])

    server = Serve(home, env)
    try:
        data = ask(server.base, alice)
        paths = [c["path"] for c in data["citations"]]
        assert "payments/retry.py" in paths and data["supported"] is True
        outsider = ask(server.base, bob)  # a source outside bob's groups does not exist for him
        assert outsider["citations"] == [] and outsider["supported"] is False

        backends = f"SELECT pid FROM pg_stat_activity WHERE datname = '{dbname}'"

        def pids() -> set[str]:
            return set(pg_server.psql(backends).split())

        pooled = pids()
        assert pooled  # the server's pool holds connections
        pg_server.terminate_connections(dbname)  # PostgreSQL restarted or a proxy dropped the pool
        for _ in range(100):  # pg_terminate_backend signals; the backends exit a moment later
            if not pids() & pooled:
                break
            time.sleep(0.1)
        # every pooled connection is gone (the server's worker may already have opened a new one)
        assert not pids() & pooled
        again = ask(server.base, alice)
        assert "payments/retry.py" in [c["path"] for c in again["citations"]]

        web = login(server.base, "alice", "alice-password-1")
        events = chat_round_trip(server.base, web.cookies["access_token"], QUESTION)
        thread_id = events["thread_id"][0]
        final = [m for m in events.get("new_message", []) + events.get("update_message", [])
                 if (m.get("metadata") or {}).get("interaction_id")][-1]
        iid = final["metadata"]["interaction_id"]
        r = web.put("/feedback", json={"sessionId": "none", "feedback": {
            "forId": final["id"], "value": 0, "comment": "missed the backoff"}})
        assert r.status_code == 200, r.text
    finally:
        log = server.stop()
    assert "Traceback" not in log, log

    with db.session() as s:
        assert s.get(InteractionRow, data["interaction_id"]).channel == "api"
        assert s.get(InteractionRow, iid).user_name == "alice"
        fb = s.scalar(select(FeedbackRow).where(FeedbackRow.interaction_id == iid))
        assert (fb.value, fb.comment, fb.user_name) == ("down", "missed the backoff", "alice")
        assert s.get(ChatThreadRow, thread_id).user_name == "alice"

    replica = Serve(home, env)  # a fresh process: everything it knows comes from PostgreSQL
    try:
        web = login(replica.base, "alice", "alice-password-1")
        threads = web.post("/project/threads", json={"pagination": {"first": 20}, "filter": {}}).json()["data"]
        assert thread_id in [t["id"] for t in threads]
        thread = web.get(f"/project/thread/{thread_id}").json()
        step = next(s for s in thread["steps"] if (s.get("metadata") or {}).get("interaction_id") == iid)
        assert step["feedback"]["value"] == 0 and step["feedback"]["comment"] == "missed the backoff"
        other = login(replica.base, "bob", "bob-password-1")
        assert other.get(f"/project/thread/{thread_id}").status_code in (401, 403, 404)
        assert thread_id not in [t["id"] for t in other.post(
            "/project/threads", json={"pagination": {"first": 20}, "filter": {}}).json()["data"]]
    finally:
        log = replica.stop()
    assert "Traceback" not in log, log

    chain = AuditLog(db).verify()
    assert chain.ok and chain.rows >= 4, chain.summary()
    verified = run_cli(home, "audit", "verify", env=env)
    assert "intact" in verified.stdout + verified.stderr
    assert not (home / "catalog.db").exists()  # nothing went to a SQLite catalog
    db.close()
