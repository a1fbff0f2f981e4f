"""The freshness histogram and the rendering helpers, on their own (the indexing worker:
``tests/unit/test_worker.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ui.pages.health import histogram
from ui.pages.render import age, safe_url


def test_histogram_buckets_by_age_of_last_change() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    dates = [now - timedelta(days=d) for d in (1, 29, 31, 89, 100, 364, 366, 1094, 1096, 5000)]
    assert [(b.label, b.count) for b in histogram(dates, now)] == \
        [("< 30 d", 2), ("< 90 d", 2), ("< 1 y", 2), ("< 3 y", 2), ("older", 2)]
    assert [b.percent for b in histogram([], now)] == [0.0] * 5


def test_only_web_links_become_hrefs() -> None:
    assert safe_url("https://git.example.com/a") == "https://git.example.com/a"
    assert safe_url("/owners") == "/owners"
    for bad in ("javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x", "//evil.example/x", None):
        assert safe_url(bad) == ""


def test_age_reads_like_a_person_wrote_it() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert age(now - timedelta(days=400), now) == "1 year ago"
    assert age(now - timedelta(hours=5), now) == "5 hours ago"
    assert age(now, now) == "just now" and age(None) == "never"
