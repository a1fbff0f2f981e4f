"""Generator for any OpenAI-compatible chat endpoint: vLLM, Ollama, llama.cpp, a gateway.

Built on llama-index's ``OpenAILike`` (chat mode) with an ``openai.OpenAI`` client we
construct ourselves, because ``OpenAILike`` alone would (a) retry twice over — its
tenacity decorator *and* the client it builds both take ``max_retries``, so 2 retries
become up to 6 attempts of ``timeout`` seconds each — and (b) fall back to the
``OPENAI_API_KEY``/``OPENAI_API_BASE`` environment when a key or URL is missing, which
could send private code or a personal key to the wrong endpoint. Our client does the
retries (exponential backoff with jitter, honouring ``Retry-After``) and llama-index's
retry layer is off (``max_retries=0``). Usage and finish reasons come from ``raw``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from assistant.errors import ConfigError
from assistant.generation.base import Generation, GenerationError, Message
from assistant.generation.llm import ChatGenerator, TokenStream

NO_KEY = "sk-no-key-required"


class OpenAIGenerator(ChatGenerator):
    name = "openai"

    def __init__(
        self,
        *,
        base_url: str | None,
        model: str | None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        temperature: float = 0.1,
        max_tokens: int = 1024,
        context_window: int = 8192,
        stream_usage: bool = True,
        max_source_chars: int = 12_000,
        max_history: int = 6,
    ) -> None:
        super().__init__(max_source_chars=max_source_chars, max_history=max_history)
        if not base_url:
            raise ConfigError(
                "generator `openai` needs an endpoint: set SOURCEWISE_GENERATION__BASE_URL "
                "(e.g. http://localhost:11434/v1 for Ollama, http://localhost:8000/v1 for vLLM)"
            )
        if not model:
            raise ConfigError("generator `openai` needs a model name: set SOURCEWISE_GENERATION__MODEL")
        import openai
        from llama_index.llms.openai_like import OpenAILike

        self.model = model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key or NO_KEY, timeout=timeout_s, max_retries=max_retries
        )
        self._llm = OpenAILike(
            model=model, api_base=base_url, api_key=api_key or NO_KEY, is_chat_model=True,
            is_function_calling_model=False, context_window=context_window, max_tokens=max_tokens,
            temperature=temperature, timeout=timeout_s, max_retries=0, reuse_client=True,
            openai_client=self._client,
            additional_kwargs={"stream_options": {"include_usage": True}} if stream_usage else {},
        )

    def _chat(self, messages: list[Message]) -> Generation:
        try:
            response = self._llm.chat(_to_llama(messages))
        except Exception as exc:
            raise self._error(exc) from exc
        raw = response.raw
        choice = _first_choice(raw)
        if choice is None:
            raise GenerationError("malformed", f"{self._where()} returned a response without choices")
        if getattr(choice, "finish_reason", None) == "content_filter" or getattr(choice.message, "refusal", None):
            raise GenerationError("refused", f"{self._where()} refused to answer")
        return Generation(response.message.content or "", _usage(getattr(raw, "usage", None)))

    def _stream_chat(self, messages: list[Message], stream: TokenStream) -> Iterator[str]:
        chunks = 0
        try:
            for chunk in self._llm.stream_chat(_to_llama(messages)):
                raw = chunk.raw
                usage = _usage(getattr(raw, "usage", None))
                if usage:
                    stream.tokens = usage
                elif chunk.delta:
                    chunks += 1
                    if "completion" not in stream.tokens:  # endpoints that never report usage
                        stream.tokens = {"stream_chunks": chunks}
                choice = _first_choice(raw)
                if choice is not None and getattr(choice, "finish_reason", None) == "content_filter":
                    raise GenerationError("refused", f"{self._where()} refused to answer")
                if chunk.delta:
                    yield chunk.delta
        except GenerationError:
            raise
        except Exception as exc:
            raise self._error(exc) from exc

    def _where(self) -> str:
        return f"the model endpoint {self.base_url} ({self.model})"

    def _error(self, exc: Exception) -> GenerationError:
        """Map openai/httpx/parsing failures to a reason the interaction log can count."""
        import openai

        where = self._where()
        if isinstance(exc, openai.APITimeoutError):
            return GenerationError("timeout", f"{where} did not answer within {self.timeout_s:g} s")
        if isinstance(exc, openai.APIConnectionError):
            return GenerationError("unreachable", f"{where} cannot be reached")
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return GenerationError("auth", f"{where} rejected the API key (SOURCEWISE_GENERATION__API_KEY)")
        if isinstance(exc, openai.NotFoundError):
            return GenerationError("not-found", f"{where} does not know this model or path")
        if isinstance(exc, openai.APIStatusError):
            return GenerationError(f"http-{exc.status_code}", f"{where} answered HTTP {exc.status_code}")
        if isinstance(exc, (openai.APIResponseValidationError, json.JSONDecodeError, ValueError, KeyError,
                            IndexError, AttributeError, TypeError)):
            return GenerationError("malformed", f"{where} returned a malformed response ({type(exc).__name__})")
        return GenerationError("error", f"{where} failed: {type(exc).__name__}: {exc}")


def _to_llama(messages: list[Message]) -> list[Any]:
    from llama_index.core.base.llms.types import ChatMessage

    return [ChatMessage(role=m["role"], content=m["content"]) for m in messages]


def _first_choice(raw: Any) -> Any:
    choices = getattr(raw, "choices", None)
    if isinstance(raw, dict):
        choices = raw.get("choices")
    return choices[0] if choices else None


def _usage(usage: Any) -> dict[str, int]:
    if usage is None:
        return {}
    get = usage.get if isinstance(usage, dict) else lambda k: getattr(usage, k, None)
    out = {"prompt": get("prompt_tokens"), "completion": get("completion_tokens"), "total": get("total_tokens")}
    return {k: int(v) for k, v in out.items() if isinstance(v, int)}
