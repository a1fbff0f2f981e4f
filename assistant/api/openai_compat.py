"""OpenAI-compatible ``/v1/chat/completions`` and ``/v1/models``.

So any OpenAI client or IDE assistant can use Sourcewise as a "model". Such clients
only show message text, so the answer's citations are appended to it as a
``Sources:`` list of ``[n] source@commit:path#Lx-Ly`` lines; the structured citations
also ride along in a ``sourcewise`` extension field that strict clients ignore.
Sampling options (temperature, max_tokens, ...) are accepted and ignored: the
configured generator decides.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from assistant.api.ask import error_payload
from assistant.api.auth import CurrentUser
from assistant.api.deps import Message, Services, ServicesDep
from assistant.api.errors import ApiError
from assistant.api.schemas import citation_out
from assistant.api.sse import SSE_HEADERS, SSE_MEDIA_TYPE, prime, sse
from assistant.generation.sanitize import sanitize_markdown
from assistant.models import Answer

router = APIRouter(prefix="/v1", tags=["openai"])
CHANNEL = "openai"


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, top_p, tools, user, ...: ignored

    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=10_000)
    stream: bool = False
    stream_options: StreamOptions | None = None


def message_text(msg: ChatMessage) -> str:
    """Text of a message; content parts other than text (images, audio) are skipped."""
    if isinstance(msg.content, str):
        return msg.content
    return "\n".join(part.text for part in msg.content or [] if part.type == "text" and part.text)


def split_conversation(messages: Sequence[ChatMessage]) -> tuple[str, list[Message]]:
    """The last user message is the question; earlier user/assistant turns the history.

    System prompts are dropped: Sourcewise has its own, and a client's must not override
    how sources are treated. The Answerer keeps only the most recent turns.
    """
    last = messages[-1]
    if last.role != "user":
        raise ApiError(400, f"the last message must be the user's question (got role {last.role!r})",
                       param="messages", code="invalid_messages")
    history = [
        {"role": m.role, "content": text}
        for m in messages[:-1]
        if m.role in ("user", "assistant") and (text := message_text(m).strip())
    ]
    return message_text(last), history


def sources_block(answer: Answer) -> str:
    """The ``Sources:`` list appended to the text; every line shows the source's age."""
    seen: dict[int, str] = {}
    for c in sorted(answer.citations, key=lambda c: c.n):
        if c.n in seen:
            continue
        p = c.passage
        note = f"updated {p.updated_at.date().isoformat()}"
        if p.status != "active":
            note += f", {p.status}"
        seen[c.n] = f"[{c.n}] {p.citation} ({note})"
    # paths are data: shown as text, never rendered (generation.sanitize)
    return "\n\n" + sanitize_markdown("Sources:\n" + "\n".join(seen.values())) if seen else ""


def _estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def usage(answer: Answer, question: str, history: Sequence[Message], content: str) -> dict[str, int]:
    """Token counts from the generator when it reports them, else a chars/4 estimate."""
    tokens = dict(answer.tokens)
    prompt = next((tokens[k] for k in ("prompt_tokens", "prompt", "input_tokens", "input") if k in tokens), None)
    completion = next(
        (tokens[k] for k in ("completion_tokens", "completion", "output_tokens", "output") if k in tokens), None
    )
    if prompt is None:
        prompt = _estimate_tokens(question + "".join(m["content"] for m in history))
    if completion is None:
        completion = _estimate_tokens(content)
    return {"prompt_tokens": int(prompt), "completion_tokens": int(completion),
            "total_tokens": int(prompt) + int(completion)}


def extension(answer: Answer) -> dict[str, Any]:
    """Structured citations and provenance, for clients that know to look."""
    return {
        "interaction_id": answer.interaction_id,
        "citations": [citation_out(c).model_dump(mode="json") for c in answer.citations],
        "supported": answer.supported,
        "stale_warnings": list(answer.stale_warnings),
        "generator": answer.generator,
        "model": answer.model,
        "fallback_reason": answer.fallback_reason,
    }


@router.post("/chat/completions")
async def chat_completions(
    body: ChatCompletionRequest, user: CurrentUser, svc: ServicesDep,
) -> Any:
    """OpenAI chat completion; ``stream: true`` gives ``chat.completion.chunk`` events."""
    question, history = split_conversation(body.messages)  # the Answerer checks the question
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    model_id = svc.api.model_id
    if body.stream:
        events = await run_in_threadpool(
            lambda: svc.answerer().stream(question, history, user, channel=CHANNEL)
        )
        started = await prime(iter(events))
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        chunks = _chunks(started, completion_id, created, model_id, question, history, include_usage)
        return StreamingResponse(chunks, media_type=SSE_MEDIA_TYPE, headers=SSE_HEADERS)
    answer = await run_in_threadpool(lambda: svc.answerer().answer(question, history, user, channel=CHANNEL))
    content = answer.text + sources_block(answer)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model_id,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": usage(answer, question, history, content),
        "sourcewise": extension(answer),
    }


def _chunks(
    events: Iterator[dict[str, Any]], completion_id: str, created: int, model_id: str,
    question: str, history: Sequence[Message], include_usage: bool,
) -> Iterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model_id,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
        return sse(body)

    yield chunk({"role": "assistant", "content": ""})
    streamed: list[str] = []
    try:
        for event in events:
            if event.get("type") == "delta" and event.get("text"):
                streamed.append(event["text"])
                yield chunk({"content": event["text"]})
            elif event.get("type") == "answer":
                answer: Answer = event["answer"]
                tail = ("" if streamed else answer.text) + sources_block(answer)
                if tail:
                    yield chunk({"content": tail})
                yield chunk({}, "stop", sourcewise=extension(answer))
                if include_usage:
                    content = "".join(streamed) + tail
                    yield sse({"id": completion_id, "object": "chat.completion.chunk", "created": created,
                               "model": model_id, "choices": [],
                               "usage": usage(answer, question, history, content)})
    except Exception as exc:  # noqa: BLE001 - any failure becomes an error event
        # OpenAI clients raise APIError on a data line carrying "error"; no [DONE] follows.
        yield sse({"error": error_payload(exc)})
        return
    yield sse("[DONE]")


def model_card(svc: Services, created: int) -> dict[str, Any]:
    info = svc.generator_info()
    return {"id": svc.api.model_id, "object": "model", "created": created, "owned_by": "sourcewise",
            "metadata": {"generator": info["generator"], "generator_model": info["model"]}}


@router.get("/models")
def list_models(request: Request, user: CurrentUser,
                svc: ServicesDep) -> dict[str, Any]:
    """One model: Sourcewise itself (the generator behind it is in ``metadata``)."""
    return {"object": "list", "data": [model_card(svc, request.app.state.started_at)]}


@router.get("/models/{model_id}")
def get_model(model_id: str, request: Request, user: CurrentUser,
              svc: ServicesDep) -> dict[str, Any]:
    if model_id != svc.api.model_id:
        raise ApiError(404, f"the model {model_id!r} does not exist; this server offers {svc.api.model_id!r}",
                       type_="not_found_error", param="model", code="model_not_found")
    return model_card(svc, request.app.state.started_at)
