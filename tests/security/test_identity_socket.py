"""A session that is over cannot chat: the real server on uvicorn, Chainlit's socket.io over a
real websocket (issue 17, failure 8: sessions survived logout and password change)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import socketio
from sqlalchemy import func, select

from assistant.catalog.db import Database
from assistant.catalog.schema import InteractionRow
from assistant.users import UserStore
from tests.integration.test_ui_server import Server, login

QUESTION = "where are failed payments retried?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("identity-socket"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def db(server: Server) -> Iterator[Database]:
    database = Database(f"sqlite:///{server.home / 'catalog.db'}")
    yield database
    database.close()


def person(db: Database, name: str) -> str:
    password = f"{name}-password-1"
    UserStore(db).create(name, password=password)
    return password


async def _connect(base: str, cookie: str) -> tuple[socketio.AsyncClient, dict[str, list[Any]]]:
    sio = socketio.AsyncClient(reconnection=False)
    events: dict[str, list[Any]] = {}
    for name in ("new_message", "update_message"):
        sio.on(name, lambda data, _n=name: events.setdefault(_n, []).append(data))
    await sio.connect(base, socketio_path="/ws/socket.io", transports=["websocket"],
                      headers={"Cookie": f"access_token={cookie}"},
                      auth={"sessionId": str(uuid.uuid4()), "clientType": "webapp", "userEnv": "{}",
                            "threadId": str(uuid.uuid4())})
    return sio, events


def test_a_logged_out_session_cannot_open_the_chat_socket(server: Server, db: Database) -> None:
    password = person(db, "dora")
    client = login(server.base, "dora", password)
    cookie = client.cookies["access_token"]

    async def connects() -> bool:
        try:
            sio, _ = await _connect(server.base, cookie)
        except socketio.exceptions.ConnectionError:
            return False
        await sio.disconnect()
        return True

    assert asyncio.run(connects())
    assert client.post("/logout", json={}).status_code == 200
    assert not asyncio.run(connects())
    assert httpx.get(server.base + "/user", cookies={"access_token": cookie}).status_code == 401


def test_an_open_socket_stops_answering_when_the_password_changes(server: Server, db: Database) -> None:
    password = person(db, "emil")
    cookie = login(server.base, "emil", password).cookies["access_token"]

    async def run() -> list[Any]:
        sio, events = await _connect(server.base, cookie)
        await sio.emit("connection_successful")
        UserStore(db).set_password("emil", "emil-new-password")
        await sio.emit("client_message", {"message": {
            "id": str(uuid.uuid4()), "threadId": str(uuid.uuid4()), "type": "user_message", "output": QUESTION,
            "createdAt": datetime.now(UTC).isoformat()}, "fileReferences": None})
        for _ in range(300):  # bounded wait for the reply, not a timing assertion
            replies = [m for m in events.get("new_message", []) + events.get("update_message", [])
                       if m.get("type") == "assistant_message" and m.get("output")]
            if replies:
                break
            await asyncio.sleep(0.1)
        await sio.disconnect()
        return replies

    replies = asyncio.run(run())
    assert replies and "session has ended" in replies[-1]["output"]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(InteractionRow)
                        .where(InteractionRow.user_name == "emil")) == 0


