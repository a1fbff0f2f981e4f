"""``split_doc_id``: the one reading of ``source:path`` keys and ``[SOURCE:]PATH`` specs."""

from __future__ import annotations

import pytest

from assistant.models import split_doc_id


@pytest.mark.parametrize(("text", "expected"), [
    ("pytest:src/_pytest/python.py", ("pytest", "src/_pytest/python.py")),
    ("my-repo.v2:docs/a:b.md", ("my-repo.v2", "docs/a:b.md")),  # the path keeps its own ':'
    ("docs/a:b.md", (None, "docs/a:b.md")),  # a '/' before the ':' means no source prefix
    ("src/x.py", (None, "src/x.py")),
    ("pytest:", (None, "pytest:")),  # nothing after the source is not a path
    ("a b:c.py", (None, "a b:c.py")),  # not a valid source name
    ("café:menu.md", ("café", "menu.md")),  # the rule `source add` enforces: Unicode letters too
])
def test_split_doc_id(text: str, expected: tuple[str | None, str]) -> None:
    assert split_doc_id(text) == expected
