"""A scripted Chainlit web client for ``bench/chat_load.py``: sign in, open a chat, ask, time the stream.

It speaks the protocol the Chainlit 2.12 web client speaks (``@chainlit/react-client``):

1. ``POST /login`` (form ``username``/``password``) sets the ``access_token`` cookie
   (split into ``access_token_0``, ``_1``... when long); ``POST /set-session-cookie``
   as the browser does before connecting.
2. socket.io at ``/ws/socket.io`` with that cookie and the auth payload
   ``{clientType: "webapp", sessionId, threadId: "", userEnv: "{}", chatProfile: ""}``,
   then ``connection_successful``, which runs ``on_chat_start``; the session is ready
   when that run step closes (its ``update_message``), as a person waits for the page.
3. Each question is a ``client_message`` ``{message: <user_message step>, fileReferences: []}``.
   The server opens an ``on_message`` run step whose ``parentId`` is the user message;
   the answer is that step's child: ``stream_start`` + ``stream_token`` while it
   streams, ``element`` per citation, the final ``new_message`` (its metadata carries
   ``interaction_id``); then the run step's ``update_message`` and ``task_end``.
   Answers are matched to questions by these parent ids, not by arrival order.
4. ``clear_session`` + disconnect, as "new chat" does, so the server drops the session now.

Every event a session receives is scanned for leaks: another session's nonce, a
``threadId`` other than this session's, a citation element for a step this session
never saw. Step and thread ids are kept so ``chat_load`` can check them across sessions.
Imports nothing from the project.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import socketio

SOCKET_PATH = "/ws/socket.io"
ERROR_MARK = "⚠️"
STEP_EVENTS = ("new_message", "update_message", "stream_start", "delete_message")


class SessionAborted(Exception):
    """The session cannot go on (sign-in refused, socket gone, a question timed out)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


@dataclass
class QuestionResult:
    """One question's timings (seconds from ``client_message``) and outcome."""

    session: int
    index: int
    question: str
    sent_at: float = 0.0
    first_token_s: float | None = None
    answer_s: float | None = None
    done_s: float | None = None  # task_end: the chat accepts the next question
    tokens: int = 0
    answer_chars: int = 0
    citations: int = 0
    interaction_id: int | None = None
    answer_step: str | None = None  # the final answer's step id (for the persistence check)
    error: str | None = None  # kind, e.g. "timeout-first-token", "chat-error"
    error_detail: str = ""


@dataclass
class Leak:
    session: int
    kind: str  # "nonce", "thread", "element", "shared-step", "shared-thread"
    event: str
    detail: str


@dataclass
class _Pending:
    result: QuestionResult
    started: bool = False  # task_start seen
    user_msg_id: str = ""
    run_step: str | None = None  # Chainlit's "on_message" run step, child of our user message
    answer_steps: set[str] = field(default_factory=set)  # its children: the streamed answer
    run_ended: bool = False
    final: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)


class ChatSession:
    """One browser tab: a signed-in user, one socket.io connection, one Chainlit thread."""

    def __init__(self, base_url: str, index: int, username: str, password: str, *,
                 nonce_re: re.Pattern[str], transports: list[str], timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.index = index
        self.username = username
        self.password = password
        self.nonce_re = nonce_re
        self.transports = transports
        self.timeout_s = timeout_s
        self.session_id = str(uuid.uuid4())
        self.thread_id: str | None = None  # from first_interaction
        self.thread_ids_seen: Counter[str] = Counter()
        self.step_ids: set[str] = set()
        self.element_for_ids: list[str] = []
        self.leaks: list[Leak] = []
        self.events: Counter[str] = Counter()
        self.connect_s: float | None = None
        self.login_s: float | None = None
        self.disconnected = False
        self._ready = asyncio.Event()
        self._chat_start_step: str | None = None
        self._pending: _Pending | None = None
        self._sio: socketio.AsyncClient | None = None

    # -- connection -------------------------------------------------------------
    async def open(self, http: httpx.AsyncClient, *, wait_chat_start: bool = True) -> None:
        """Sign in and connect; raises ``SessionAborted`` with the kind of failure.

        ``wait_chat_start=False`` returns as soon as the socket is connected, so the first
        question can race ``on_chat_start`` (a fast click on a starter does that).
        """
        t0 = time.perf_counter()
        cookie = await self._login(http)
        self.login_s = time.perf_counter() - t0
        sio = socketio.AsyncClient(reconnection=False, handle_sigint=False,
                                   request_timeout=self.timeout_s)
        sio.on("*", self._on_event)
        sio.on("disconnect", self._on_disconnect)
        self._sio = sio
        try:
            await asyncio.wait_for(sio.connect(
                self.base_url, socketio_path=SOCKET_PATH, transports=self.transports,
                headers={"Cookie": cookie},
                auth={"clientType": "webapp", "sessionId": self.session_id, "threadId": "",
                      "userEnv": "{}", "chatProfile": ""},
                wait_timeout=int(self.timeout_s)), self.timeout_s)
        except socketio.exceptions.ConnectionError as exc:
            text = str(exc)
            kind = "connect-refused" if "refused" in text.lower() or "connect call failed" in text.lower() \
                else "connect-error"
            raise SessionAborted(kind, text) from exc
        except TimeoutError as exc:
            raise SessionAborted("connect-timeout", f"no socket.io connection in {self.timeout_s:.0f} s") from exc
        await sio.emit("connection_successful")
        if not wait_chat_start:
            self.connect_s = time.perf_counter() - t0
            return
        try:
            await asyncio.wait_for(self._ready.wait(), self.timeout_s)
        except TimeoutError as exc:
            raise SessionAborted("chat-start-timeout", f"on_chat_start did not finish in {self.timeout_s:.0f} s") \
                from exc
        self.connect_s = time.perf_counter() - t0

    async def _login(self, http: httpx.AsyncClient) -> str:
        try:
            r = await http.post(self.base_url + "/login", data={"username": self.username,
                                                                 "password": self.password})
        except httpx.ConnectError as exc:
            raise SessionAborted("connect-refused", f"/login: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise SessionAborted("login-timeout", str(exc)) from exc
        except httpx.HTTPError as exc:
            raise SessionAborted("login-error", f"{type(exc).__name__}: {exc}") from exc
        if r.status_code != 200:
            raise SessionAborted("login-refused", f"HTTP {r.status_code}: {r.text[:200]}")
        jar = {k: v for k, v in r.cookies.items() if k == "access_token" or k.startswith("access_token_")}
        if not jar:
            raise SessionAborted("login-refused", "no access_token cookie in the /login response")
        cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
        try:  # the browser asks for a sticky-session cookie before connecting; failures do not matter
            await http.post(self.base_url + "/set-session-cookie", json={"session_id": self.session_id},
                            headers={"Cookie": cookie})
        except httpx.HTTPError:
            pass
        return cookie

    async def close(self) -> None:
        sio = self._sio
        if sio is None:
            return
        try:
            if sio.connected:
                await sio.emit("clear_session")
                await asyncio.wait_for(sio.disconnect(), 10)
        except Exception:  # noqa: BLE001, S110 - closing is best effort
            pass

    # -- asking -----------------------------------------------------------------
    async def ask(self, index: int, question: str) -> QuestionResult:
        """Send one question and wait for its answer and ``task_end`` (bounded by the timeout)."""
        result = QuestionResult(self.index, index, question)
        sio = self._sio
        if sio is None or not sio.connected or self.disconnected:
            result.error, result.error_detail = "disconnected", "socket closed before the question"
            return result
        step_id = str(uuid.uuid4())
        pending = _Pending(result, user_msg_id=step_id)
        self._pending = pending
        step = {"threadId": "", "id": step_id, "name": self.username, "type": "user_message",
                "output": question, "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "metadata": {"location": self.base_url + "/"}}
        result.sent_at = time.perf_counter()
        try:
            self.step_ids.add(step_id)
            await sio.emit("client_message", {"message": step, "fileReferences": []})
            await asyncio.wait_for(pending.done.wait(), self.timeout_s)
        except TimeoutError:
            if result.first_token_s is None:
                result.error = "timeout-first-token"
            elif result.answer_s is None:
                result.error = "timeout-answer"
            else:
                result.error = "timeout-task-end"
            result.error_detail = f"after {self.timeout_s:.0f} s"
        except Exception as exc:  # noqa: BLE001 - socket errors are results, not crashes
            result.error, result.error_detail = "exception", f"{type(exc).__name__}: {exc}"
        finally:
            self._pending = None
        if result.error is None and self.disconnected:
            result.error = "disconnected"
        return result

    # -- events -----------------------------------------------------------------
    async def _on_disconnect(self, *args: Any) -> None:
        self.disconnected = True
        pending = self._pending
        if pending is not None and not pending.done.is_set():
            pending.result.error = "disconnected"
            pending.result.error_detail = f"server closed the socket mid-question {args!r}"[:200]
            pending.done.set()

    async def _on_event(self, event: str, data: Any = None, *extra: Any) -> None:
        now = time.perf_counter()
        self.events[event] += 1
        self._scan(event, data)
        step = data if isinstance(data, dict) else {}
        if not self._ready.is_set():
            self._track_chat_start(event, step)
        pending = self._pending
        if pending is None or pending.done.is_set():
            return
        res = pending.result
        parent = step.get("parentId")
        if event == "new_message" and step.get("type") == "run" and parent == pending.user_msg_id:
            pending.run_step = step.get("id")
        elif event in ("stream_start", "new_message", "update_message") and pending.run_step is not None \
                and parent == pending.run_step and step.get("type") != "run":
            pending.answer_steps.add(str(step.get("id")))
            output = str(step.get("output") or "")
            if output and res.first_token_s is None:
                res.first_token_s = now - res.sent_at
            if event == "stream_start":
                return
            meta = step.get("metadata") or {}
            if step.get("isError") or output.startswith(ERROR_MARK) or ("\n\n" + ERROR_MARK) in output:
                res.error, res.error_detail = "chat-error", output[:300]
                res.answer_s = now - res.sent_at
                pending.final = True
            elif isinstance(meta, dict) and meta.get("interaction_id") is not None:
                res.answer_s = now - res.sent_at
                res.interaction_id = meta.get("interaction_id")
                res.answer_step = str(step.get("id"))
                res.answer_chars = len(output)
                pending.final = True
        elif event == "stream_token" and step.get("id") in pending.answer_steps:
            if step.get("token"):
                res.tokens += 1
                if res.first_token_s is None:
                    res.first_token_s = now - res.sent_at
        elif event == "element" and step.get("forId") in pending.answer_steps:
            res.citations += 1
        elif event == "update_message" and pending.run_step is not None and step.get("id") == pending.run_step:
            pending.run_ended = True
        elif event == "task_end" and pending.run_ended:
            res.done_s = now - res.sent_at
            if not pending.final and res.error is None:
                res.error, res.error_detail = "no-answer", "the on_message run ended without a final answer message"
            pending.done.set()
        elif event == "new_message" and step.get("isError") and res.error is None:
            # Chainlit's own ErrorMessage (an exception escaped on_message) has no parent of ours.
            res.error, res.error_detail = "chat-error", str(step.get("output") or "")[:300]
        elif event == "ask":
            res.error, res.error_detail = "unexpected-ask", json.dumps(data, default=str)[:200]
            pending.done.set()

    def _track_chat_start(self, event: str, step: dict[str, Any]) -> None:
        """Ready when ``on_chat_start`` has finished (its run step closes), as a person would wait."""
        if event == "new_message" and step.get("type") == "run" and step.get("name") == "on_chat_start":
            self._chat_start_step = step.get("id")
        elif event == "update_message" and step.get("id") is not None and step.get("id") == self._chat_start_step or event == "new_message" and step.get("type") != "run" and step.get("isError"):
            self._ready.set()

    def _scan(self, event: str, data: Any) -> None:
        """Leak checks on everything received: nonces, thread ids, step ids, element owners."""
        if data is None:
            return
        if event == "first_interaction" and isinstance(data, dict) and data.get("thread_id"):
            self.thread_id = str(data["thread_id"])
            self.thread_ids_seen[self.thread_id] += 1
        text = json.dumps(data, default=str, ensure_ascii=False)
        for m in self.nonce_re.finditer(text):
            if int(m.group(1)) != self.index:
                self.leaks.append(Leak(self.index, "nonce", event, f"saw {m.group(0)!r}"))
        for item in _dicts(data):
            tid = item.get("threadId")
            if isinstance(tid, str) and tid:
                self.thread_ids_seen[tid] += 1
            if event in STEP_EVENTS and isinstance(item.get("id"), str):
                self.step_ids.add(item["id"])
            if event in ("element", "action") and isinstance(item.get("forId"), str):
                self.element_for_ids.append(item["forId"])

    def finish_checks(self) -> None:
        """After the session: one thread id, and every element attached to one of our steps."""
        own = self.thread_id
        for tid, n in self.thread_ids_seen.items():
            if own is not None and tid != own:
                self.leaks.append(Leak(self.index, "thread", "*", f"{n} event(s) for thread {tid}, ours {own}"))
        if own is None and len(self.thread_ids_seen) > 1:
            self.leaks.append(Leak(self.index, "thread", "*", f"several thread ids {dict(self.thread_ids_seen)}"))
        for for_id in self.element_for_ids:
            if for_id not in self.step_ids:
                self.leaks.append(Leak(self.index, "element", "element", f"element for unknown step {for_id}"))


def _dicts(data: Any) -> list[dict[str, Any]]:
    """The dict itself, or the dicts of a list (some events carry lists of steps)."""
    if isinstance(data, dict):
        out = [data]
        msg = data.get("msg")  # "ask" wraps its step
        if isinstance(msg, dict):
            out.append(msg)
        return out
    if isinstance(data, list):
        return [d for d in data if isinstance(d, dict)]
    return []
