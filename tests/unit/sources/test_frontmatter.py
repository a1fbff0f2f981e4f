"""Front matter parsing, field normalisation and HTML-to-text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from assistant.errors import ItemError
from indexers.sources.frontmatter import (
    decode_html,
    front_matter_fields,
    html_to_text,
    split_front_matter,
)
from indexers.sources.text import decode_text


def test_split_front_matter_returns_mapping_and_body() -> None:
    text = "---\nowner: alice\nlast_reviewed: 2024-03-01\ntags: [a, b]\n---\n# Title\n\nBody.\n"
    meta, body = split_front_matter(text)
    assert meta == {"owner": "alice", "last_reviewed": date(2024, 3, 1), "tags": ["a", "b"]}
    assert body == "# Title\n\nBody.\n"


def test_split_front_matter_accepts_dot_terminator_and_empty_block() -> None:
    assert split_front_matter("---\ntitle: X\n...\nbody") == ({"title": "X"}, "body")
    assert split_front_matter("---\n---\nbody") == ({}, "body")


@pytest.mark.parametrize(
    "text",
    [
        "# No front matter\n",
        "---\nowner: [alice\n---\nbody\n",  # malformed YAML
        "---\nTitle\n---\n\nRST overline title, not YAML\n",  # scalar, not a mapping
        "---\n- a\n- b\n---\nbody\n",  # a list, not a mapping
        "---\nowner: alice\nno closing delimiter\n",
        "intro\n---\nowner: alice\n---\n",  # not at the top
    ],
)
def test_split_front_matter_leaves_non_front_matter_alone(text: str) -> None:
    assert split_front_matter(text) == ({}, text)


def test_front_matter_fields_normalises_owner_forms() -> None:
    assert front_matter_fields({"owner": " alice "})["owner"] == "alice"
    assert front_matter_fields({"owner": ["alice", "bob", ""]})["owner"] == "alice, bob"
    assert front_matter_fields({"owners": ["team-atlas"]})["owner"] == "team-atlas"
    assert front_matter_fields({"owner": ""})["owner"] is None
    assert front_matter_fields({"owner": {"name": "x"}})["owner"] is None
    assert front_matter_fields({})["owner"] is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2024, 3, 1), datetime(2024, 3, 1, tzinfo=UTC)),
        (datetime(2024, 3, 1, 9, 30), datetime(2024, 3, 1, 9, 30, tzinfo=UTC)),
        (
            datetime(2024, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=2))),
            datetime(2024, 3, 1, 7, 30, tzinfo=UTC),
        ),
        ("2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),
        ("2024-03-01T10:00:00Z", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01T10:00:00-05:00", datetime(2024, 3, 1, 15, tzinfo=UTC)),
        ("2024/03/01", datetime(2024, 3, 1, tzinfo=UTC)),
        ("March 1, 2024", datetime(2024, 3, 1, tzinfo=UTC)),
        ("last spring", None),
        ("", None),
        (42, None),
        (None, None),
    ],
)
def test_front_matter_fields_last_reviewed_is_utc(value: object, expected: datetime | None) -> None:
    got = front_matter_fields({"last_reviewed": value})["last_reviewed"]
    assert got == expected
    if got is not None:
        assert got.utcoffset() == timedelta(0)


def test_front_matter_fields_title_and_deprecated() -> None:
    fields = front_matter_fields({"title": "  Deploying  ", "deprecated": "yes"})
    assert fields["title"] == "Deploying"
    assert fields["deprecated"] is True
    assert front_matter_fields({"title": 2024})["title"] == "2024"
    assert front_matter_fields({"deprecated": False})["deprecated"] is False
    assert front_matter_fields({"deprecated": "no"})["deprecated"] is False
    assert front_matter_fields({})["deprecated"] is False
    assert front_matter_fields({})["title"] is None


HTML = """<!DOCTYPE html>
<html><head><title> Deploy   guide | Docs </title><style>body { color: red }</style>
<script>window.track("page")</script></head>
<body>
<nav><a href="/">Home</a> <a href="/guide">Guide</a></nav>
<h1>Deploying services</h1>
<p>Every service ships on the
   <b>release train</b>.<br>Twice a day.</p>
<h2>Steps</h2>
<ol><li>Tag the release</li>
<li>Watch the <a href="/canary">canary</a></li></ol>
<pre>deployctl promote SERVICE
    --wait</pre>
<table><tr><th>Env</th><th>Approver</th></tr>
<tr><td>prod</td><td>owner</td></tr></table>
<!-- build 1234 -->
<script>alert(1)</script>
</body></html>"""


def test_html_to_text_keeps_headings_as_markdown_and_drops_noise() -> None:
    text, title = html_to_text(HTML)
    assert title == "Deploy guide | Docs"
    assert text == (
        "# Deploying services\n"
        "\n"
        "Every service ships on the release train.\n"
        "Twice a day.\n"
        "\n"
        "## Steps\n"
        "\n"
        "- Tag the release\n"
        "- Watch the canary\n"
        "\n"
        "```\n"
        "deployctl promote SERVICE\n"
        "    --wait\n"
        "```\n"
        "\n"
        "Env | Approver\n"
        "prod | owner\n"
    )


def test_html_to_text_without_title_or_text() -> None:
    assert html_to_text("<html><body><script>x()</script></body></html>") == ("", None)
    assert html_to_text("plain words") == ("plain words\n", None)


def test_html_to_text_deeply_nested_markup_is_an_item_error() -> None:
    html = "<div>" * 3000 + "deep" + "</div>" * 3000
    with pytest.raises(ItemError) as info:
        html_to_text(html)
    assert info.value.reason == "unparseable"


def test_decode_html_accepts_one_long_line_but_not_binary() -> None:
    long_line = ("<p>" + "word " * 40 + "</p>") * 200
    with pytest.raises(ItemError, match="average line"):
        decode_text(long_line.encode(), 1_000_000)
    assert decode_html(long_line.encode(), 1_000_000) == long_line
    with pytest.raises(ItemError) as info:
        decode_html(b"<p>\x00\x01</p>", 1_000_000)
    assert info.value.reason == "binary"
