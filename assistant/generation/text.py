"""Small text helpers shared by the extractive generator and the heuristic condenser.

Question terms are matched against code and prose the way developers write them:
``HttpClient.send`` also matches ``send`` and ``http``; ``retries`` matches ``retry``.
"""

from __future__ import annotations

import re
from functools import lru_cache

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:[./-][A-Za-z_][A-Za-z0-9_]*)*|\d{2,}")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")

STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing done down during each few for from
    further get gets got had has have having he her here hers him his how i if in into is it its
    itself just me more most my no nor not now of off on once only or other our ours out over own
    same she should so some such than that the their theirs them then there these they this those
    through to too under until up use used uses using very was we were what when where which while
    who whom why will with would you your yours find show tell explain work works happen happens
    thing things code file files function functions method way please want need know like make
    made does did able let lets one two new py js ts tsx jsx md rst rb rs cpp hpp kt cs txt""".split()
)


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """A crude suffix stripper: enough for retries/retry, handling/handler/handle."""
    w = word.lower()
    for suffix, repl in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ers", ""), ("er", ""), ("ed", ""),
                         ("es", ""), ("s", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and not w.endswith("ss"):
            w = w[: -len(suffix)] + repl
            break
    return w[:-1] if w.endswith("e") and len(w) > 4 else w


def split_identifier(ident: str) -> list[str]:
    """``HttpClient.send`` -> [http, client, send]; ``RETRY_LIMIT`` -> [retry, limit]."""
    parts: list[str] = []
    for piece in re.split(r"[._/\-]+", ident):
        parts.extend(m.group(0).lower() for m in _CAMEL.finditer(piece))
    return parts


def is_identifier_like(token: str) -> bool:
    """Tokens a developer typed as code: dotted, snake_case, camelCase, CONSTANT or a path."""
    return bool(
        re.search(r"[._/]", token.strip("._/-"))
        or re.search(r"[a-z][A-Z]", token)
        or (token.isupper() and len(token) > 2)
    )


def terms(text: str) -> dict[str, float]:
    """Stemmed search terms with weights; identifier parts weigh more than plain words."""
    out: dict[str, float] = {}
    for m in _IDENT.finditer(text):
        token = m.group(0)
        weight = 2.0 if is_identifier_like(token) else 1.0
        for part in split_identifier(token) or [token.lower()]:
            if part in STOPWORDS or len(part) < 2:
                continue
            s = stem(part)
            out[s] = max(out.get(s, 0.0), weight)
    return out


def compounds(text: str) -> list[tuple[str, str, str]]:
    """Adjacent plain words that code and docs often write as one: roll back -> rollback.

    Returns ``(compound, first, second)`` stems; a source containing the compound
    mentions both words.
    """
    words = re.findall(r"[A-Za-z]+", text)
    out = []
    for a, b in zip(words, words[1:], strict=False):
        if a.lower() in STOPWORDS or b.lower() in STOPWORDS or len(a) < 2 or len(b) < 2:
            continue
        out.append((stem(a + b), stem(a), stem(b)))
    return out


def matched_terms(found: set[str], q_terms: dict[str, float], pairs: list[tuple[str, str, str]]) -> set[str]:
    """Question terms a text mentions, directly or through a compound."""
    hit = {t for t in q_terms if t in found}
    for comp, a, b in pairs:
        if comp in found:
            hit |= {a, b} & q_terms.keys()
    return hit


def exact_identifiers(text: str) -> list[str]:
    """Identifiers typed as code (``RETRY_LIMIT``, ``retry.py``), matched case-sensitively."""
    return [m.group(0).strip("./-") for m in _IDENT.finditer(text) if is_identifier_like(m.group(0))]


def line_terms(line: str) -> frozenset[str]:
    """Stemmed terms of a line of code or prose; a text's terms are the union of its lines'.

    Cached: an answer scores the same passage lines several times, and popular passages
    come back question after question (a quarter of an extractive answer's time before)."""
    return _line_terms(line)


@lru_cache(maxsize=65_536)
def _line_terms(line: str) -> frozenset[str]:
    found: set[str] = set()
    for m in _IDENT.finditer(line):
        for part in split_identifier(m.group(0)):
            found.add(stem(part))
    return frozenset(found)


def text_terms(text: str) -> frozenset[str]:
    """``line_terms`` of a whole text, line by line (so the per-line cache serves it)."""
    return frozenset().union(*(line_terms(line) for line in text.splitlines()))
