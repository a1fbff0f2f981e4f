from __future__ import annotations

from indexers.chunking.prose import chunk_prose
from tests.unit.chunking.helpers import (
    assert_covers,
    assert_disjoint_in_order,
    assert_line_exact,
)

MARKDOWN = """\
---
title: Ops guide
---

# Deploy

Run the deploy script.

```bash
# not a heading
./deploy.sh
```

## Rollback

Use the previous tag.

Setext Title
============

Body under setext.

Sub Setext
----------

# Empty parent
## Child

text
"""

RST = """\
==========
User Guide
==========

Intro text.

Install
-------

Run pip.

Options
~~~~~~~

Flags here.

Usage
-----

Call it.
"""

ASCIIDOC = """\
= Service Manual

Preamble text.

== Deploy

----
== not a title, inside a listing block
----

=== Rollback

Revert it.
"""


def _layout(chunks):
    return [(c.start_line, c.end_line, c.title) for c in chunks]


def test_markdown_heading_paths_fences_setext_and_front_matter():
    chunks = chunk_prose(MARKDOWN, "markdown")
    assert _layout(chunks) == [
        (1, 12, "Deploy"),  # front matter belongs to the first chunk; '# not a heading' is code
        (14, 16, "Deploy > Rollback"),
        (18, 21, "Setext Title"),
        (23, 24, "Setext Title > Sub Setext"),
        (26, 29, "Empty parent > Child"),  # a heading with nothing under it joins its child
    ]
    assert {c.chunk_kind for c in chunks} == {"section"}
    assert_line_exact(MARKDOWN, chunks)
    assert_covers(MARKDOWN, chunks)


def test_markdown_preamble_before_first_heading_is_its_own_chunk():
    text = "Intro paragraph.\n\n# Title\n\nBody.\n"
    assert _layout(chunk_prose(text, "markdown")) == [(1, 1, None), (3, 5, "Title")]


def test_chain_of_empty_headings_joins_the_first_section_with_text():
    text = "# A\n## B\n### C\n\ntext\n\n## D\n\nmore\n"
    assert _layout(chunk_prose(text, "markdown")) == [(1, 5, "A > B > C"), (7, 9, "A > D")]


def test_markdown_closing_hashes_and_levels_pop_correctly():
    text = "# A #\n\n### Deep ###\n\nx\n\n## B\n\ny\n"
    assert [c.title for c in chunk_prose(text, "markdown")] == ["A > Deep", "A > B"]


def test_rst_titles_with_overline_and_underline_levels():
    chunks = chunk_prose(RST, "rst")
    assert _layout(chunks) == [
        (1, 5, "User Guide"),
        (7, 10, "User Guide > Install"),
        (12, 15, "User Guide > Install > Options"),
        (17, 20, "User Guide > Usage"),
    ]
    assert_line_exact(RST, chunks)


def test_asciidoc_titles_ignore_delimited_blocks():
    chunks = chunk_prose(ASCIIDOC, "asciidoc")
    assert _layout(chunks) == [
        (1, 3, "Service Manual"),
        (5, 9, "Service Manual > Deploy"),
        (11, 13, "Service Manual > Deploy > Rollback"),
    ]


def test_html_headings_best_effort():
    text = "<html><body>\n<h1 class='t'>Guide &amp; Notes</h1>\n<p>Intro</p>\n<h2>Setup</h2>\n<p>Do it</p>\n</body></html>\n"
    assert _layout(chunk_prose(text, "html")) == [
        (1, 1, None),
        (2, 3, "Guide & Notes"),
        (4, 6, "Guide & Notes > Setup"),
    ]


def test_long_section_splits_at_paragraphs_and_keeps_its_title():
    paragraphs = "\n\n".join(
        f"Paragraph {i} explains step {i} of the rollout in a sentence or two." for i in range(60)
    )
    text = f"# Deploy\n\n## Rollout\n\n{paragraphs}\n\n## After\n\nDone.\n"
    chunks = chunk_prose(text, "markdown", max_chars=500)
    rollout = [c for c in chunks if c.title == "Deploy > Rollout"]
    assert len(rollout) >= 8
    assert all(len(c.text) <= 500 for c in chunks)
    lines = text.split("\n")
    for chunk in rollout:
        assert lines[chunk.end_line].strip() == ""  # each part ends at a paragraph end
    assert chunks[-1].title == "Deploy > After"
    assert_covers(text, chunks)
    assert_disjoint_in_order(chunks)
    assert_line_exact(text, chunks)


def test_fenced_block_with_blank_lines_is_not_cut_when_it_fits():
    code = "\n".join(["```python", "def a():", "    return 1", "", "", "def b():",
                      "    return 2", "```"])
    filler = "\n\n".join(f"Sentence number {i} of the intro." for i in range(12))
    text = f"# API\n\n{filler}\n\n{code}\n\nAfter the code.\n"
    chunks = chunk_prose(text, "markdown", max_chars=300)
    holding = [c for c in chunks if "```python" in c.text]
    assert len(holding) == 1 and holding[0].text.count("```") == 2


def test_plain_text_groups_paragraphs():
    text = "\n\n".join(f"Paragraph {i}: " + "words " * 30 for i in range(10)) + "\n"
    chunks = chunk_prose(text, "text", max_chars=600)
    assert len(chunks) >= 4
    assert {c.chunk_kind for c in chunks} == {"text"}
    assert all(c.title is None and len(c.text) <= 600 for c in chunks)
    assert_covers(text, chunks)
    assert_line_exact(text, chunks)


def test_blank_document_gives_no_chunks():
    assert chunk_prose("\n \n", "markdown") == []
