"""Citation validation in code: removal, counting, unsupported answers, stale sources."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from assistant.generation.citations import (
    CitationFilter,
    check_citations,
    citations_for,
    humanize_age,
    render_sources,
    stale_warnings,
)
from tests.unit.generation.passages import NOW, passage, retry_passages

THRESHOLDS = {"code": 730, "docs": 365, "wiki": 365}


def test_citations_to_missing_passages_are_removed_and_counted() -> None:
    check = check_citations("Retries happen in the retrier [1][7]. Deploys need approval [2, 9]. See [12].", 3)
    assert check.text == "Retries happen in the retrier [1]. Deploys need approval [2]. See."
    assert check.removed == 3
    assert check.used == (1, 2)
    assert check.supported


def test_answer_with_no_valid_citation_is_unsupported() -> None:
    check = check_citations("Payments are retried five times [4]. [0]", 3)
    assert check.text == "Payments are retried five times."
    assert check.removed == 2 and check.used == () and not check.supported
    assert not check_citations("No sources mention this.", 3).supported


def test_code_is_not_mistaken_for_citations() -> None:
    text = "Use `items[1]` here [1].\n```python\nx = cache[7]\n```\nand [Source 2]."
    check = check_citations(text, 2)
    assert "`items[1]`" in check.text and "x = cache[7]" in check.text
    assert check.text.endswith("and [2].")
    assert check.removed == 0 and check.used == (1, 2)


@pytest.mark.parametrize("seed", range(20))
def test_stream_filter_agrees_with_whole_text_check(seed: int) -> None:
    text = ("The retrier [1] backs off [2][5]. Inline `a[3]` stays.\n\n```py\nb = c[9]\n```\n"
            "Config [Source 3, 8] and [10]; also [1, 2].\nlast line [4]")
    rng = random.Random(seed)
    f, out, i = CitationFilter(3), [], 0
    while i < len(text):
        j = i + rng.randint(1, 7)
        out.append(f.feed(text[i:j]))
        i = j
    out.append(f.flush())
    whole = check_citations(text, 3)
    assert "".join(out) == whole.text
    assert (f.used, f.removed) == (whole.used, whole.removed) == ((1, 2, 3), 4)


def test_stream_filter_holds_back_only_a_possible_citation() -> None:
    f = CitationFilter(2)
    assert f.feed("Retries are in the retrier ") == "Retries are in the retrier"
    assert f.feed("[") == ""
    assert f.feed("9] and") == ""  # " [9]" dropped; "and" may still be followed by more
    assert f.feed(" more") == " and"


def test_close_ends_an_open_code_fence() -> None:
    f = CitationFilter(1)
    out = f.feed("Here:\n```python\nx = 1") + f.close()
    assert out == "Here:\n```python\nx = 1\n```\n"
    assert f.feed("after [1]\n") == "after [1]\n" and f.used == (1,)


def test_old_and_flagged_sources_are_named() -> None:
    ps = retry_passages()  # docs/deploy.md is 800 days old
    deprecated = passage(4, "docs/old-retry.md", "Use the v1 retrier.", kind="docs", status="deprecated",
                         stale_reason="superseded by docs/retry.md", age_days=5)
    fresh_wiki = passage(5, "Wiki/Retry", "x", kind="wiki", age_days=30)
    cited = [(1, ps[0]), (2, ps[1]), (2, ps[1]), (4, deprecated), (5, fresh_wiki)]
    warnings = stale_warnings(cited, THRESHOLDS, NOW)
    assert warnings == [
        f"docs/deploy.md was last changed 2 years ago ({(NOW - timedelta(days=800)).date()}) [2].",
        "docs/old-retry.md is marked deprecated (superseded by docs/retry.md) [4].",
    ]
    stale_code = passage(6, "lib/legacy.py", "x", status="stale", age_days=1)
    assert stale_warnings([(1, stale_code)], THRESHOLDS, NOW) == ["lib/legacy.py is marked stale [1]."]
    assert stale_warnings([(1, ps[1])], {"docs": 1000}, NOW) == []


@pytest.mark.parametrize(("days", "text"), [(0.2, "less than a day"), (1, "1 day"), (45, "45 days"),
                                            (200, "7 months"), (400, "1 year"), (800, "2 years")])
def test_humanize_age(days: float, text: str) -> None:
    assert humanize_age(days) == text


def test_render_sources_lists_citation_kind_and_age() -> None:
    ps = retry_passages()
    out = render_sources(citations_for((2, 1), ps), NOW)
    assert out.splitlines()[0] == "Sources:"
    assert out.splitlines()[1].startswith("[2] payments@0123456789ab:docs/deploy.md#L1-L")
    assert "2 years ago" in out.splitlines()[1]
    assert render_sources((), NOW) == ""
