"""MediaWiki XML and Confluence HTML export readers."""

from __future__ import annotations

import bz2
import gzip
import os
import re
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assistant.errors import SourceError
from assistant.models import Document, ItemFailure, sha256_text
from indexers.sources.base import Source
from indexers.sources.wiki import (
    ConfluenceSource,
    MediaWikiSource,
    parse_page_metadata,
    wikitext_to_markdown,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "wiki"


def split(items: list[Document | ItemFailure]) -> tuple[dict[str, Document], dict[str, str]]:
    docs = {i.path: i for i in items if isinstance(i, Document)}
    failures = {i.path: i.reason for i in items if isinstance(i, ItemFailure)}
    return docs, failures


# --- MediaWiki --------------------------------------------------------------------


def revision(rev_id: int, ts: str, text: str, who: str = "<username>Alice</username>") -> str:
    return (
        f"<revision><id>{rev_id}</id><timestamp>{ts}</timestamp>"
        f"<contributor>{who}</contributor><model>wikitext</model>"
        f'<format>text/x-wiki</format><text xml:space="preserve">{text}</text></revision>'
    )


def page(title: str, ns: int, page_id: int, *revisions: str, extra: str = "") -> str:
    body = "".join(revisions)
    return f"<page><title>{title}</title><ns>{ns}</ns><id>{page_id}</id>{extra}{body}</page>"


OLD_TEXT = "== Intro ==\nOld text."
NEW_TEXT = "Lead.\n== Install ==\nRun the installer.\n=== Linux ===\n# apt install tool\n# done"

PAGES = [
    page(
        "Install Guide",
        0,
        1,
        revision(10, "2023-01-01T00:00:00Z", OLD_TEXT),
        revision(42, "2024-03-05T14:30:00Z", NEW_TEXT, "<username>Bob</username><id>7</id>"),
    ),
    page(
        "Install",
        0,
        2,
        revision(11, "2023-01-02T00:00:00Z", "#REDIRECT [[Install Guide]]"),
        extra='<redirect title="Install Guide" />',
    ),
    page(
        "Help:Q&amp;A / FAQ",
        12,
        3,
        revision(30, "2023-06-01T08:00:00Z", "Ask in #help.", "<ip>10.0.0.8</ip>"),
    ),
    page("User:Alice", 2, 4, revision(31, "2023-06-02T08:00:00Z", "About me.")),
    page("Talk:Install Guide", 1, 5, revision(32, "2023-06-03T08:00:00Z", "Typo?")),
]


def export(pages: list[str], version: str = "0.11") -> str:
    return (
        f'<mediawiki xmlns="http://www.mediawiki.org/xml/export-{version}/" '
        f'version="{version}" xml:lang="en">'
        "<siteinfo><sitename>Wiki</sitename><namespaces>"
        '<namespace key="0" case="first-letter" />'
        '<namespace key="2" case="first-letter">User</namespace>'
        '<namespace key="12" case="first-letter">Help</namespace>'
        "</namespaces></siteinfo>\n" + "\n".join(pages) + "\n</mediawiki>\n"
    )


@pytest.fixture
def mw_export(tmp_path: Path) -> Path:
    path = tmp_path / "wiki.xml"
    path.write_text(export(PAGES), encoding="utf-8")
    return path


def test_mediawiki_yields_latest_revision_of_indexed_pages(mw_export: Path) -> None:
    source = MediaWikiSource("wiki", mw_export, base_url="https://wiki.example.com/")
    assert isinstance(source, Source)
    docs, failures = split(list(source.scan()))
    assert sorted(docs) == ["Help:Q&A_/_FAQ", "Install_Guide"]  # no redirect, no User/Talk
    assert failures == {}
    doc = docs["Install_Guide"]
    assert doc.doc_id == "wiki:Install_Guide"
    assert doc.kind == "wiki"
    assert doc.title == "Install Guide"
    assert doc.author == "Bob"
    assert doc.version == "42"
    assert doc.updated_at == datetime(2024, 3, 5, 14, 30, tzinfo=UTC)
    assert doc.content_hash == sha256_text(NEW_TEXT)
    assert doc.language == "mediawiki"
    assert doc.url == "https://wiki.example.com/index.php?title=Install_Guide"
    assert doc.extra == {"namespace": 0, "page_id": "1"}


def test_mediawiki_ip_author_and_quoted_url(mw_export: Path) -> None:
    docs, _ = split(list(MediaWikiSource("wiki", mw_export, base_url="https://w").scan()))
    faq = docs["Help:Q&A_/_FAQ"]
    assert faq.title == "Help:Q&A / FAQ"
    assert faq.author == "10.0.0.8"
    assert faq.url == "https://w/index.php?title=Help:Q%26A_/_FAQ"
    assert faq.extra["namespace"] == 12


def test_mediawiki_latest_revision_wins_regardless_of_order(tmp_path: Path) -> None:
    path = tmp_path / "reversed.xml"
    newest = revision(9, "2024-01-02T00:00:00Z", "new", "<username>New</username>")
    oldest = revision(8, "2024-01-01T00:00:00Z", "old", "<username>Old</username>")
    path.write_text(export([page("P", 0, 1, newest, oldest)]))
    doc = split(list(MediaWikiSource("wiki", path).scan()))[0]["P"]
    assert (doc.version, doc.author, doc.read_text()) == ("9", "New", "new")
    assert doc.url is None


def test_mediawiki_loader_converts_headings_and_keeps_line_count(mw_export: Path) -> None:
    doc = split(list(MediaWikiSource("wiki", mw_export).scan()))[0]["Install_Guide"]
    text = doc.read_text()
    assert text == "Lead.\n## Install\nRun the installer.\n### Linux\n1. apt install tool\n1. done"
    assert text.count("\n") == NEW_TEXT.count("\n")


def test_wikitext_to_markdown_only_touches_headings_and_numbered_lists() -> None:
    src = "==A==\n= Top =\n## nested\n#: cont\nplain = text\n*bullet\n== unbalanced"
    assert wikitext_to_markdown(src) == (
        "## A\n# Top\n   1. nested\n   1. cont\nplain = text\n*bullet\n== unbalanced"
    )


@pytest.mark.parametrize("version", ["0.3", "0.10", "0.11"])
def test_mediawiki_any_export_namespace_version(tmp_path: Path, version: str) -> None:
    path = tmp_path / "w.xml"
    path.write_text(export(PAGES, version))
    docs, _ = split(list(MediaWikiSource("wiki", path).scan()))
    assert sorted(docs) == ["Help:Q&A_/_FAQ", "Install_Guide"]


def test_mediawiki_without_ns_element_uses_siteinfo_prefixes(tmp_path: Path) -> None:
    path = tmp_path / "old.xml"
    pages = [
        "<page><title>User:Bob</title>" + revision(1, "2020-01-01T00:00:00Z", "x") + "</page>",
        "<page><title>Main Page</title>" + revision(2, "2020-01-01T00:00:00Z", "y") + "</page>",
    ]
    path.write_text(export(pages).replace(' xmlns="http://www.mediawiki.org/xml/export-0.11/"', ""))
    docs, _ = split(list(MediaWikiSource("wiki", path).scan()))
    assert sorted(docs) == ["Main_Page"]


def test_mediawiki_blank_latest_revision_is_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "w.xml"
    path.write_text(export([page("Blanked", 0, 1, revision(5, "2024-01-01T00:00:00Z", "  "))]))
    docs, failures = split(list(MediaWikiSource("wiki", path).scan()))
    assert docs == {} and failures == {"Blanked": "empty"}


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress])
def test_mediawiki_compressed_exports(tmp_path: Path, compress: object) -> None:
    suffix = ".gz" if compress is gzip.compress else ".bz2"
    path = tmp_path / f"wiki.xml{suffix}"
    path.write_bytes(compress(export(PAGES).encode()))  # type: ignore[operator]
    docs, _ = split(list(MediaWikiSource("wiki", path).scan()))
    assert docs["Install_Guide"].version == "42"


def test_mediawiki_truncated_export_raises_after_earlier_pages(tmp_path: Path) -> None:
    path = tmp_path / "cut.xml"
    full = export(PAGES)
    cut = full[: full.index("<page><title>User:Alice") + 40]
    path.write_text(cut)
    seen: list[str] = []
    with pytest.raises(SourceError) as info:
        for item in MediaWikiSource("wiki", path).scan():
            seen.append(item.path)
    assert seen == ["Install_Guide", "Help:Q&A_/_FAQ"]
    message = str(info.value)
    line = cut.count("\n") + 1
    assert re.search(
        rf"{re.escape(str(path))} is not well-formed XML at line {line}, column \d+ "
        r"\(unclosed token\); it may be truncated",
        message,
    )
    assert "Special:Export" in message


def test_mediawiki_rejects_non_exports(tmp_path: Path) -> None:
    rss = tmp_path / "feed.xml"
    rss.write_text("<rss><channel><title>x</title></channel></rss>")
    with pytest.raises(SourceError, match=r"root element <rss>, expected <mediawiki>"):
        list(MediaWikiSource("wiki", rss).scan())
    text = tmp_path / "notes.xml"
    text.write_text("this is not xml at all")
    with pytest.raises(SourceError, match="line 1, column 0"):
        list(MediaWikiSource("wiki", text).scan())
    empty = tmp_path / "empty.xml"
    empty.write_text("")
    with pytest.raises(SourceError, match="Special:Export"):
        list(MediaWikiSource("wiki", empty).scan())


def test_mediawiki_missing_export(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        list(MediaWikiSource("wiki", tmp_path / "none.xml").scan())
    with pytest.raises(SourceError, match="is not a file"):
        list(MediaWikiSource("wiki", tmp_path).scan())


def test_mediawiki_version_tracks_content(mw_export: Path) -> None:
    source = MediaWikiSource("wiki", mw_export)
    assert source.version == ""
    list(source.scan())
    first = source.version
    list(source.scan())
    assert source.version == first
    mw_export.write_text(export(PAGES).replace("Run the installer.", "Run setup."))
    list(source.scan())
    assert source.version != first


def test_mediawiki_fixture_export() -> None:
    docs, failures = split(list(MediaWikiSource("pw", FIXTURES / "mediawiki-export.xml").scan()))
    assert failures == {}
    assert {p: (d.title, d.author, d.version) for p, d in docs.items()} == {
        "Deployment_Guide": ("Deployment Guide", "Bob Okafor", "512"),
        "Runbooks/Database_failover": ("Runbooks/Database failover", "Chen Wei", "488"),
        "Help:Editing": ("Help:Editing", "10.20.30.40", "290"),
    }
    assert "## Canary" in docs["Deployment_Guide"].read_text()


# --- Confluence -------------------------------------------------------------------

CONFLUENCE_PAGE = """<!DOCTYPE html>
<html><head><title>Engineering : {title}</title>
<link rel="stylesheet" href="styles/site.css" type="text/css" /></head>
<body><div id="page"><div id="main" class="aui-page-panel"><div id="main-header">
<div id="breadcrumb-section"><ol id="breadcrumbs">
<li class="first"><span><a href="index.html">Engineering</a></span></li>
<li><span><a href="Home_1.html">Home</a></span></li></ol></div>
<h1 id="title-heading" class="pagetitle"><span id="title-text"> Engineering : {title} </span></h1>
</div><div id="content" class="view">
<div class="page-metadata">
    {meta}
</div>
<div id="main-content" class="wiki-content group">
{body}
</div></div></div>
<div id="footer"><section class="footer-body">
<p>Document generated by Confluence on {generated}</p></section></div></div></body></html>
"""

DEPLOY_BODY = (
    '<h2 id="Deploy-Overview">Overview</h2><p>Ship with the release train.</p>'
    "<h2>Rollback</h2><pre>deployctl rollback SERVICE</pre>"
)
MTIME = datetime(2024, 4, 2, 9, 14, tzinfo=UTC)


def confluence_page(title: str, meta: str, body: str, generated: str = "Apr 02, 2024") -> str:
    return CONFLUENCE_PAGE.format(title=title, meta=meta, body=body, generated=generated)


def build_confluence(root: Path, generated: str = "Apr 02, 2024 09:14") -> Path:
    (root / "attachments" / "123").mkdir(parents=True)
    (root / "styles").mkdir()
    (root / "index.html").write_text("<html><head><title>Engineering</title></head></html>")
    (root / "Deployment-Guide_98307.html").write_text(
        confluence_page(
            "Deployment Guide",
            "Created by <span class='author'> Alice Nguyen</span>, last modified by "
            "<span class='editor'> Bob Okafor</span> on Mar 05, 2024",
            DEPLOY_BODY,
            generated,
        )
    )
    (root / "Runbook_98311.html").write_text(
        confluence_page(
            "Runbook",
            "Created by <span class='author'> Chen Wei</span>",
            "<p>Fail over.</p>",
            generated,
        )
    )
    (root / "Broken_99.html").write_text("Lorem ipsum, not a page")
    (root / "attachments" / "123" / "preview.html").write_text("<title>x : y</title>")
    (root / "styles" / "site.css").write_text("body {}")
    for file in root.rglob("*"):
        os.utime(file, (MTIME.timestamp(), MTIME.timestamp()))
    return root


def test_confluence_directory_export(tmp_path: Path) -> None:
    root = build_confluence(tmp_path / "ENG")
    source = ConfluenceSource("conf", root, base_url="https://confluence.example.com/")
    assert isinstance(source, Source)
    docs, failures = split(list(source.scan()))
    assert sorted(docs) == ["Deployment-Guide_98307.html", "Runbook_98311.html"]
    assert failures == {"Broken_99.html": "unparseable"}
    doc = docs["Deployment-Guide_98307.html"]
    assert doc.doc_id == "conf:Deployment-Guide_98307.html"
    assert doc.kind == "wiki"
    assert doc.language == "html"
    assert doc.title == "Deployment Guide"
    assert doc.author == "Bob Okafor"
    assert doc.updated_at == datetime(2024, 3, 5, tzinfo=UTC)
    assert doc.version == f"98307-{doc.content_hash[:12]}"
    assert doc.url == "https://confluence.example.com/pages/viewpage.action?pageId=98307"
    assert doc.extra == {
        "space": "Engineering",
        "breadcrumbs": "Engineering > Home",
        "page_id": "98307",
    }


def test_confluence_creator_and_mtime_fallbacks(tmp_path: Path) -> None:
    root = build_confluence(tmp_path / "ENG")
    runbook = split(list(ConfluenceSource("conf", root).scan()))[0]["Runbook_98311.html"]
    assert runbook.author == "Chen Wei"
    assert runbook.updated_at == MTIME  # the metadata line has no date
    assert runbook.url is None


def test_confluence_loader_reads_main_content_only(tmp_path: Path) -> None:
    root = build_confluence(tmp_path / "ENG")
    doc = split(list(ConfluenceSource("conf", root).scan()))[0]["Deployment-Guide_98307.html"]
    text = doc.read_text()
    assert text == (
        "## Overview\n\nShip with the release train.\n\n"
        "## Rollback\n\n```\ndeployctl rollback SERVICE\n```\n"
    )
    assert doc.content_hash == sha256_text(text)


def test_confluence_reexport_keeps_content_hashes(tmp_path: Path) -> None:
    first = split(list(ConfluenceSource("c", build_confluence(tmp_path / "a")).scan()))[0]
    again = build_confluence(tmp_path / "b", generated="May 09, 2024 17:00")
    second = split(list(ConfluenceSource("c", again).scan()))[0]
    assert (tmp_path / "a" / "Runbook_98311.html").read_bytes() != (
        again / "Runbook_98311.html"
    ).read_bytes()
    assert {p: d.content_hash for p, d in first.items()} == {
        p: d.content_hash for p, d in second.items()
    }


@pytest.mark.parametrize("top", ["ENG", ""])
def test_confluence_zip_export_matches_directory(tmp_path: Path, top: str) -> None:
    root = build_confluence(tmp_path / "ENG")
    archive = tmp_path / "Confluence-space-export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in sorted(root.rglob("*")):
            zf.write(file, Path(top) / file.relative_to(root))
    from_dir = split(list(ConfluenceSource("c", root).scan()))
    from_zip = split(list(ConfluenceSource("c", archive).scan()))
    assert from_zip[1] == from_dir[1] == {"Broken_99.html": "unparseable"}
    assert {p: (d.content_hash, d.title, d.author, d.updated_at) for p, d in from_zip[0].items()} == {
        p: (d.content_hash, d.title, d.author, d.updated_at) for p, d in from_dir[0].items()
    }
    assert from_zip[0]["Runbook_98311.html"].read_text() == "Fail over.\n"


def test_confluence_binary_page_is_an_item_failure(tmp_path: Path) -> None:
    root = build_confluence(tmp_path / "ENG")
    (root / "Diagram_5.html").write_bytes(b"\x89PNG\x00\x00")
    _, failures = split(list(ConfluenceSource("conf", root).scan()))
    assert failures == {"Broken_99.html": "unparseable", "Diagram_5.html": "binary"}


def test_confluence_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        list(ConfluenceSource("conf", tmp_path / "missing").scan())
    (tmp_path / "noindex").mkdir()
    (tmp_path / "noindex" / "Page_1.html").write_text("<title>A : B</title>")
    with pytest.raises(SourceError, match="has no index.html"):
        list(ConfluenceSource("conf", tmp_path / "noindex").scan())
    not_zip = tmp_path / "export.zip"
    not_zip.write_text("nope")
    with pytest.raises(SourceError, match="neither a directory nor a zip"):
        list(ConfluenceSource("conf", not_zip).scan())


def test_confluence_version_tracks_content(tmp_path: Path) -> None:
    root = build_confluence(tmp_path / "ENG")
    source = ConfluenceSource("conf", root)
    assert source.version == ""
    list(source.scan())
    first = source.version
    page = root / "Runbook_98311.html"
    page.write_text(page.read_text().replace("Fail over.", "Fail over now."))
    list(source.scan())
    assert source.version not in ("", first)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "Created by Alice, last modified by Bob on Mar 05, 2024",
            ("Alice", "Bob", datetime(2024, 3, 5, tzinfo=UTC)),
        ),
        (
            "Created by Alice, last modified on Jan 10, 2024",
            ("Alice", None, datetime(2024, 1, 10, tzinfo=UTC)),
        ),
        (
            "Added by Old Timer, last edited by New Hand on September 9, 2012",
            ("Old Timer", "New Hand", datetime(2012, 9, 9, tzinfo=UTC)),
        ),
        ("Created by Chen Wei", ("Chen Wei", None, None)),
        ("Exported pages", (None, None, None)),
        ("", (None, None, None)),
    ],
)
def test_parse_page_metadata(line: str, expected: tuple[object, ...]) -> None:
    assert parse_page_metadata(line) == expected


def test_confluence_fixture_export(tmp_path: Path) -> None:
    root = shutil.copytree(FIXTURES / "confluence-ENG", tmp_path / "ENG")
    docs, failures = split(list(ConfluenceSource("eng", root).scan()))
    assert failures == {}
    assert {p: (d.title, d.author, d.updated_at.date().isoformat()) for p, d in docs.items()} == {
        "Database-Failover-Runbook_98311.html": ("Database Failover Runbook", "Chen Wei", "2024-02-20"),
        "Deployment-Guide_98307.html": ("Deployment Guide", "Bob Okafor", "2024-03-05"),
        "Engineering-Home_98305.html": ("Engineering Home", "Alice Nguyen", "2024-01-10"),
    }
    text = docs["Deployment-Guide_98307.html"].read_text()
    assert "## Canary" in text and "production | service owner" in text
    assert "Document generated" not in text and "Attachments:" not in text
