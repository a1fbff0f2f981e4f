"""The real server for browser tests: a git repo indexed by the CLI with the bundled model,
users made by the CLI, ``sourcewise serve`` in a subprocess, and Debian's Chromium driven
headless by Playwright (never a downloaded browser).

One server per test module and one browser per session keep the suite lean on a small
machine; every wait is bounded (``TIMEOUT_MS``), nothing sleeps for timing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.gitrepo import GitRepo, make_sample_repo

ROOT = Path(__file__).resolve().parents[2]
# `make screenshots` (SOURCEWISE_SCREENSHOTS=docs/screenshots) refreshes the README's
# pictures; a plain test run writes them to a temporary folder, so it leaves the tree clean.
SCREENSHOTS = Path(os.environ.get("SOURCEWISE_SCREENSHOTS") or Path(tempfile.gettempdir()) / "sourcewise-screenshots")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 900}
TIMEOUT_MS = 30_000  # any one wait in a page
JOB_TIMEOUT_MS = 120_000  # an index job started from a page
START_TIMEOUT_S = 120  # the server's /healthz
CLI_TIMEOUT_S = 300

SOURCE = "sample"
PASSWORDS = {"alice": "alice-pass-1", "bob": "bob-pass-1", "plat": "plat-pass-1", "root": "root-pass-1"}
# A doc whose text is markup: answers and citations quoting it must show it as text.
HOSTILE_DOC = """\
---
owner: "@sre-team"
---
# Incident escalation

To escalate an incident page the on-call lead: <img src=x onerror=alert(2)>
<script>alert("doc")</script>
Escalate after 15 minutes without an acknowledgement.
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCEWISE_", "CHAINLIT_"))}
    env.update(SOURCEWISE_HOME=str(home), SOURCEWISE_GENERATION__GENERATOR="extractive",
               PYTHONPATH=str(ROOT),
               # the admin form adds local sources only under allowed roots (the handbook test's)
               SOURCEWISE_INDEXING__ALLOWED_ROOTS=json.dumps([str(home.parent / "handbook")]))
    return env


def cli(home: Path, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run([sys.executable, "-m", "sourcewise.cli", *args], env=_env(home), input=stdin,
                          capture_output=True, text=True, timeout=CLI_TIMEOUT_S, cwd=home.parent, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"sourcewise {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


@dataclass
class Server:
    """A running ``sourcewise serve`` and what the tests need to know about it."""

    home: Path
    repo: GitRepo
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    tmp: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the live catalog (SQLite in WAL mode: reading beside the server is fine)."""
        con = sqlite3.connect(self.home / "catalog.db", timeout=10)
        try:
            return list(con.execute(sql, params))
        finally:
            con.close()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


def _wait_healthy(srv: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if srv.proc.poll() is not None:
            raise AssertionError(f"sourcewise serve exited {srv.proc.returncode}:\n{srv.log_tail()}")
        try:
            if httpx.get(srv.base + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)  # polling interval, not a timing assumption
    raise AssertionError(f"sourcewise serve did not answer /healthz in {START_TIMEOUT_S} s:\n{srv.log_tail()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test item, so fixtures can tell that the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    # Not pytest's tmp_path: other pytest runs on this machine prune old basetemp dirs,
    # and this one holds a live server's data for the whole module.
    tmp = Path(tempfile.mkdtemp(prefix="sourcewise-e2e-"))
    home = tmp / "home"
    repo = make_sample_repo(tmp / "repo")
    repo.write("docs/incidents.md", HOSTILE_DOC)
    repo.commit("incident escalation", "2024-07-01T09:00:00+00:00")
    cli(home, "source", "add", SOURCE, "--git", str(repo.path))
    cli(home, "index")
    cli(home, "user", "add", "alice", "--groups", "eng", "--password-stdin", stdin=PASSWORDS["alice"] + "\n")
    cli(home, "user", "add", "bob", "--password-stdin", stdin=PASSWORDS["bob"] + "\n")
    cli(home, "user", "add", "plat", "--aliases", "@platform-team", "--password-stdin",
        stdin=PASSWORDS["plat"] + "\n")
    cli(home, "user", "add", "root", "--admin", "--password-stdin", stdin=PASSWORDS["root"] + "\n")
    port = _free_port()
    log_path = tmp / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "sourcewise.cli", "serve", "--host", "127.0.0.1",
                                 "--port", str(port)], env=_env(home), cwd=tmp, stdout=log,
                                stderr=subprocess.STDOUT)
    srv = Server(home, repo, port, proc, log_path, tmp)
    failed = request.session.testsfailed
    try:
        _wait_healthy(srv)
        yield srv
    finally:
        _stop(proc)
        if request.session.testsfailed == failed:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"\nkept the e2e server's data dir, log and failure screenshots in {tmp}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is missing (`make browser` installs Debian's chromium)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        pw.stop()


class Session:
    """One signed-in person: a browser context and its page, plus any dialogs that fired."""

    def __init__(self, browser: Any, server: Server, user: str) -> None:
        self.server = server
        self.user = user
        self.context = browser.new_context(viewport=VIEWPORT, base_url=server.base)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.set_default_navigation_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        self.page.on("dialog", on_dialog)
        self.frames: list[str] = []  # socket frames the chat received, for the streaming check
        self.page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload: Any) -> None:
        if isinstance(payload, str):
            self.frames.append(payload[:2000])

    def login(self) -> Session:
        """Sign in through Chainlit's password form and wait for the chat session to start."""
        page = self.page
        page.goto("/login")
        page.fill("#email", self.user)
        page.fill("#password", PASSWORDS[self.user])
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"^(?!.*/login).*$"))
        page.locator("#chat-settings-open-modal").wait_for()  # on_chat_start ran: the socket is live
        return self

    def close(self) -> None:
        self.context.close()


@pytest.fixture()
def sign_in(browser: Any, server: Server, request: pytest.FixtureRequest) -> Iterator[Any]:
    """``sign_in("alice")`` -> a signed-in ``Session``; all are closed after the test (a failed
    test first leaves each page's screenshot and HTML beside the server log)."""
    sessions: list[Session] = []

    def make(user: str) -> Session:
        s = Session(browser, server, user)
        sessions.append(s)
        return s.login()

    yield make
    report = getattr(request.node, "report_call", None)
    for i, s in enumerate(sessions):
        if report is not None and report.failed:
            out = server.tmp / "failures" / f"{request.node.name}-{i}-{s.user}"
            out.parent.mkdir(exist_ok=True)
            try:
                s.page.screenshot(path=f"{out}.png")
                (out.parent / f"{out.name}.html").write_text(s.page.content())
            except Exception as exc:  # noqa: BLE001 - evidence is best effort
                print(f"no screenshot of {s.user}'s page: {exc}")
        s.close()


def screenshot(page: Any, name: str) -> Path:
    """Save ``<SCREENSHOTS>/<name>`` (overwritten on every run) at the suite's viewport."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=False, animations="disabled", caret="hide")
    try:  # a 256-colour palette keeps a UI screenshot about a third of the size, looking the same
        from PIL import Image
    except ImportError:
        return path
    with Image.open(path) as shot:
        small = shot.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)
    return path
