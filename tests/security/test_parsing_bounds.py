"""Promise 7, first item: a question is bounded in size and parsed in linear time.

Pathological questions (10k ``_``, ``a/`` x 5000, ``.`` x 10000, ``repo:`` x 2000, nested
backticks, one 10k-character token, long unicode runs, ...) go through every parser a
question meets: filter parsing, identifier and path keys, the dense readings, sparse
terms, the follow-up condenser, extractive scoring, and the citation and markup filters
an answer meets. The measure is deterministic, not a clock (``tests.security.regex_work``):
regex calls weighted by what their pattern may cost, plus Python lines run. Each parser
gets the same text at n and 4n characters; both measures must grow about 4x, where a
quadratic parser grows 16x. Before this change ``question_path_keys`` alone spent
seconds of GIL-held CPU on 10k underscores (``_Q_PATH`` re-scanning from every position).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from assistant.embedding import sparse
from assistant.embedding.sparse import SparseEncoder
from assistant.generation import citations, condense, extractive, sanitize, text
from assistant.generation.condense import heuristic_standalone
from assistant.generation.extractive import compose
from assistant.retrieval import identifiers, query, views
from tests.security import regex_work
from tests.security.regex_work import BOUNDED, LINEAR, counting
from tests.unit.generation.passages import retry_passages

MODULES = [identifiers, query, views, sparse, text, condense, extractive, citations, sanitize]
# Patterns matched once per line at its start (``.match``): a line's length at most.
for _p in (identifiers._DEF_KEYWORD, views._CHECKBOX, views._FENCE, citations._FENCE, extractive._DEF):
    BOUNDED.setdefault(_p.pattern, 0)
LINEAR.setdefault(condense._FOLLOW_UP.pattern, "a fixed word list behind \\b; '^' only at position 0")
LINEAR.setdefault(r"^([-*+]|\d+[.)])\s+", "anchored at the start of the string")
BOUNDED.setdefault(r"^([-*+]|\d+[.)])\s+", 0)
BOUNDED.setdefault(r"(?i)https?://", 8)

PATHOLOGICAL: dict[str, Callable[[int], str]] = {
    "underscores": lambda n: "_" * n,
    "a-slash": lambda n: "a/" * (n // 2),
    "dots": lambda n: "." * n,
    "repo-colons": lambda n: "repo:" * (n // 5),
    "quoted-filters": lambda n: 'path:"' * (n // 6),
    "backticks": lambda n: "`" * n,
    "nested-backticks": lambda n: ("``a `b` " * n)[:n],
    "one-token": lambda n: "a" * n,
    "unicode": lambda n: "é" * n,
    "dashes": lambda n: "--a" + "-" * (n - 3),
    "receivers": lambda n: "self." * (n // 5),
    "spaces-then-bracket": lambda n: " " * (n - 1) + "[",
    "brackets": lambda n: "[" * n,
    "links": lambda n: ("[a](" * n)[:n],
    "images": lambda n: ("![x](https://evil.example/" * n)[:n],
    "tags": lambda n: ("<a " * n)[:n],
    "urls": lambda n: ("www." * n)[:n],
    "comments": lambda n: "<!--" * (n // 4),
    "checkboxes": lambda n: "- [ ] x\n" * (n // 8),
    "camel": lambda n: "aB" * (n // 2),
    "mixed": lambda n: ("a_b.c/d::e#f() `g` repo:h " * n)[:n],
}

PASSAGES = retry_passages()
PARSERS: dict[str, Callable[[str], Any]] = {
    "parse_query": query.parse_query,
    "identifiers": identifiers.question_identifiers,
    "path_keys": identifiers.question_path_keys,
    "readings": views.readings,
    "sparse_terms": SparseEncoder().encode_query,
    "condense": lambda q: heuristic_standalone(q, [{"role": "user", "content": "where do we retry payments?"}]),
    "extractive": lambda q: compose(q, PASSAGES),
    "citations": lambda q: citations.check_citations(q, 3),
    "markup": lambda q: sanitize.sanitize_markdown(q, ["docs.corp.example"]),
}
N = 2000  # and 4N = 8000, the default question limit


def _work(parser: Callable[[str], Any], question: str) -> regex_work.Work:
    text.stem.cache_clear()
    text._line_terms.cache_clear()
    with counting(MODULES) as work:
        parser(question)
    return work


@pytest.mark.parametrize("family", sorted(PATHOLOGICAL))
@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_work_grows_linearly_with_the_question(parser: str, family: str) -> None:
    make = PATHOLOGICAL[family]
    small, large = _work(PARSERS[parser], make(N)), _work(PARSERS[parser], make(4 * N))
    assert large.lines <= 4.5 * small.lines + 500, (large.lines, small.lines)
    assert large.regex <= 4.5 * small.regex + 50_000, (large.regex, small.regex, _costliest(large))


def _costliest(work: regex_work.Work) -> list[tuple[str, str, int]]:
    """The calls that cost most (for the failure message)."""
    def cost(call: tuple[str, str, int]) -> int:
        w = regex_work.Work()
        w.charge(*call)
        return w.regex
    return sorted(work.calls, key=cost, reverse=True)[:3]


def test_path_keys_are_unchanged_on_ordinary_questions() -> None:
    """The bounded-run scan finds what the whole-text scan found (the benchmark-tuned keys)."""
    q = ("Traceback: File \"/usr/lib/python3.11/site-packages/_pytest/python.py\", line 3, see "
         "sphinx.ext.viewcode and format=\"ascii.rst\" in astropy/io/ascii/rst.py or README.md")
    assert identifiers.question_path_keys(q) == (
        "_pytest/python.py", "site-packages/_pytest/python.py", "python3.11/site-packages/_pytest/python.py",
        "ascii.rst", "ascii/rst.py", "io/ascii/rst.py", "astropy/io/ascii/rst.py", "readme.md", "ext/viewcode",
        "sphinx/ext/viewcode", "ascii/rst", "readme/md")


def test_a_run_longer_than_the_cap_yields_no_path_keys() -> None:
    long = "a/" * identifiers.MAX_TOKEN_CHARS + "b.py"
    assert identifiers.question_path_keys(f"see {long} and x/retry.py") == ("x/retry.py",)
