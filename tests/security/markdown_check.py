"""What a Markdown renderer would make of an answer: the images, links and raw HTML in it.

Three readings of the text: markdown-it-py (CommonMark, with linkify of bare URLs,
tables and strikethrough), mistune (with its GFM URL plugin), and remark-gfm's literal
autolinks (what Chainlit's renderer links in decoded text), emulated on markdown-it's
text tokens.
An answer is clean when neither finds an image, raw HTML that could load anything, or a
link to a host outside the allowlist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urljoin, urlsplit

import mistune
from markdown_it import MarkdownIt

APP = "https://sourcewise.corp.example/chat"  # the page an answer is rendered on

_md = MarkdownIt("commonmark", {"linkify": True, "html": True}).enable(["linkify", "table", "strikethrough"])
_md.linkify.set({"fuzzy_link": False})  # bare "evil.com" (no scheme, no www.): see docs/security/output.md
_md_plain = MarkdownIt("commonmark", {"html": True})
_mistune = mistune.create_markdown(renderer=None, plugins=["url", "table", "strikethrough"])


def _host(url: str) -> str:
    """The host a browser would go to (relative URLs resolve against the app's page)."""
    return (urlsplit(urljoin(APP, url.strip().replace("\\", "/"))).hostname or "").lower()  # "\\" is "/" to browsers


def _walk_markdown_it(text: str) -> Iterable[tuple[str, str]]:
    def tokens(items: list[Any]) -> Iterable[Any]:
        for t in items:
            yield t
            yield from tokens(t.children or [])

    for t in tokens(_md.parse(text)):
        if t.type == "image":
            yield "image", str(t.attrs.get("src", ""))
        elif t.type == "link_open":
            yield "link", str(t.attrs.get("href", ""))
        elif t.type in ("html_inline", "html_block"):
            yield "html", t.content


def _walk_mistune(text: str) -> Iterable[tuple[str, str]]:
    def nodes(items: list[Any]) -> Iterable[dict[str, Any]]:
        for n in items:
            yield n
            yield from nodes(n.get("children") or [])

    for n in nodes(_mistune(text)):  # type: ignore[arg-type]
        kind = n.get("type")
        if kind == "image":
            yield "image", str((n.get("attrs") or {}).get("url", ""))
        elif kind == "link":
            yield "link", str((n.get("attrs") or {}).get("url", ""))
        elif kind in ("inline_html", "block_html"):
            yield "html", str(n.get("raw", ""))


# remark-gfm (Chainlit's renderer) links URLs and addresses it finds in text nodes, after
# escapes and entities are decoded (mdast-util-gfm-autolink-literal; JS's \w is ASCII).
_GFM_URL = re.compile(r"(https?://|www(?=\.))([-.A-Za-z0-9_]+)([^ \t\r\n]*)", re.I)
_GFM_EMAIL = re.compile(r"([-.A-Za-z0-9_+]+)@([-A-Za-z0-9_]+(?:\.[-A-Za-z0-9_]+)+)")


def _walk_gfm_literals(text: str) -> Iterable[tuple[str, str]]:
    def tokens(items: list[Any]) -> Iterable[Any]:
        for t in items:
            yield t
            yield from tokens(t.children or [])

    for t in tokens(_md_plain.parse(text)):
        if t.type != "text":
            continue
        for m in _GFM_URL.finditer(t.content):
            if "." in m.group(2):
                yield "link", ("http://" if m.group(1).lower() == "www" else m.group(1)) + m.group(2) + m.group(3)
        for m in _GFM_EMAIL.finditer(t.content):
            yield "link", "mailto://" + m.group(2)


def rendered(text: str) -> list[tuple[str, str, str]]:
    """``(renderer, kind, target)`` for every image, link and raw HTML fragment."""
    out = [("markdown-it", k, v) for k, v in _walk_markdown_it(text)]
    out += [("mistune", k, v) for k, v in _walk_mistune(text)]
    out += [("remark-gfm literals", k, v) for k, v in _walk_gfm_literals(text)]
    return out


_INERT_TAG_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/<> ")


def exfiltration(text: str, allowed: Iterable[str] = ()) -> list[tuple[str, str, str]]:
    """Everything in ``text`` a renderer would turn into a request or a link to a host not
    in ``allowed`` (the app's own host always is): images, raw HTML other than bare
    attribute-less tags, and links elsewhere."""
    ok = {h.lower() for h in allowed} | {_host(APP)}
    bad = []
    for renderer, kind, target in rendered(text):
        if kind == "image":
            bad.append((renderer, kind, target))
        elif kind == "html" and not set(target.strip()) <= _INERT_TAG_CHARS:
            bad.append((renderer, kind, target))
        elif kind == "link" and _host(target) not in ok:
            bad.append((renderer, kind, target))
    return bad
