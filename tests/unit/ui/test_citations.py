"""What a cited source shows: line numbers, where it lives, age, stale badge; markup stays text."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tests.unit.api.conftest import make_answer, make_passage
from ui.citations import answer_metadata, citation_markdown, escape_md, numbered


def test_side_panel_shows_location_lines_age_owner_link_and_badge() -> None:
    p = make_passage(start=41, end=42, text="def retry():\n    pass", url="https://git.example.com/app/retry.py#L41",
                     status="deprecated", stale_reason="replaced by `retry_v2`")
    md = citation_markdown(3, p, now=datetime(2024, 2, 9, tzinfo=UTC))
    assert "[3] `app@aaaaaaaaaaaa:payments/retry.py#L41-L42`" in md
    assert "41 | def retry():" in md and "42 |     pass" in md
    assert "updated 2024-01-10 (29 days ago)" in md
    assert "[open in browser](https://git.example.com/app/retry.py#L41)" in md
    assert "**DEPRECATED**" in md and "retry\\_v2" in md and "owner @payments\\-team" in md


def test_markup_in_sources_and_names_is_inert() -> None:
    hostile = '<script>alert(1)</script> ``` </code> [x](javascript:alert(1))'
    p = make_passage(text=hostile, title=hostile, symbol=None, owner="<img src=x onerror=alert(1)>",
                     url="javascript:alert(1)", status="stale", stale_reason="<b>boom</b>")
    md = citation_markdown(1, p)
    body_fence = "````"  # longer than the ``` inside the text, so the text cannot close it
    assert f"\n{body_fence}python\n" in md and md.rstrip().endswith(body_fence)
    outside = md.split(f"\n{body_fence}python\n")[0]
    assert not re.search(r"(?<!\\)<", outside)  # every < is escaped: shown, not parsed as HTML
    assert "](javascript" not in outside and "\\[x\\]" in outside  # the link is text, not a link
    assert escape_md("<b>") == "\\<b\\>"


def test_numbered_keeps_real_line_numbers() -> None:
    assert numbered("a\nb", 9) == " 9 | a\n10 | b"


def test_step_metadata_keeps_the_interaction_and_cited_sources() -> None:
    meta = answer_metadata(make_answer())
    assert meta["interaction_id"] == 42
    assert [c["n"] for c in meta["citations"]] == [1, 2] and meta["citations"][1]["status"] == "stale"
