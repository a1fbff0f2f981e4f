"""Write-behind for the chat history: one writer thread, one transaction per batch.

Chainlit writes a step when a question arrives, again when the answer starts, streams,
ends and gets its citations, and an element per citation: about ten small writes per
question, each awaited before the answer goes on. As separate transactions they were a
third of the server's time under load, all of it ahead of the next question's first
token. Here a write is checked (ownership) and queued at once; a single thread applies
everything queued so far in one transaction, so a burst of fifty questions costs a few
commits instead of five hundred. Reads call ``flush()`` first, so nobody reads behind a
queued write. A crash can lose what was queued in the last moments (milliseconds under
load); the interaction rows that feedback and eval depend on are written by the
Answerer itself, not here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.catalog.chat_schema import ChatElementRow, ChatStepRow, ChatThreadRow

log = logging.getLogger("sourcewise.ui")

MAX_BATCH = 500
MAX_REMEMBERED = 50_000  # thread owners and step threads kept in memory (then forgotten)


@dataclass(frozen=True)
class Write:
    """One queued change: ``kind`` is ``step``, ``element`` or ``thread``; ``key`` its row id."""

    kind: str
    key: str
    apply: Callable[[Session, Any], Any]  # (session, loaded row or None) -> the row to keep


class ChatWriter:
    """Queues chat writes and applies them in order from one thread, in batches."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self._cv = threading.Condition()
        self._queue: list[Write] = []
        self._submitted = 0
        self._written = 0
        self._closed = False
        self.batches = 0  # transactions committed (for tests and benchmarks)
        self.failures = 0
        self.owners: dict[str, str | None] = {}  # thread id -> owner, for threads known to exist
        self.step_threads: dict[str, str] = {}  # step id -> thread id, for steps written here
        self._thread = threading.Thread(target=self._loop, name="chat-writer", daemon=True)
        self._thread.start()

    # -- callers ---------------------------------------------------------------------
    def submit(self, write: Write) -> None:
        with self._cv:
            if self._closed:
                raise RuntimeError("the chat history writer is closed")
            self._queue.append(write)
            self._submitted += 1
            self._cv.notify_all()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything submitted before this call is written; False on timeout."""
        with self._cv:
            target = self._submitted
            return self._cv.wait_for(lambda: self._written >= target or not self._thread.is_alive(), timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop the thread."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        self._thread.join(timeout)

    def remember_owner(self, thread_id: str, owner: str | None) -> None:
        if len(self.owners) > MAX_REMEMBERED:
            self.owners.clear()
        self.owners[thread_id] = owner

    def forget_thread(self, thread_id: str) -> None:
        self.owners.pop(thread_id, None)

    def remember_step(self, step_id: str, thread_id: str) -> None:
        if len(self.step_threads) > MAX_REMEMBERED:
            self.step_threads.clear()
        self.step_threads[step_id] = thread_id

    # -- the writer thread -------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._queue or self._closed)
                if not self._queue and self._closed:
                    return
                batch = self._queue[:MAX_BATCH]
                del self._queue[: len(batch)]
            self._write(batch)
            with self._cv:
                self._written += len(batch)
                self._cv.notify_all()

    def _write(self, batch: Sequence[Write]) -> None:
        try:
            self._apply(batch)
        except Exception:  # noqa: BLE001 - one bad write must not take the batch with it
            log.exception("chat history batch of %d failed; writing one by one", len(batch))
            for write in batch:
                try:
                    self._apply([write])
                except Exception:  # noqa: BLE001 - logged; the rest of the history is kept
                    self.failures += 1
                    log.exception("chat history write failed (%s %s)", write.kind, write.key)

    def _apply(self, batch: Sequence[Write]) -> None:
        models = {"step": ChatStepRow, "element": ChatElementRow, "thread": ChatThreadRow}
        with self.db.session() as s:
            rows: dict[tuple[str, str], Any] = {}
            for kind, model in models.items():
                keys = list({w.key for w in batch if w.kind == kind})
                for start in range(0, len(keys), 500):
                    part = keys[start : start + 500]
                    rows.update(((kind, r.id), r) for r in s.scalars(select(model).where(model.id.in_(part))))
            for w in batch:
                row = w.apply(s, rows.get((w.kind, w.key)))
                if row is not None:
                    rows[(w.kind, w.key)] = row
        self.batches += 1
