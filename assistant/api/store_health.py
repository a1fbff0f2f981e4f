"""The vector store's state for ``/healthz``: up or down, without ever blocking the route.

Only a Qdrant *server* is probed (the embedded store lives in the process: it is up when
the process is). ``/healthz`` is unauthenticated and polled by load balancers, so:

- the probe runs on a thread of its own (a daemon: a hung server never holds up shutdown),
  never on the worker threads that answer questions (``/healthz`` must answer while they
  are all busy);
- at most one probe is in flight and a result is reused for ``ttl_s``, so a flood of
  ``/healthz`` calls cannot become a flood of requests to Qdrant;
- the route waits at most ``wait_s``: a server that does not answer by then is down;
- the body says only ``up``/``down``; the reason (which names the internal URL) goes to
  the log, not to anonymous callers.

Nothing here is sticky: the next probe after the server returns reports it up.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from assistant.errors import SourcewiseError

log = logging.getLogger("sourcewise.store")


class StoreHealth:
    """Cached, non-blocking ``ping`` of the store (``probe`` raises when it is down)."""

    def __init__(self, probe: Callable[[], None], *, ttl_s: float = 2.0, wait_s: float = 2.0) -> None:
        self._probe = probe
        self._ttl_s = ttl_s
        self._wait_s = wait_s
        self._inflight: Future[bool] | None = None
        self._state: tuple[float, bool] | None = None  # (monotonic time, up)

    async def up(self) -> bool:
        now = time.monotonic()
        if self._state is not None and now - self._state[0] < self._ttl_s:
            return self._state[1]
        if self._inflight is None or self._inflight.done():
            future: Future[bool] = Future()
            threading.Thread(target=lambda: future.set_result(self._run()), name="store-health",
                             daemon=True).start()
            self._inflight = future
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self._inflight)), self._wait_s)
        except TimeoutError:
            return False  # still waiting on the server: not answering is down

    def _run(self) -> bool:
        try:
            self._probe()
            up = True
        except SourcewiseError as exc:
            log.warning("vector store health check failed: %s", exc)
            up = False
        except Exception:  # a probe bug must not take /healthz down with it
            log.exception("vector store health check raised")
            up = False
        self._state = (time.monotonic(), up)
        return up
