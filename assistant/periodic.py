"""A task the server repeats on a daemon thread (owner digest, alert checks).

Subclasses implement ``tick`` (one round, never raising: a broken webhook or catalog must
not kill the server's thread) and tests call ``tick`` directly; ``start`` loops it every
``interval_s`` until ``stop``.
"""

from __future__ import annotations

import threading
from typing import Any, Self


class PeriodicTask:
    """``tick`` every ``interval_s`` seconds on a named daemon thread."""

    thread_name = "periodic"

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> Any:
        raise NotImplementedError

    def start(self) -> Self:
        def loop() -> None:
            while not self._stop.wait(self.interval_s):
                self.tick()

        self._thread = threading.Thread(target=loop, daemon=True, name=self.thread_name)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
