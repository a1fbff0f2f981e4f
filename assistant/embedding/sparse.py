"""Code-aware lexical terms as a Qdrant sparse vector (IDF applied by the engine).

``HttpClient.send`` yields ``httpclient.send``, ``httpclient``, ``send``, ``http``,
``client``; ``payments/retry_policy.py`` yields its parts and their sub-words. Document
values are BM25-saturated term frequencies; the engine multiplies by IDF at query time.

Adjacent word pairs (``"extra item"``, ``"collect only"`` from ``--collect-only``) are
terms too: an error message or option a developer pastes is made of common words, and
only their order makes it unique to the line that prints or defines it.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable

from assistant.models import SparseVector

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_PATH_SPLIT = re.compile(r"[/\\.\-_\s]+")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
# ``[\w.\-]+/[\w./\-]+`` as findall sees it, in linear time: the lookbehind starts an
# attempt only where a run begins (an attempt inside a run ends where the run's does, so
# it fails or was consumed just the same), and the possessive run cannot backtrack onto
# a "/" that is not there. The old form re-scanned the run from every position.
_QUERY_PATH = re.compile(r"(?<![\w.\-])[\w.\-]++/[\w./\-]+")

STOPWORDS = frozenset(
    """a an and are as at be by for from has have in is it its of on or that the this to
    was were will with not no but if then else do does did so we you i he she they them
    our your their what which who how when where why can could should would may might""".split()
)
MIN_LEN = 2
MAX_TERM = 64
K1 = 1.2
B = 0.75


def split_identifier(ident: str) -> list[str]:
    """Sub-words of one identifier: snake_case, camelCase, PascalCase, digits."""
    words: list[str] = []
    for part in ident.split("_"):
        words.extend(m.group(0) for m in _CAMEL.finditer(part))
    return [w.lower() for w in words if w]


def terms(text: str) -> list[str]:
    """All lexical terms of a text, with repeats (term frequency matters)."""
    out: list[str] = []
    for match in _IDENT.finditer(text):
        whole = match.group(0)
        lowered = whole.lower()
        parts = lowered.split(".")
        if len(parts) > 1:
            out.append(lowered)
        for raw in whole.split("."):
            low = raw.lower()
            out.append(low)
            subs = split_identifier(raw)
            if len(subs) > 1:
                out.extend(subs)
    return [t[:MAX_TERM] for t in out if len(t) >= MIN_LEN and t not in STOPWORDS]


def phrases(text: str) -> list[str]:
    """Adjacent word pairs, lowercased, with repeats; stopwords and one-letter words are
    skipped, so ``"is not allowed at module level"`` gives ``"allowed module"`` and
    ``"module level"``. The space keeps them apart from every single term."""
    words = [w for w in (m.group(0).lower() for m in _WORD.finditer(text))
             if len(w) >= MIN_LEN and w not in STOPWORDS]
    return [f"{a} {b}"[:MAX_TERM] for a, b in zip(words, words[1:], strict=False) if a != b]


def path_terms(path: str) -> list[str]:
    """A path's parts and their sub-words, plus the file name whole."""
    out = [path.lower()]
    name = path.rsplit("/", 1)[-1].lower()
    out.append(name)
    for part in _PATH_SPLIT.split(path):
        if part:
            out.append(part.lower())
            subs = split_identifier(part)
            if len(subs) > 1:
                out.extend(subs)
    return [t[:MAX_TERM] for t in out if len(t) >= MIN_LEN and t not in STOPWORDS]


def term_id(term: str) -> int:
    """Stable 32-bit id (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "little")


def _to_vector(weights: dict[int, float]) -> SparseVector:
    items = sorted(weights.items())
    return SparseVector(tuple(i for i, _ in items), tuple(v for _, v in items))


class SparseEncoder:
    """Turns chunk text (plus path and symbol) or a query into a sparse vector."""

    def __init__(self, avg_len: float = 120.0) -> None:
        self.avg_len = avg_len

    def encode_document(self, text: str, extra: Iterable[str] = ()) -> SparseVector:
        counts = Counter(terms(text))
        for term in extra:
            counts[term] += 1
        length = sum(counts.values()) or 1  # single terms only: pairs leave their weights as they were
        counts.update(phrases(text))
        norm = K1 * (1 - B + B * length / self.avg_len)
        weights: dict[int, float] = {}
        for term, tf in counts.items():
            tid = term_id(term)
            weights[tid] = weights.get(tid, 0.0) + tf * (K1 + 1) / (tf + norm)
        return _to_vector(weights)

    def encode_query(self, text: str, phrase_weight: float = 1.0) -> SparseVector:
        """Every distinct term at 1.0 and every word pair at ``phrase_weight`` (0 leaves
        pairs out); the engine's IDF does the rest."""
        weights: dict[int, float] = {}
        if phrase_weight > 0:
            for pair in set(phrases(text)):
                weights[term_id(pair)] = phrase_weight
        for term in set(terms(text)) | set(_query_paths(text)):
            weights[term_id(term)] = 1.0
        return _to_vector(weights)


def _query_paths(text: str) -> list[str]:
    """Path-looking tokens in a query (``payments/retry.py``) as whole-path terms."""
    return [tok.lower() for tok in _QUERY_PATH.findall(text)]
