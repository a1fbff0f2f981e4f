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


def test_near_identical_questions_share_a_key() -> None:
    same = [
        "Where do we retry failed payments?",
        "where do we retry failed payments",
        "  WHERE do we retry,  failed payments?? ",
        "Where do we retry failed payments ?",
    ]
    keys = {cache_key(**BASE | {"question": q}) for q in same}
    # "WHERE" is all capitals: kept as written (it could be a constant), so one key more
    assert len(keys) == 2 and cache_key(**BASE) in keys
    assert cache_key(**BASE | {"question": "what does `Foo.bar` do?"}) == \
        cache_key(**BASE | {"question": "What does Foo.bar do"})
    assert cache_key(**BASE | {"question": "repo:web repo:api how do we retry?"}) == \
        cache_key(**BASE | {"question": "how do we retry Repo:api repo:web"})


def test_identifiers_keep_their_case_and_punctuation() -> None:
    pairs = [
        ("what does Foo.bar do?", "what does foobar do?"),
        ("what does fooBar do?", "what does foobar do?"),
        ("where is MAX_RETRIES set?", "where is max_retries set?"),
        ("is HTTP used?", "is http used?"),
        ("what does foo_bar do?", "what does foobar do?"),
        ("what does run() do?", "what does run do?"),
        ("what does --full do?", "what does full do?"),
        ("path:src/*.py where?", "where?"),
    ]
    for a, b in pairs:
        assert cache_key(**BASE | {"question": a}) != cache_key(**BASE | {"question": b}), (a, b)


def test_filter_order_does_not_matter_but_values_do() -> None:
    a = cache_key(**BASE | {"filters": {"repos": ["web", "api"], "kinds": ["code"]}})
    assert a == cache_key(**BASE | {"filters": {"kinds": ["code"], "repos": ["api", "web", "api"]}})
    assert a != cache_key(**BASE | {"filters": {"repos": ["api"], "kinds": ["code"]}})


def test_normalised_questions_never_cross_access_groups() -> None:
    """Two users who ask "the same" question in different words but belong to different
    groups never share an entry; neither does an admin and a user."""
    eng = cache_key(**BASE | {"question": "Where do we retry failed payments?", "groups": ["eng", "everyone"]})
    ops = cache_key(**BASE | {"question": "where do we retry failed payments", "groups": ["ops", "everyone"]})
    admin = cache_key(**BASE | {"question": "where do we retry failed payments", "groups": None})
    assert len({eng, ops, admin}) == 3
    assert eng == cache_key(**BASE | {"question": "where do we retry failed payments",
                                      "groups": ["everyone", "eng"]})
