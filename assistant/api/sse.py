"""Server-sent events: framing, and starting a stream so early errors stay HTTP errors."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")

SSE_MEDIA_TYPE = "text/event-stream"
# no-cache so proxies pass events through; X-Accel-Buffering stops nginx buffering them.
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_END = object()


def sse(data: str | Mapping[str, Any], event: str | None = None) -> str:
    """One SSE frame; a mapping is sent as compact JSON (one ``data:`` line)."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    lines = [f"event: {event}"] if event else []
    lines.extend(f"data: {line}" for line in payload.split("\n"))
    return "\n".join(lines) + "\n\n"


def wants_sse(accept: str | None) -> bool:
    """Whether an ``Accept`` header asks for an event stream."""
    return bool(accept) and SSE_MEDIA_TYPE in accept.lower()  # type: ignore[union-attr]


async def prime(events: Iterator[T]) -> Iterator[T]:
    """Run a blocking iterator up to its first item, off the event loop.

    Retrieval and input checks happen before the first event, so their errors surface
    here, while a proper 4xx/5xx response can still be sent instead of a 200 stream.
    """
    first = await run_in_threadpool(next, events, _END)
    if first is _END:
        return iter(())
    return itertools.chain([first], events)  # type: ignore[list-item]
