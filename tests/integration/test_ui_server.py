"""The whole server on a real uvicorn (loopback): API, pages and chat side by side; sign-in;
a chat round trip over Chainlit's socket; threads and feedback owned; a restart keeps threads."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from sqlalchemy import select

from assistant.catalog.db import Database
from assistant.catalog.schema import FeedbackRow, FlagRow, InteractionRow
from assistant.users import UserStore
from tests.fixtures.chainlit_socket import ask_over_socket
from tests.fixtures.serve_process import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
QUESTION = 'where are failed payments retried? <script>alert("q")</script>'


class Server:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCEWISE_", "CHAINLIT_"))}
        self.log = (home / f"server-{self.port}.log").open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.integration.ui_app", str(home), str(self.port)],
                                     cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {(home / f'server-{self.port}.log').read_text()}")
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        self.stop()
        raise AssertionError("server did not start")

    def stop(self) -> None:
        stop_process(self.proc, 20)
        self.log.close()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui-home")


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[Server]:
    srv = Server(home)
    yield srv
    srv.stop()


def login(base: str, name: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=20)
    r = client.post("/login", data={"username": name, "password": password})
    assert r.status_code == 200, r.text
    assert client.cookies.get("access_token")
    return client


def admin_password(home: Path) -> str:
    path = home / "initial-admin-password"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    return path.read_text().strip()


def chat_round_trip(base: str, cookie: str, question: str) -> dict[str, Any]:
    """Connect as the browser does, ask, and collect what the server sends until the answer is final."""

    def answered(name: str, data: Any) -> bool:
        return name in ("new_message", "update_message") and bool((data or {}).get("metadata", {}).get(
            "interaction_id"))

    return ask_over_socket(base, cookie, question, answered)


def test_routes_coexist(server: Server) -> None:
    base = server.base
    assert httpx.get(base + "/healthz").json() == {"status": "ok"}
    assert httpx.get(base + "/v1/models").status_code == 401
    assert httpx.post(base + "/api/ask", json={"question": "x"}).status_code == 401
    missing = httpx.get(base + "/api/no-such-route")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/json")
    page = httpx.get(base + "/")
    assert page.status_code == 200 and "<title>Sourcewise</title>" in page.text
    owners = httpx.get(base + "/owners", follow_redirects=False)
    assert "<title>Sourcewise</title>" not in owners.text  # the pages' route, not the chat's index
    cfg = httpx.get(base + "/auth/config").json()
    assert cfg["requireLogin"] is True and cfg["passwordAuth"] is True


def test_login(server: Server, home: Path) -> None:
    bad = httpx.post(server.base + "/login", data={"username": "admin", "password": "wrong-password"})
    assert bad.status_code == 401
    client = login(server.base, "admin", admin_password(home))
    assert client.get("/user").json()["identifier"] == "admin"
    assert (home / "chainlit-secret").stat().st_mode & 0o077 == 0


def test_chat_round_trip_feedback_and_ownership(server: Server, home: Path) -> None:
    admin = login(server.base, "admin", admin_password(home))
    events = chat_round_trip(server.base, admin.cookies["access_token"], QUESTION)
    final = [m for m in events.get("new_message", []) + events.get("update_message", [])
             if (m.get("metadata") or {}).get("interaction_id")][-1]
    iid = final["metadata"]["interaction_id"]
    assert "[1]" in final["output"] and final["type"] == "assistant_message"
    names = {e["name"] for e in events.get("element", [])}
    assert "[1]" in names
    assert any(a["id"] == f"sw-flag-{iid}" for a in events.get("action", []))
    thread_id = events["thread_id"][0]

    db = Database(f"sqlite:///{home / 'catalog.db'}")
    with db.session() as s:
        row = s.get(InteractionRow, iid)
        assert row.channel == "ui" and row.user_name == "admin"

    threads = admin.post("/project/threads", json={"pagination": {"first": 20}, "filter": {}}).json()["data"]
    assert thread_id in [t["id"] for t in threads]
    thread = admin.get(f"/project/thread/{thread_id}").json()
    answer_step = next(s for s in thread["steps"] if (s.get("metadata") or {}).get("interaction_id") == iid)
    element = next(e for e in thread["elements"] if e["name"] == "[1]")
    text = admin.get(element["url"])
    assert text.status_code == 200 and "retry_failed_payment" in text.text and "L10" in text.text

    r = admin.put("/feedback", json={"sessionId": "none", "feedback": {
        "forId": answer_step["id"], "value": 0, "comment": "missed the backoff"}})
    assert r.status_code == 200, r.text
    feedback_id = r.json()["feedbackId"]
    with db.session() as s:
        fb = s.scalar(select(FeedbackRow).where(FeedbackRow.interaction_id == iid))
        assert (fb.value, fb.comment) == ("down", "missed the backoff")

    UserStore(db).create("bob", password="bob-password-1")
    bob = login(server.base, "bob", "bob-password-1")
    assert bob.get(f"/project/thread/{thread_id}").status_code in (401, 403, 404)
    assert bob.get(element["url"]).status_code == 404
    assert thread_id not in [t["id"] for t in bob.post(
        "/project/threads", json={"pagination": {"first": 20}, "filter": {}}).json()["data"]]
    stolen = bob.put("/feedback", json={"sessionId": "none", "feedback": {
        "forId": answer_step["id"], "value": 1, "comment": "bob was here"}})
    assert stolen.status_code >= 400
    assert bob.request("DELETE", "/feedback", json={"feedbackId": feedback_id}).status_code >= 400
    assert bob.request("DELETE", "/project/thread", json={"threadId": thread_id}).status_code >= 400
    with db.session() as s:
        fb = s.scalar(select(FeedbackRow).where(FeedbackRow.interaction_id == iid))
        assert (fb.value, fb.user_name) == ("down", "admin")
        assert s.scalar(select(FlagRow)) is None


def test_thumbs_down_reason_and_source_flag_over_the_live_socket(server: Server, home: Path) -> None:
    """The browser's flows: thumbs down -> reason buttons; "Flag a source" -> source, kind, comment."""
    admin = login(server.base, "admin", admin_password(home))
    cookie = admin.cookies["access_token"]
    db = Database(f"sqlite:///{home / 'catalog.db'}")

    async def run() -> int:
        sio = socketio.AsyncClient(reconnection=False)
        session_id, thread_id = str(uuid.uuid4()), str(uuid.uuid4())
        actions: dict[str, dict[str, Any]] = {}
        answered = asyncio.Event()
        final: dict[str, Any] = {}
        replies = {"sw-reason-": "sw-reason-wrong_source", "sw-flag-": None, "sw-kind-": "sw-kind-outdated"}

        def on_message(data: Any) -> None:
            if (data.get("metadata") or {}).get("interaction_id"):
                final.update(data)
                answered.set()

        def on_ask(data: Any) -> Any:
            spec = data["spec"]
            if spec["type"] == "text":
                return {"id": str(uuid.uuid4()), "threadId": thread_id, "type": "user_message",
                        "output": "the retry limit changed", "createdAt": datetime.now(UTC).isoformat()}
            keys = [actions[k] for k in spec["keys"] if k in actions]
            for prefix, want in replies.items():
                for action in keys:
                    if action["id"].startswith(prefix) and (want is None or action["id"] == want):
                        return action
            return None

        sio.on("new_message", on_message)
        sio.on("update_message", on_message)
        sio.on("action", lambda data: actions.__setitem__(data["id"], data))
        sio.on("ask", on_ask)
        await sio.connect(server.base, socketio_path="/ws/socket.io", transports=["websocket"],
                          headers={"Cookie": f"access_token={cookie}"},
                          auth={"sessionId": session_id, "clientType": "webapp", "userEnv": "{}",
                                "threadId": thread_id})
        await sio.emit("connection_successful")
        await sio.emit("client_message", {"message": {
            "id": str(uuid.uuid4()), "threadId": thread_id, "type": "user_message", "output": QUESTION,
            "createdAt": datetime.now(UTC).isoformat()}, "fileReferences": None})
        await asyncio.wait_for(answered.wait(), 60)
        iid = final["metadata"]["interaction_id"]
        async with httpx.AsyncClient(base_url=server.base, cookies={"access_token": cookie}, timeout=60) as http:
            r = await http.put("/feedback", json={"sessionId": session_id, "feedback": {
                "forId": final["id"], "threadId": thread_id, "value": 0, "comment": "too vague"}})
            assert r.status_code == 200, r.text
            for _ in range(200):  # the reason question is asked in the background
                with db.session() as s:
                    fb = s.scalar(select(FeedbackRow).where(FeedbackRow.interaction_id == iid))
                    if fb is not None and fb.reason:
                        break
                await asyncio.sleep(0.1)
            r = await http.post("/project/action", json={"sessionId": session_id,
                                                         "action": actions[f"sw-flag-{iid}"]})
            assert r.status_code == 200, r.text
        await sio.disconnect()
        return int(iid)

    iid = asyncio.run(run())
    with db.session() as s:
        fb = s.scalar(select(FeedbackRow).where(FeedbackRow.interaction_id == iid))
        assert (fb.value, fb.reason, fb.comment) == ("down", "wrong_source", "too vague")
        flag = s.scalar(select(FlagRow).where(FlagRow.interaction_id == iid))
        assert (flag.kind, flag.citation_n, flag.comment, flag.user_name) == (
            "outdated", 1, "the retry limit changed", "admin")


def test_threads_survive_a_restart(server: Server, home: Path) -> None:
    admin = login(server.base, "admin", admin_password(home))
    before = [t["id"] for t in admin.post("/project/threads", json={"pagination": {"first": 50}, "filter": {}})
              .json()["data"]]
    assert before
    server.stop()
    again = Server(home)
    try:
        admin = login(again.base, "admin", admin_password(home))
        after = admin.post("/project/threads", json={"pagination": {"first": 50}, "filter": {}}).json()["data"]
        assert [t["id"] for t in after] == before
        thread = admin.get(f"/project/thread/{before[0]}").json()
        assert any((s.get("metadata") or {}).get("interaction_id") for s in thread["steps"])
    finally:
        again.stop()
