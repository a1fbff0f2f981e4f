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
memory. Owner actions that change what an answer says about a source (a finding
dismissed, a flag dismissed or fixed, a deprecation) move the index version too
(``assistant.access.access_epoch``).

Near-identical questions share an entry (``normalise_question``): case of ordinary words,
whitespace, punctuation, the order of filter tokens and of the values inside filters.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from assistant.models import Answer


_END_PUNCT = ".,;:!?"
_QUOTES = "`'\""
_FILTER = re.compile(r'(?<!\S)(repo|path|lang|kind):(?:"([^"]*+)"|(\S*+))', re.IGNORECASE)  # retrieval.query's


def _ordinary(word: str) -> bool:
    """A word of prose: letters (an apostrophe allowed), no capital after the first letter."""
    letters = word.replace("'", "").replace("\u2019", "")
    return letters.isalpha() and letters[1:] == letters[1:].lower()


def normalise_question(question: str) -> str:
    """The question as the cache compares it.

    Folded: whitespace; sentence punctuation (``?``, ``,``, a trailing ``.``) and quotes or
    backticks around a word; the case of ordinary words (``Where`` = ``where``); the order of
    ``repo:``/``path:``/``lang:``/``kind:`` tokens (the retriever reads them wherever they stand).

    Kept exactly: anything identifier-like, i.e. with a capital after its first letter, an
    underscore, a digit, a dot, a slash, brackets or other symbols inside it
    (``Foo.bar``, ``fooBar``, ``MAX_RETRIES``, ``HTTP``, ``--full``). Code identifiers are
    case-sensitive, and ``Foo.bar`` and ``foobar`` are different questions: a wrong hit
    returns someone else's answer, while a miss only costs one more retrieval. A lone
    leading capital (``Config``) cannot be told apart from sentence case, so it is folded;
    the sparse retriever matches terms case-insensitively, so both retrieve alike.
    """
    filters = sorted(f"{m.group(1).lower()}:{m.group(0).split(':', 1)[1]}" for m in _FILTER.finditer(question))
    words: list[str] = []
    for token in _FILTER.sub(" ", question).split():
        token = token.rstrip(_END_PUNCT)
        if len(token) > 1 and token[0] in _QUOTES and token[-1] == token[0]:
            token = token[1:-1].rstrip(_END_PUNCT)
        if not token or all(not c.isalnum() for c in token):
            continue  # a lone "?", "-" or "..."
        words.append(token.lower() if _ordinary(token) else token)
    return " ".join(words + filters)


def _canonical_filters(filters: Mapping[str, Any] | None) -> dict[str, Any]:
    """Lists inside filters sorted and de-duplicated: ``repos=[b, a]`` = ``repos=[a, b]``."""
    out: dict[str, Any] = {}
    for key, value in (filters or {}).items():
        if isinstance(value, (list, tuple, set, frozenset)):
            out[key] = sorted({str(v) for v in value})
        else:
            out[key] = value
    return out


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
        "q": normalise_question(question),
        "h": [[m.get("role"), m.get("content")] for m in history],
        "f": _canonical_filters(filters),
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
