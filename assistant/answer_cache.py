"""A bounded in-memory LRU of answers.

The key holds everything that can change an answer: the question, the conversation, the
filters, the caller's access groups (two users must never share an answer built from
sources only one of them may see), the index version (a re-index invalidates), the
generator and model, and the prompt version. Only clean answers are stored: a fallback
after a timeout is transient and must not stick.

The index version also changes when access changes without an index run (a source's
groups or classification, a deprecation, restoration or reassignment, a removal); the
first question after such a change drops every answer of the older version
(``advance``), so an answer quoting a removed or narrowed source does not even stay in
memory.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from assistant.models import Answer


def cache_key(
    *,
    question: str,
    history: Sequence[Mapping[str, str]],
    filters: Mapping[str, Any] | None,
    groups: Sequence[str] | None,
    index_version: str,
    generator: str,
    model: str | None,
    prompt_version: str,
) -> str:
    """A stable digest; ``groups=None`` means an admin (sees everything)."""
    payload = {
        "q": " ".join(question.split()),
        "h": [[m.get("role"), m.get("content")] for m in history],
        "f": filters or {},
        "g": "*admin*" if groups is None else sorted(groups),
        "v": index_version,
        "gen": generator,
        "m": model,
        "p": prompt_version,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=list).encode()).hexdigest()


class AnswerCache:
    def __init__(self, max_entries: int = 256, ttl_s: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, Answer]] = OrderedDict()
        self._lock = threading.Lock()
        self._epoch: str | None = None
        self.hits = 0
        self.misses = 0

    def advance(self, epoch: str) -> None:
        """The current index version; answers cached under an earlier one are dropped."""
        with self._lock:
            if epoch != self._epoch:
                self._items.clear()
                self._epoch = epoch

    def get(self, key: str) -> Answer | None:
        if self.max_entries <= 0:
            return None
        with self._lock:
            item = self._items.get(key)
            if item is None or self._clock() - item[0] > self.ttl_s:
                if item is not None:
                    del self._items[key]
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[1]

    def put(self, key: str, answer: Answer) -> None:
        if self.max_entries <= 0:
            return
        with self._lock:
            self._items[key] = (self._clock(), answer)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
