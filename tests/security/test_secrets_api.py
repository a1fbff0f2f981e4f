"""Asking for secrets over HTTP gets none: `sourcewise serve` in a subprocess over the
indexed corpus, the official `openai` client on `/v1/chat/completions` (plain and
streamed), `/api/ask` and `/api/search`, as a token with no groups and as an admin."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from openai import OpenAI

from assistant.catalog.db import Database
from assistant.catalog.tokens import TokenStore
from assistant.users import UserStore
from tests.fixtures.serve_process import free_port, serve_command, stop_process, wait_healthy
from tests.integration.test_api import TIMEOUT
from tests.security.conftest import Indexed
from tests.security.leaks import find_leaks
from tests.security.test_secrets_answers import QUESTIONS

pytestmark = pytest.mark.slow


@dataclass
class Server:
    url: str
    tokens: dict[str, str]  # who -> bearer token


@pytest.fixture(scope="module")
def server(indexed: Indexed) -> Iterator[Server]:
    db = Database(indexed.catalog_url)
    try:
        store = TokenStore(db)
        users = UserStore(db, scrypt_n=2**4)  # a token acts for an existing user
        users.create("nobody")
        if users.get("root") is None:
            users.create("root", is_admin=True)
        tokens = {"nobody": store.create("nobody", user="nobody", groups=[])[1],
                  "admin": store.create("admin", user="root", groups=[], is_admin=True)[1]}
    finally:
        db.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = indexed.home.parent / "server.log"
    env = {**os.environ, "SOURCEWISE_HOME": str(indexed.home)}
    with log.open("wb") as out:
        proc = subprocess.Popen(serve_command(port), env=env, cwd=indexed.home.parent, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        wait_healthy(url, proc, log)
        yield Server(url, tokens)
    finally:
        stop_process(proc)


@pytest.mark.parametrize("who", ["nobody", "admin"])
def test_chat_completions_hold_no_secret(indexed: Indexed, server: Server, who: str) -> None:
    client = OpenAI(base_url=f"{server.url}/v1", api_key=server.tokens[who], timeout=300, max_retries=0)
    said: list[tuple[str, str]] = []
    cited = 0
    for question in QUESTIONS:
        done = client.chat.completions.create(model="sourcewise", messages=[{"role": "user", "content": question}])
        said.append((f"{question!r} completion", done.model_dump_json()))
        cited += len(done.model_extra["sourcewise"]["citations"])
    for question in QUESTIONS[:4]:
        stream = client.chat.completions.create(model="sourcewise", stream=True,
                                                messages=[{"role": "user", "content": question}])
        said.append((f"{question!r} stream", "".join(c.model_dump_json() for c in stream)))
    assert cited > 0  # the answers did quote the corpus
    leaks = find_leaks(indexed.planted, said)
    assert leaks == [], f"seed {indexed.planted.seed}: " + "\n".join(leaks)


@pytest.mark.parametrize("who", ["nobody", "admin"])
def test_ask_and_search_hold_no_secret(indexed: Indexed, server: Server, who: str) -> None:
    headers = {"Authorization": f"Bearer {server.tokens[who]}"}
    said: list[tuple[str, str]] = []
    for question in QUESTIONS[:8]:
        ask = httpx.post(f"{server.url}/api/ask", json={"question": question}, headers=headers, timeout=TIMEOUT)
        search = httpx.get(f"{server.url}/api/search", params={"q": question, "k": 10}, headers=headers,
                           timeout=TIMEOUT)
        assert ask.status_code == 200 and search.status_code == 200, (ask.text, search.text)
        said += [(f"{question!r} /api/ask", ask.text), (f"{question!r} /api/search", search.text)]
    assert any("[REDACTED:" in text for _, text in said)
    leaks = find_leaks(indexed.planted, said)
    assert leaks == [], f"seed {indexed.planted.seed}: " + "\n".join(leaks)
