"""A circuit breaker per model endpoint, so a dead endpoint costs one timeout, not one per question.

Closed: calls go through and failures are counted over a sliding window; ``threshold``
failures within ``window_s`` open it. Open: the endpoint is skipped until ``cooldown_s``
has passed. Half-open: exactly one probe call is let through; its success closes the
circuit, its failure opens it again for another cool-down. State lives in memory, per
process, behind a lock: the server answers questions on several threads at once.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    """One endpoint's circuit. ``clock`` is injectable so tests need not sleep."""

    def __init__(self, threshold: int = 3, window_s: float = 60.0, cooldown_s: float = 30.0, *,
                 clock: Callable[[], float] = time.monotonic, keep_recent: int = 20) -> None:
        self.threshold, self.window_s, self.cooldown_s = threshold, window_s, cooldown_s
        self.clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures: deque[float] = deque()  # times of failures within the window (closed state)
        self._recent: deque[tuple[float, str]] = deque(maxlen=keep_recent)  # (time, reason) for operators
        self._opened_at = 0.0
        self._probe_at: float | None = None  # when the half-open probe was let through
        self.opened = 0  # how many times it opened (telemetry)

    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    def allow(self) -> bool:
        """Whether a call may go to the endpoint now; in half-open, only the one probe may."""
        with self._lock:
            now = self.clock()
            if self._state == CLOSED:
                return True
            if self._state == OPEN:
                if now - self._opened_at < self.cooldown_s:
                    return False
                self._state, self._probe_at = HALF_OPEN, now
                return True
            # half-open: a probe is out; a lost probe (caller vanished) is replaced after a cool-down
            if self._probe_at is None or now - self._probe_at >= self.cooldown_s:
                self._probe_at = now
                return True
            return False

    def success(self) -> None:
        with self._lock:
            if self._state != CLOSED:
                self._state, self._probe_at = CLOSED, None
                self._failures.clear()

    def failure(self, reason: str = "error") -> None:
        with self._lock:
            now = self.clock()
            self._recent.append((now, reason))
            if self._state == HALF_OPEN:
                self._open(now)
                return
            if self._state == OPEN:  # a call that started before it opened
                return
            self._failures.append(now)
            while self._failures and now - self._failures[0] > self.window_s:
                self._failures.popleft()
            if len(self._failures) >= self.threshold:
                self._open(now)

    def _open(self, now: float) -> None:
        self._state, self._opened_at, self._probe_at = OPEN, now, None
        self._failures.clear()
        self.opened += 1

    def snapshot(self) -> dict[str, Any]:
        """State for an operator: ``state``, failures counted, seconds until a probe, recent failures."""
        with self._lock:
            now = self.clock()
            failures = sum(1 for t in self._failures if now - t <= self.window_s)
            retry_in = max(0.0, self.cooldown_s - (now - self._opened_at)) if self._state == OPEN else None
            return {
                "state": self._state, "failures_in_window": failures, "threshold": self.threshold,
                "retry_in_s": None if retry_in is None else round(retry_in, 1), "opened": self.opened,
                "recent": [{"ago_s": round(now - t, 1), "reason": r} for t, r in reversed(self._recent)],
            }
