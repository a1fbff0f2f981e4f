"""``POST /api/ask``: a cited answer as JSON, or as server-sent events.

The stream is ``delta`` events (text as it is generated), one ``answer`` event (the
validated answer: its text may differ from the deltas when invalid citations were
removed) and ``done``. A failure after the stream began becomes an ``error`` event,
since the status line has already been sent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from assistant.api.auth import CurrentUser
from assistant.api.deps import ServicesDep, query_filters
from assistant.api.errors import APOLOGY, interaction_id_of, sourcewise_error_status
from assistant.api.schemas import AnswerOut, AskRequest, answer_json, answer_out
from assistant.api.sse import SSE_HEADERS, SSE_MEDIA_TYPE, prime, sse, wants_sse
from assistant.errors import SourcewiseError

log = logging.getLogger("sourcewise.api")
router = APIRouter(prefix="/api", tags=["ask"])
CHANNEL = "api"


@router.post(
    "/ask",
    response_model=AnswerOut,
    responses={200: {"content": {SSE_MEDIA_TYPE: {}}, "description": "JSON, or SSE when streaming"}},
)
async def ask(
    body: AskRequest, request: Request, user: CurrentUser,
    svc: ServicesDep,
) -> Any:
    """Answer a question with citations (``stream: true`` or ``Accept: text/event-stream`` for SSE)."""
    # The question is checked (empty, too long) by the Answerer, which records refusals too.
    question = body.question
    history = [m.model_dump() for m in body.history]
    filters = query_filters(body.filters)
    if body.stream or wants_sse(request.headers.get("accept")):
        events = await run_in_threadpool(
            lambda: svc.answerer().stream(question, history, user, filters=filters, channel=CHANNEL)
        )
        started = await prime(iter(events))
        return StreamingResponse(_sse_events(started), media_type=SSE_MEDIA_TYPE, headers=SSE_HEADERS)
    answer = await run_in_threadpool(
        lambda: svc.answerer().answer(question, history, user, filters=filters, channel=CHANNEL)
    )
    return answer_out(answer)


def error_payload(exc: Exception) -> dict[str, Any]:
    """What a client is told about a failure in mid-stream (logged when unexpected)."""
    iid = interaction_id_of(exc)
    if isinstance(exc, SourcewiseError):
        status, type_ = sourcewise_error_status(exc)
        message = str(exc)
    else:
        log.exception("unhandled error while streaming an answer (interaction %s)", iid)
        status, type_ = 500, "server_error"
        message = APOLOGY + (f" Interaction id: {iid}." if iid is not None else "")
    payload: dict[str, Any] = {"message": message, "type": type_, "status": status}
    if iid is not None:
        payload["interaction_id"] = iid
    return payload


def _sse_events(events: Iterator[dict[str, Any]]) -> Iterator[str]:
    """Core stream events -> SSE frames (a sync generator: Starlette runs it in a thread)."""
    streamed = False
    try:
        for event in events:
            kind = event.get("type")
            if kind == "delta" and event.get("text"):
                streamed = True
                yield sse({"text": event["text"]}, event="delta")
            elif kind == "answer":
                if not streamed and event["answer"].text:  # e.g. a cached answer: no deltas
                    yield sse({"text": event["answer"].text}, event="delta")
                yield sse(answer_json(event["answer"]), event="answer")
    except Exception as exc:  # noqa: BLE001 - any failure becomes an error event
        yield sse(error_payload(exc), event="error")
    yield sse({}, event="done")
