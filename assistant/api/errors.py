"""Every failure leaves the API as one JSON error shape; none as a stack trace.

The shape is OpenAI's (``{"error": {"message", "type", "param", "code"}}``) on every
route, so OpenAI clients raise the right exception class and other clients have one
thing to parse. ``SourcewiseError`` messages are written for users and are passed
through; anything else becomes a short apology (with the interaction id when one is
known) and a logged traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.errors import SourcewiseError, StoreError

log = logging.getLogger("sourcewise.api")

APOLOGY = "Sorry, something went wrong while answering; the error was logged."


class ApiError(Exception):
    """An error the API answers with as-is (status, user-facing message, OpenAI type)."""

    def __init__(
        self, status: int, message: str, *, type_: str = "invalid_request_error",
        code: str | None = None, param: str | None = None, headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.headers = dict(headers or {})


def error_body(
    message: str, type_: str, *, code: str | None = None, param: str | None = None,
    interaction_id: int | None = None,
) -> dict[str, Any]:
    err: dict[str, Any] = {"message": message, "type": type_, "param": param, "code": code}
    if interaction_id is not None:
        err["interaction_id"] = interaction_id
    return {"error": err}


def error_response(
    status: int, message: str, type_: str, *, code: str | None = None, param: str | None = None,
    interaction_id: int | None = None, headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = error_body(message, type_, code=code, param=param, interaction_id=interaction_id)
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def sourcewise_error_status(exc: SourcewiseError) -> tuple[int, str]:
    """Store trouble is the service's, not the caller's: 503, so clients retry later."""
    if isinstance(exc, StoreError):
        return 503, "service_unavailable"
    return 400, "invalid_request_error"


def interaction_id_of(exc: BaseException) -> int | None:
    value = getattr(exc, "interaction_id", None)
    return value if isinstance(value, int) else None


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    """Readable ``field: problem`` lines; never echoes the (possibly huge) input back."""
    problems = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return 400, "the request body is not valid JSON"
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
        problems.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
    return 422, "invalid request: " + "; ".join(problems[:10])


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers; unexpected errors are handled by ``CatchAllMiddleware``."""

    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.type, code=exc.code, param=exc.param,
                              headers=exc.headers)

    async def _sourcewise(_: Request, exc: SourcewiseError) -> JSONResponse:
        status, type_ = sourcewise_error_status(exc)
        return error_response(status, str(exc), type_, interaction_id=interaction_id_of(exc))

    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = _validation_message(exc)
        return error_response(status, message, "invalid_request_error")

    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_ = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return error_response(exc.status_code, str(exc.detail), type_, headers=exc.headers)

    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(SourcewiseError, _sourcewise)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]


class _BodyTooLarge(Exception):
    pass


class CatchAllMiddleware:
    """Outermost guard: oversized bodies get 413, unexpected errors a 500 apology.

    A pure ASGI middleware rather than an ``Exception`` handler: Starlette re-raises
    after such a handler, which would log every failure twice. Body size is counted as
    it is read, so chunked uploads without ``Content-Length`` are capped too.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, receive, send)
            return
        started = False
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._too_large(scope, receive, send)
        except Exception as exc:  # the last line of defence: log it, apologise
            iid = interaction_id_of(exc)
            log.exception("unhandled error on %s %s (interaction %s)", scope.get("method"),
                          scope.get("path"), iid)
            if started:
                return  # the stream already began; closing it is all that is left
            message = APOLOGY + (f" Interaction id: {iid}." if iid is not None else "")
            response = error_response(500, message, "server_error", interaction_id=iid)
            await response(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, f"the request body is larger than {self.max_body_bytes} bytes", "invalid_request_error",
            code="request_too_large",
        )
        await response(scope, receive, send)
