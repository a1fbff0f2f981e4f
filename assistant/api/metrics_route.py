"""``/metrics``: the process's Prometheus metrics, for an admin's token or on a separate address.

Two ways to protect it (``metrics.bind``):

- unset: the main app serves ``/metrics`` to a bearer token whose user is an admin.
  Anonymous callers get 401, other users 403, with nothing of the metrics in the body.
  Refusals are audited (``metrics.refused``), at most one row per caller, reason and
  address a minute (the next row counts the ones ``suppressed``), so a flood of bad
  requests cannot bury the audit log; successful scrapes are not audited, since a
  scraper every 15 s would.
- ``host:port``: a second small server, started with the app, serves ``/metrics`` there
  without a token (bind it to an address only Prometheus reaches); the main app then
  has no ``/metrics`` at all (404).

The metrics carry source names (index runs, index age, open owner items): an admin may
know all of them, which is why a non-admin token is refused rather than filtered.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from assistant.api.auth import bearer_token
from assistant.api.errors import ApiError
from assistant.errors import ConfigError
from assistant.metrics import CONTENT_TYPE

log = logging.getLogger("sourcewise.metrics")

ROUTE = "/metrics"
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
AUDIT_EVERY_S = 60.0  # one refusal row per (caller, reason, address) this often
_MAX_KEYS = 4096  # distinct refused callers remembered (oldest forgotten first)


class RefusalThrottle:
    """Decides which refusals get an audit row: the first of a key, then one per window,
    carrying how many were left out since. Bounded memory whatever the traffic."""

    def __init__(self, every_s: float = AUDIT_EVERY_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s = every_s
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, str, str | None], tuple[float, int]] = OrderedDict()

    def admit(self, key: tuple[str, str, str | None]) -> int | None:
        """None: leave this one out; else how many of ``key`` were left out before it."""
        now = self._clock()
        with self._lock:
            last = self._seen.get(key)
            if last is not None and now - last[0] < self.every_s:
                self._seen[key] = (last[0], last[1] + 1)
                return None
            self._seen[key] = (now, 0)
            self._seen.move_to_end(key)
            while len(self._seen) > _MAX_KEYS:
                self._seen.popitem(last=False)
            return last[1] if last is not None else 0


def install_metrics(app: FastAPI, container: Any) -> None:
    """Add ``/metrics`` to ``app`` (or start the separate listener with it); nothing when metrics are off."""
    metrics = getattr(container, "metrics", None)
    if metrics is None or not getattr(metrics, "enabled", False):
        return
    bind = container.settings.metrics.bind
    if bind:
        listener = MetricsListener(metrics, bind, log_level=container.settings.api.log_level)
        app.state.metrics_listener = listener
        app.router.on_startup.append(listener.start)
        app.router.on_shutdown.append(listener.stop)
        return

    throttle = RefusalThrottle()
    app.state.metrics_refusals = throttle

    @app.get(ROUTE, include_in_schema=False)
    async def scrape(request: Request) -> Response:
        await run_in_threadpool(_admit, request, container, throttle)
        return Response(await run_in_threadpool(metrics.render), media_type=CONTENT_TYPE,
                        headers={"Cache-Control": "no-store"})


def _admit(request: Request, container: Any, throttle: RefusalThrottle) -> None:
    """An admin's token passes; anyone else is refused (and the refusal audited, throttled)."""
    token = bearer_token(request.headers.get("authorization"))
    user = request.app.state.verify_token(token) if token is not None else None
    if user is not None and user.is_admin:
        return
    who = user.name if user is not None else "anonymous"
    reason = "missing token" if token is None else "invalid token" if user is None else "not an admin"
    try:
        audit = getattr(container, "audit", None)
        client = request.client.host if request.client else None
        suppressed = throttle.admit((who, reason, client)) if audit is not None else None
        if audit is not None and suppressed is not None:
            details: dict[str, Any] = {"reason": reason, "address": client}
            if suppressed:
                details["suppressed"] = suppressed
            audit.record(who, "metrics.refused", ROUTE, details)
    except Exception:  # noqa: BLE001 - the refusal stands even if the audit row fails
        log.exception("could not audit a refused /metrics request")
    if user is None:
        raise ApiError(401, "send 'Authorization: Bearer <token>' of an admin to read the metrics",
                       type_="authentication_error", code="missing_api_key" if token is None else "invalid_api_key",
                       headers=_CHALLENGE)
    raise ApiError(403, "only an admin's token may read the metrics", type_="permission_error",
                   code="forbidden")


class MetricsListener:
    """``/metrics`` alone on its own address (``metrics.bind``), in a thread of the server process."""

    def __init__(self, metrics: Any, bind: str, *, log_level: str = "warning") -> None:
        host, _, port = bind.rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)
        self.metrics = metrics
        self.log_level = log_level
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def asgi(self) -> Any:
        metrics = self.metrics

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return
            if scope.get("path") == ROUTE and scope.get("method") in ("GET", "HEAD"):
                body, status, ctype = await run_in_threadpool(metrics.render), 200, CONTENT_TYPE
            else:
                body, status, ctype = b"Not Found\n", 404, "text/plain; charset=utf-8"
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", ctype.encode()), (b"cache-control", b"no-store"),
                                    (b"x-content-type-options", b"nosniff")]})
            await send({"type": "http.response.body", "body": body if scope.get("method") != "HEAD" else b""})

        return app

    def start(self) -> None:
        """Bind now (a taken address fails the server's start with advice), then serve in a thread."""
        import uvicorn

        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise ConfigError(f"cannot serve metrics on {self.host}:{self.port} ({exc.strerror}): pick a free "
                              "address in SOURCEWISE_METRICS__BIND, or unset it to serve /metrics with the app") from None
        sock.listen(64)
        config = uvicorn.Config(self.asgi(), log_level=self.log_level, lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="sourcewise-metrics", daemon=True)
        self._thread.start()
        log.info("metrics on http://%s:%s%s", self.host, self.port, ROUTE)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
