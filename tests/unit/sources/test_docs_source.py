"""DocsSource over a realistic docs tree built in tmp_path."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assistant.errors import ItemError, SourceError
from assistant.models import Document, ItemFailure, sha256_text
from indexers.sources.base import Source
from indexers.sources.docs import DocsSource, first_heading, language_for

MTIME = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)

INSTALL_MD = """---
owner: [alice, bob]
last_reviewed: 2024-02-01
---
# Installing the CLI

Run `pip install sourcewise`.
"""

DEPLOY_MD = """---
owner: platform-team
title: Deploying services
deprecated: true
last_reviewed: 2023-12-24T18:00:00+01:00
---
Intro line.

## Steps
"""

REFERENCE_RST = """=============
API reference
=============

.. note:: generated nightly

Endpoints
---------
"""

RUNBOOK_ADOC = """= Database runbook
:toc:

== Failover
Run pgctl failover.
"""

INDEX_HTML = """<html><head><title>Docs home</title><script>track()</script></head>
<body><nav>Home | Guide</nav><h1>Welcome</h1><p>Start here.</p></body></html>"""


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    os.utime(path, (MTIME.timestamp(), MTIME.timestamp()))
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    write(root / "README", "Sourcewise docs\n\nSee guide/.\n")
    write(root / "guide" / "install.md", INSTALL_MD)
    write(root / "guide" / "deploy.md", DEPLOY_MD)
    write(root / "api" / "reference.rst", REFERENCE_RST)
    write(root / "ops" / "runbook.adoc", RUNBOOK_ADOC)
    write(root / "notes.txt", "Loose notes.\n")
    write(root / "site" / "index.html", INDEX_HTML)
    write(root / ".sourcewiseignore", "# drafts are private\ndrafts/\n*.tmp.md\n")
    write(root / "drafts" / "wip.md", "# WIP\n")
    write(root / "scratch.tmp.md", "# scratch\n")
    write(root / "build" / "out.md", "# generated\n")
    write(root / ".git" / "HEAD.md", "# hidden dir\n")
    write(root / ".hidden.md", "# hidden file\n")
    write(root / ".shared" / "faq.md", "# FAQ\n")
    write(root / "logo.png", b"\x89PNG\r\n\x1a\n\x00\x00")
    write(root / "big.md", "# Big\n" + "x" * 3000 + "\n")
    write(root / "binary.md", b"# looks like markdown\x00\x01\x02")
    write(root / "latin1.txt", "caf\xe9 cr\xe8me\n".encode("latin-1"))
    write(root / "empty.md", "---\nowner: nobody\n---\n\n")
    outside = tmp_path / "outside"
    write(outside / "secret.md", "# Secret\n")
    (root / "leak.md").symlink_to(outside / "secret.md")
    (root / "leakdir").symlink_to(outside, target_is_directory=True)
    (root / "alias.md").symlink_to(root / "guide" / "install.md")  # same file twice
    (root / "mirror").symlink_to(root / "guide", target_is_directory=True)  # same dir twice
    (root / "guide" / "loop").symlink_to(root, target_is_directory=True)  # a cycle
    (root / "shared").symlink_to(root / ".shared", target_is_directory=True)
    (root / "dangling.md").symlink_to(root / "gone.md")
    return root


def scan(source: DocsSource) -> tuple[dict[str, Document], dict[str, ItemFailure]]:
    items = list(source.scan())
    docs = {i.path: i for i in items if isinstance(i, Document)}
    failures = {i.path: i for i in items if isinstance(i, ItemFailure)}
    assert len(docs) + len(failures) == len(items)
    return docs, failures


def test_scan_yields_each_doc_once_and_honours_ignores(tree: Path) -> None:
    source = DocsSource("handbook", tree, exclude=["build/"], max_bytes=2000)
    assert isinstance(source, Source)
    docs, _ = scan(source)
    assert sorted(docs) == [
        "README",
        "api/reference.rst",
        "guide/deploy.md",
        "guide/install.md",
        "notes.txt",
        "ops/runbook.adoc",
        "shared/faq.md",
        "site/index.html",
    ]
    assert [i.path for i in source.scan()] == sorted(i.path for i in source.scan())


def test_scan_reports_per_item_failures(tree: Path) -> None:
    _, failures = scan(DocsSource("handbook", tree, exclude=["build/"], max_bytes=2000))
    assert {path: f.reason for path, f in failures.items()} == {
        "big.md": "too-large",
        "binary.md": "binary",
        "dangling.md": "broken-symlink",
        "empty.md": "empty",
        "latin1.txt": "undecodable",
        "leak.md": "symlink-outside",
        "leakdir": "symlink-outside",
    }
    assert str(tree.parent / "outside") in failures["leakdir"].message
    assert "2000" in failures["big.md"].message


def test_markdown_document_fields(tree: Path) -> None:
    docs, _ = scan(DocsSource("handbook", tree))
    doc = docs["guide/install.md"]
    data = (tree / "guide" / "install.md").read_bytes()
    assert doc.doc_id == "handbook:guide/install.md"
    assert doc.source == "handbook"
    assert doc.kind == "docs"
    assert doc.language == "markdown"
    assert doc.content_hash == sha256_text(data)
    assert doc.version == doc.content_hash[:12]
    assert doc.updated_at == MTIME
    assert doc.title == "Installing the CLI"
    assert doc.owner == "alice, bob"
    assert doc.extra == {"last_reviewed": "2024-02-01T00:00:00+00:00"}
    assert doc.size == len(data)
    assert doc.url == (tree / "guide" / "install.md").as_uri()


def test_front_matter_title_deprecated_and_review_date(tree: Path) -> None:
    doc = scan(DocsSource("handbook", tree))[0]["guide/deploy.md"]
    assert doc.title == "Deploying services"
    assert doc.owner == "platform-team"
    assert doc.extra == {"last_reviewed": "2023-12-24T17:00:00+00:00", "deprecated": True}
    assert doc.updated_at == MTIME  # the review date goes to extra, never to updated_at


def test_titles_and_languages_per_format(tree: Path) -> None:
    docs, _ = scan(DocsSource("handbook", tree))
    got = {path: (d.language, d.title) for path, d in docs.items()}
    assert got["api/reference.rst"] == ("rst", "API reference")
    assert got["ops/runbook.adoc"] == ("asciidoc", "Database runbook")
    assert got["site/index.html"] == ("html", "Docs home")
    assert got["notes.txt"] == ("text", None)
    assert got["README"] == ("text", None)
    assert docs["README"].owner is None and docs["README"].extra == {}


def test_loader_blanks_front_matter_but_keeps_line_numbers(tree: Path) -> None:
    doc = scan(DocsSource("handbook", tree))[0]["guide/install.md"]
    text = doc.read_text()
    assert text == "\n\n\n\n# Installing the CLI\n\nRun `pip install sourcewise`.\n"
    assert text.count("\n") == INSTALL_MD.count("\n")
    assert "owner" not in text


def test_loader_converts_html_and_keeps_other_text_as_is(tree: Path) -> None:
    docs, _ = scan(DocsSource("handbook", tree))
    assert docs["site/index.html"].read_text() == "# Welcome\n\nStart here.\n"
    assert docs["api/reference.rst"].read_text() == REFERENCE_RST
    assert docs["shared/faq.md"].read_text() == "# FAQ\n"


def test_loader_refuses_a_file_changed_since_the_scan(tree: Path) -> None:
    doc = scan(DocsSource("handbook", tree))[0]["notes.txt"]
    (tree / "notes.txt").write_text("Rewritten.\n")
    with pytest.raises(ItemError) as info:
        doc.read_text()
    assert info.value.reason == "changed"


def test_oversize_file_is_rejected_from_stat_without_reading(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[str] = []
    original = Path.read_bytes

    def spy(self: Path) -> bytes:
        read.append(self.name)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", spy)
    _, failures = scan(DocsSource("handbook", tree, max_bytes=2000))
    assert failures["big.md"].reason == "too-large"
    assert "big.md" not in read
    assert "install.md" in read


def test_include_globs_limit_the_scan(tree: Path) -> None:
    docs, failures = scan(DocsSource("handbook", tree, include=["guide/", "*.rst"]))
    assert sorted(docs) == ["api/reference.rst", "guide/deploy.md", "guide/install.md"]
    # Files outside the include set are not failures; a directory link leading out of
    # the root still is, since what it holds is unknown without following it.
    assert {path: f.reason for path, f in failures.items()} == {"leakdir": "symlink-outside"}


def test_exclude_globs_and_ignore_file_prune(tree: Path) -> None:
    docs, _ = scan(DocsSource("handbook", tree, exclude=["*.html", "ops/"]))
    assert "site/index.html" not in docs
    assert "ops/runbook.adoc" not in docs
    assert "build/out.md" in docs  # only excluded when asked
    assert "drafts/wip.md" not in docs and "scratch.tmp.md" not in docs
    (tree / ".sourcewiseignore").unlink()
    docs, _ = scan(DocsSource("handbook", tree))
    assert "drafts/wip.md" in docs and "scratch.tmp.md" in docs


def test_base_url_builds_quoted_links(tree: Path) -> None:
    write(tree / "guide" / "a b.md", "# Spaces\n")
    docs, _ = scan(DocsSource("handbook", tree, base_url="https://docs.example.com/"))
    assert docs["guide/install.md"].url == "https://docs.example.com/guide/install.md"
    assert docs["guide/a b.md"].url == "https://docs.example.com/guide/a%20b.md"


def test_version_is_set_by_a_scan_and_tracks_content(tree: Path) -> None:
    source = DocsSource("handbook", tree)
    assert source.version == ""
    list(source.scan())
    first = source.version
    assert len(first) == 64
    list(source.scan())
    assert source.version == first
    write(tree / "notes.txt", "Changed notes.\n")
    list(source.scan())
    assert source.version != first


def test_missing_or_file_root_raises_source_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(SourceError) as info:
        list(DocsSource("handbook", missing).scan())
    assert str(info.value) == (
        f"docs directory {missing} does not exist: check the path given to "
        "`sourcewise source add handbook --docs DIR`"
    )
    file_root = write(tmp_path / "file.md", "# x\n")
    with pytest.raises(SourceError, match="is not a directory"):
        list(DocsSource("handbook", file_root).scan())


@pytest.mark.parametrize(
    ("name", "language"),
    [
        ("a.md", "markdown"),
        ("a.MARKDOWN", "markdown"),
        ("a.mdx", "markdown"),
        ("a.rst", "rst"),
        ("a.adoc", "asciidoc"),
        ("a.asciidoc", "asciidoc"),
        ("a.txt", "text"),
        ("a.htm", "html"),
        ("CHANGELOG", "text"),
        ("Makefile", None),
        ("a.py", None),
        ("a.png", None),
    ],
)
def test_language_for(name: str, language: str | None) -> None:
    assert language_for(name) == language


@pytest.mark.parametrize(
    ("text", "language", "title"),
    [
        ("```\n# not a title\n```\n## Real\n", "markdown", "Real"),
        ("Setext title\n============\n", "markdown", "Setext title"),
        ("# Closed ATX #\n", "markdown", "Closed ATX"),
        ("just prose\n", "markdown", None),
        ("Section\n=======\n", "rst", "Section"),
        (".. comment\n\nTitle\n~~~~~\n", "rst", "Title"),
        ("== Section only\n", "asciidoc", "Section only"),
        ("# whatever\n", "text", None),
    ],
)
def test_first_heading(text: str, language: str, title: str | None) -> None:
    assert first_heading(text, language) == title
