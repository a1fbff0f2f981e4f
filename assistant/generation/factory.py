"""The one place a generator is chosen from settings (used by ``build_answerer``)."""

from __future__ import annotations

from assistant.generation.base import Generator
from assistant.generation.extractive import ExtractiveGenerator
from assistant.settings import GenerationSettings


def build_generator(cfg: GenerationSettings) -> Generator:
    """The one place a generator is chosen from settings."""
    if cfg.generator == "openai":
        from assistant.generation.openai import OpenAIGenerator

        return OpenAIGenerator(
            base_url=cfg.base_url, model=cfg.model,
            api_key=cfg.api_key.get_secret_value() if cfg.api_key else None, timeout_s=cfg.timeout_s,
            max_retries=cfg.max_retries, temperature=cfg.temperature, max_tokens=cfg.max_tokens,
            context_window=cfg.context_window, stream_usage=cfg.stream_usage,
            max_source_chars=cfg.max_source_chars, max_history=cfg.max_history_messages,
        )
    if cfg.generator == "llamacpp":
        from assistant.generation.llamacpp import LlamaCppGenerator

        return LlamaCppGenerator(
            model=cfg.model, n_ctx=cfg.llamacpp_n_ctx, n_threads=cfg.llamacpp_threads,
            temperature=cfg.temperature, max_tokens=cfg.max_tokens, timeout_s=cfg.timeout_s,
            max_source_chars=cfg.max_source_chars, max_history=cfg.max_history_messages,
        )
    return ExtractiveGenerator()
