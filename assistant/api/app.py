"""The FastAPI application: routers, auth, error handling.

``create_app`` receives a built ``Container`` (the composition root) and reads nothing
from the environment itself, so the CLI, the chat UI (which mounts this app later) and
tests each decide where settings come from. Run it with a single uvicorn worker: the
embedded store can be opened by one process only.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from assistant.api import ask, openai_compat, search
from assistant.api.auth import TokenVerifier, bearer_token, catalog_token_verifier
from assistant.api.deps import Services
from assistant.api.errors import ApiError, CatchAllMiddleware, install_error_handlers
from assistant.api.metrics_route import install_metrics
from assistant.api.store_health import StoreHealth
from assistant.container import Container


def create_app(
    container: Container, *, answerer: Any = None, retriever: Any = None,
    token_verifier: TokenVerifier | None = None,
) -> FastAPI:
    """Build the app; ``answerer``/``retriever``/``token_verifier`` replace the real ones in tests.

    Nothing heavy happens here: the catalog opens on the first authenticated request and
    the model and store on the first question.
    """
    app = FastAPI(
        title="Sourcewise",
        description="Answers about your code and docs, with citations. "
        "Every route but /healthz needs `Authorization: Bearer <token>`.",
        version="0.1.0",
        # The schema and its viewer need a caller too (``_docs``): not FastAPI's open defaults.
        docs_url=None, redoc_url=None, openapi_url=None,
    )
    app.state.services = Services(container, answerer=answerer, retriever=retriever)
    app.state.started_at = int(time.time())
    app.state.verify_token = token_verifier or catalog_token_verifier(container)

    install_error_handlers(app)
    app.add_middleware(CatchAllMiddleware, max_body_bytes=container.settings.api.max_body_bytes)
    app.include_router(ask.router)
    app.include_router(search.router)
    app.include_router(openai_compat.router)

    store_health = _store_health(container)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness, without auth (for load balancers): 200 while the process runs. With a
        Qdrant server it also says whether the store answers (``"store": "down"`` and status
        ``degraded`` while it does not: questions get a 503 then, and the app stays up). Async,
        and the probe has its own thread, so it never waits behind requests busy answering."""
        if store_health is None:
            return {"status": "ok"}
        up = await store_health.up()
        return {"status": "ok" if up else "degraded", "store": "up" if up else "down"}

    install_metrics(app, container)  # /metrics for an admin's token, or on metrics.bind
    _docs(app)
    return app


def _docs(app: FastAPI) -> None:
    """``/openapi.json`` and ``/docs`` for a caller with an API token, or a signed-in browser
    (``app.state.docs_viewer``, set by the chat server); 401 for anyone else."""

    async def viewer(request: Request) -> None:
        token = bearer_token(request.headers.get("authorization"))
        if token is not None and await run_in_threadpool(request.app.state.verify_token, token) is not None:
            return
        browser = getattr(request.app.state, "docs_viewer", None)
        if browser is not None and await browser(request) is not None:
            return
        raise ApiError(401, "sign in, or send 'Authorization: Bearer <token>', to read the API's schema",
                       type_="authentication_error", code="missing_api_key", headers={"WWW-Authenticate": "Bearer"})

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> JSONResponse:
        await viewer(request)
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        await viewer(request)
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Sourcewise API")


def _store_health(container: Container) -> StoreHealth | None:
    """A probe of the Qdrant server (``store.backend = server``); none for the embedded store."""
    if container.settings.store.backend != "server":
        return None

    def probe() -> None:
        ping = getattr(container.store, "ping", None)
        if ping is not None:
            ping()

    return StoreHealth(probe)
