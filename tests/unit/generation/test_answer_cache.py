"""The answer cache: what its key separates, LRU bound, TTL."""

from __future__ import annotations

from typing import Any

from assistant.answer_cache import AnswerCache, cache_key
from assistant.models import Answer

BASE: dict[str, Any] = dict(
    question="where do we retry failed payments?", history=[], filters={}, groups=["eng", "everyone"],
    index_version="r1:x:d10:y", generator="openai", model="m", prompt_version="answer-v1",
)


def _answer(text: str = "a") -> Answer:
    return Answer(text=text, citations=(), passages=(), supported=False, generator="extractive")


def test_key_is_stable_for_the_same_request() -> None:
    assert cache_key(**BASE) == cache_key(**BASE | {"question": "  where do we retry   failed payments? "})
    assert cache_key(**BASE) == cache_key(**BASE | {"groups": ["everyone", "eng"]})


def test_every_part_of_the_key_separates_answers() -> None:
    variants = [
        {"question": "where do we retry refunds?"},
        {"history": [{"role": "user", "content": "hi"}]},
        {"filters": {"repos": ["payments"]}},
        {"groups": ["everyone"]},
        {"groups": None},  # admin
        {"index_version": "r2:x:d11:y"},
        {"generator": "extractive"},
        {"model": "other"},
        {"prompt_version": "answer-v2"},
    ]
    keys = {cache_key(**BASE | v) for v in variants} | {cache_key(**BASE)}
    assert len(keys) == len(variants) + 1


def test_hits_misses_and_lru_eviction() -> None:
    cache = AnswerCache(max_entries=2)
    assert cache.get("a") is None
    cache.put("a", _answer("A"))
    cache.put("b", _answer("B"))
    assert cache.get("a").text == "A"  # type: ignore[union-attr]
    cache.put("c", _answer("C"))  # evicts b, the least recently used
    assert cache.get("b") is None and cache.get("c") is not None and cache.get("a") is not None
    assert (cache.hits, cache.misses) == (3, 2)


def test_ttl_expires_entries_and_size_zero_disables() -> None:
    now = [0.0]
    cache = AnswerCache(max_entries=10, ttl_s=60, clock=lambda: now[0])
    cache.put("k", _answer())
    now[0] = 59
    assert cache.get("k") is not None
    now[0] = 61
    assert cache.get("k") is None and len(cache) == 0
    off = AnswerCache(max_entries=0)
    off.put("k", _answer())
    assert off.get("k") is None
