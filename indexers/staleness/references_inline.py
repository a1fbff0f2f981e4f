"""Inline references shared by the Markdown and reStructuredText scanners: code spans,
Sphinx/MyST roles, links to repository files, bare paths and options in prose, and the
dispatch of a code block to the reader for its language.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from indexers.chunking.languages import has_grammar, normalize_language
from indexers.staleness.references_code import (
    generic_block,
    python_block,
    shell_block,
    shell_line,
)
from indexers.staleness.references_filters import (
    ENV_NAME,
    FILE_EXTENSIONS,
    env_candidate,
    option_candidate,
    path_candidate,
    symbol_candidate,
)

Add = Callable[[str, str, int, dict[str, Any]], None]

PYTHON_LANGS = frozenset({
    "python", "py", "python3", "py3", "pycon", "ipython", "ipython3", "python2", "py2",
    "doctest", "pyi", "default",
})
SHELL_LANGS = frozenset({
    "bash", "sh", "shell", "zsh", "console", "shell-session", "sh-session", "terminal",
    "shellsession", "fish", "ksh", "powershell", "ps1", "pwsh", "bat", "cmd", "batch", "doscon",
})
CONSOLE_LANGS = frozenset({"console", "shell-session", "sh-session", "terminal", "shellsession",
                           "doscon"})
# Roles whose target is a Python object; option/envvar/confval/file are their own kinds.
OBJECT_ROLES = frozenset({"func", "meth", "class", "attr", "data", "const", "exc", "mod", "obj",
                          "any", "function", "method", "attribute", "module", "exception",
                          "property", "type", "decorator"})
OTHER_ROLES = frozenset({"option", "envvar", "confval", "file"})

_URL = re.compile(r"\b(?:[a-zA-Z][\w+.-]{0,15}://|www\.)[^\s<>()\[\]`'\"]*")
_BLOB_URL = re.compile(
    r"^https?://[^/\s]+/(?P<repo>[^/\s]+/[^/\s]+(?:/[^/\s]+)*?)/(?:-/)?(?:blob|tree|raw|src)/"
    r"(?P<ref>[^/\s]+)/(?P<path>[^\s#?]+)"
)
_ANCHOR = re.compile(r"^L(\d+)(?:C\d+)?(?:-L?(\d+)(?:C\d+)?)?$")
_MD_LINK = re.compile(
    r"!?\[(?:[^\]\[\n]|\[[^\]\[\n]{0,200}\]){0,400}\]\([ \t]{0,20}<?([^()\s<>]{1,1000})>?(?:[ \t]{1,20}[\"'][^\"'\n]{0,300}[\"'])?[ \t]{0,20}\)"
)
_MD_REF_DEF = re.compile(r"^[ \t]{0,3}\[[^\]\n]{1,300}\]:[ \t]*<?([^\s<>]{1,1000})>?")
_HTML_LINK = re.compile(r"""\b(?:href|src)[ \t]*=[ \t]*["']([^"'\s]{1,1000})["']""")
_BARE_PATH = re.compile(r"(?<![\w/.@:~-])((?:\.{1,2}/)?[\w.-]+(?:/[\w.-]+)+)")
_OPTION_TOKEN = re.compile(r"(?<![\w-])(--[A-Za-z][A-Za-z0-9_-]*[A-Za-z0-9])(?![\w-])")
_ENV_CONTEXT = re.compile(r"(?i)\benv(?:ironment)?\b|\benv[ _-]?var|\bvariables?\b|\bexport\b")
_ENV_ASSIGN = re.compile(r"^(?:export[ \t]+)?([A-Z][A-Z0-9_]{0,127})=\S")
_CALL = re.compile(r"^([A-Za-z_@][\w.:#]{0,200})\((.{0,300})\)$")
_KWARG = re.compile(r"(?<![\w=!<>])([A-Za-z_]\w*)[ \t]*=(?!=)")
_PYTHONISH = re.compile(r"^\s*(?:>>>|import\s+\w|from\s+[\w.]+\s+import\s|def\s+\w|class\s+\w|@\w)",
                        re.MULTILINE)
_ROLE_BEFORE = re.compile(r"(?::(?P<rst>[a-z][\w:+-]{0,30}):|\{(?P<myst>[a-z][\w:+-]{0,30})\})$")


@dataclass
class Ctx:
    """What the inline readers need: where references go and what the doc links to."""

    add: Add
    doc_dir: str
    code_languages: frozenset[str]
    module: str | None = None  # Sphinx ``currentmodule``
    program: str | None = None  # Sphinx ``program`` (options)
    defined: set[str] = field(default_factory=set)  # names the doc's own snippets define


def spans(line: str) -> list[tuple[int, int, str, int]]:
    """Backtick spans of a line as (start, end, content, ticks), found with ``str.find``
    (linear; an unclosed run of backticks is literal text)."""
    found: list[tuple[int, int, str, int]] = []
    i, n = 0, len(line)
    while i < n:
        start = line.find("`", i)
        if start < 0:
            break
        j = start
        while j < n and line[j] == "`":
            j += 1
        ticks = j - start
        close = line.find("`" * ticks, j)
        while close >= 0 and close + ticks < n and line[close + ticks] == "`":
            k = close
            while k < n and line[k] == "`":
                k += 1
            close = line.find("`" * ticks, k)
        if close < 0:
            i = j
            continue
        found.append((start, close + ticks, line[j:close], ticks))
        i = close + ticks
    return found


def mask(line: str, ranges: list[tuple[int, int]]) -> str:
    """The line with ``ranges`` blanked (same length), so prose scanners skip them."""
    if not ranges:
        return line
    out, pos = [], 0
    for start, end in sorted(ranges):
        start, end = max(start, pos), min(end, len(line))
        if start >= end:
            continue
        out.append(line[pos:start])
        out.append(" " * (end - start))
        pos = end
    out.append(line[pos:])
    return "".join(out)


def role_before(line: str, start: int) -> str | None:
    """``func`` for ``:func:`x``` (RST) or ``{func}`x``` (MyST), ``py:`` dropped."""
    m = _ROLE_BEFORE.search(line, max(0, start - 34), start)
    if m is None or m.end() != start:
        return None
    role = (m.group("rst") or m.group("myst") or "").lower()
    return role.split(":")[-1] if role.startswith(("py:", "std:")) or ":" not in role else None


def role_reference(role: str, content: str, line: int, ctx: Ctx) -> None:
    """A Sphinx role: a strong claim that the target exists (``details['role']``)."""
    if role not in OBJECT_ROLES and role not in OTHER_ROLES:
        return
    target = content.strip()
    if target.endswith(">") and "<" in target:
        target = target[target.rindex("<") + 1 : -1]
    details: dict[str, Any] = {"how": "role", "role": role}
    if target.startswith("!"):
        details["nolink"] = True
    target = target.lstrip("~!").strip()
    if role == "option":
        words = target.split()
        if words and ctx.program is not None and len(words) == 1:
            details["program"] = ctx.program
        for word in words:
            found = option_candidate(word)
            if found:
                ctx.add(found, "option", line, details)
        return
    if role == "envvar":
        found = env_candidate(target, strong=True)
        if found:
            ctx.add(found, "env", line, details)
        return
    if role == "file":
        found = path_candidate(target)
        if found:
            ctx.add(found, "path", line, details)
        return
    if target.startswith("."):
        details["search"] = True
        target = target.lstrip(".")
    if ctx.module and role in OBJECT_ROLES and role != "mod":
        details["module"] = ctx.module
    name = symbol_candidate(target, strong=True)
    if name is not None:
        ctx.add(name, "symbol", line, details)


def clause(text: str, start: int, end: int) -> str:
    """The words around a span up to the neighbouring spans or clause punctuation:
    what says whether ``RETRY_LIMIT`` is an environment key or a constant."""
    left = max(text.rfind(c, 0, start) for c in "`.;:!?(")
    rights = [k for k in (text.find(c, end) for c in "`.;!?)") if k >= 0]
    return text[left + 1 : start] + " " + text[end : min(rights) if rights else len(text)]


def code_span(content: str, line: int, near: str, ctx: Ctx, how: str = "code-span") -> None:
    """What an inline code span claims: an option, env key, path, name or call.
    ``near``: the words around the span (an env context makes UPPER_SNAKE an env key)."""
    s = content.strip()
    details: dict[str, Any] = {"how": how}
    assign = _ENV_ASSIGN.match(s)
    if assign:  # PAYMENTS_URL=https://...: the key, whatever the value
        key = env_candidate(assign.group(1))
        if key:
            ctx.add(key, "env", line, details)
        return
    if not s or len(s) > 300 or _URL.search(s):
        return
    if any(c.isspace() for c in s):
        _phrase(s, line, ctx, how)
        return
    if s.startswith("--"):
        found = option_candidate(s)
        if found:
            ctx.add(found, "option", line, details)
        return
    if s.startswith("$"):
        key = env_candidate(s.strip("${}"), strong=True)
        if key:
            ctx.add(key, "env", line, details)
        return
    if "=" in s and not s.endswith(")"):
        name = s.split("=", 1)[0]
        key = env_candidate(name) if ENV_NAME.fullmatch(name) else None
        if key:
            ctx.add(key, "env", line, details)
        return
    if "::" in s and _has_file_extension(s.split("::", 1)[0]):
        s = s.split("::", 1)[0]  # a test id (``test_x.py::TestY::test_z``): the file only
    if "/" in s or _has_file_extension(s):
        found = path_candidate(s.removeprefix("./"))
        if found:
            ctx.add(found, "path", line, details)
        return
    m = _CALL.match(s)
    if m:
        kwargs = sorted(set(_KWARG.findall(m.group(2))))
        details = {**details, "called": True, **({"call_kwargs": kwargs} if kwargs else {})}
        s = m.group(1) + "()"
    name = symbol_candidate(s)
    if name is None:
        return
    if ENV_NAME.fullmatch(name) and _ENV_CONTEXT.search(near):
        ctx.add(name, "env", line, details)
    else:
        ctx.add(name, "symbol", line, details)


def _has_file_extension(token: str) -> bool:
    name = token.rsplit("/", 1)[-1]
    return "." in name.strip(".") and name.rsplit(".", 1)[-1].lower() in FILE_EXTENSIONS


def _phrase(s: str, line: int, ctx: Ctx, how: str) -> None:
    """A span with spaces: a shell command, a line of Python, or prose in backticks."""
    if s.startswith(("$ ", "export ", "% ")) or _OPTION_TOKEN.search(s):
        shell_line(s.lstrip("$% "), line, ctx.add, how)
        return
    if "python" in ctx.code_languages and ("(" in s or s.startswith(("from ", "import ", "@"))):
        python_block(s, line, ctx.add, how, strict=True)
        return
    m = _CALL.match(s.replace(", ", ",").replace(" = ", "="))
    if m and " " not in m.group(1):
        kwargs = sorted(set(_KWARG.findall(m.group(2))))
        name = symbol_candidate(m.group(1) + "()")
        if name is not None:
            extra = {"call_kwargs": kwargs} if kwargs else {}
            ctx.add(name, "symbol", line, {"how": how, "called": True, **extra})


def link_target(target: str, line: int, ctx: Ctx, how: str = "link") -> None:
    """A link to a repository file: relative (to the doc's directory), root-relative, or
    a browse URL (``.../blob/<ref>/path#L10-L20``; ``details['repo_url']`` names the
    repository so resolution can check it is this one). Other URLs are not references."""
    target = target.strip()
    if not target or target.startswith(("#", "mailto:", "tel:", "javascript:", "data:")):
        return
    details: dict[str, Any] = {"how": how}
    url = _BLOB_URL.match(target)
    if url:
        parts = urlsplit(target)
        details["repo_url"] = f"{parts.scheme}://{parts.netloc}/{url.group('repo')}"
        details["ref"] = url.group("ref")
        path, fragment = unquote(url.group("path")), parts.fragment
        found = path_candidate(path, relative=True)
    elif "://" in target or target.startswith("//"):
        return
    else:
        path, _, fragment = target.partition("#")
        path = unquote(path.split("?", 1)[0])
        if not path:
            return
        found = path_candidate(path, ctx.doc_dir, relative=True)
    if found is None:
        return
    anchor = _ANCHOR.match(fragment or "")
    if anchor:
        first = int(anchor.group(1))
        details["anchor"] = [first, int(anchor.group(2) or first)]
    if path.endswith("/"):
        details["dir"] = True
    ctx.add(found, "path", line, details)


# (pattern, what a line must contain for it to be worth running): most prose lines have
# no link, URL, option or path, and a substring test is far cheaper than a regex scan
_LINK_GATES = ((_MD_LINK, "]("), (_MD_REF_DEF, "]:"), (_HTML_LINK, "="))


def prose_line(text: str, line: int, ctx: Ctx, *, rst: bool = False) -> None:
    """Everything inline on one prose line (Markdown, or RST when ``rst``)."""
    covered: list[tuple[int, int]] = []
    if "`" in text:
        for start, end, content, ticks in spans(text):
            covered.append((start, end))
            role = role_before(text, start)
            if rst and ticks == 1 and end < len(text) and text[end] == "_":
                if content.endswith(">") and "<" in content:  # `text <target>`_
                    link_target(content[content.rindex("<") + 1 : -1], line, ctx)
                continue
            if role is not None:
                role_reference(role, content, line, ctx)
            elif rst and ticks == 1:
                code_span(content, line, clause(text, start, end), ctx, "interpreted")
            else:
                code_span(content, line, clause(text, start, end), ctx)
    rest = mask(text, covered)
    hidden: list[tuple[int, int]] = []
    if not rst:
        for pattern, needle in _LINK_GATES:
            if needle in rest:
                for m in pattern.finditer(rest):
                    link_target(m.group(1), line, ctx)
                    hidden.append(m.span(1))
    if "://" in rest or "www." in rest:
        hidden.extend(m.span() for m in _URL.finditer(rest))
    rest = mask(rest, hidden)
    if "--" in rest:
        for m in _OPTION_TOKEN.finditer(rest):
            ctx.add(m.group(1), "option", line, {"how": "prose"})
    if "/" in rest:
        for m in _BARE_PATH.finditer(rest):
            token = m.group(1).rstrip(".,:;!?")
            found = path_candidate(token.removeprefix("./")) if not token.startswith("../") else None
            if found is not None:
                ctx.add(found, "path", line, {"how": "prose"})


def code_block(lang: str | None, code: str, first_line: int, ctx: Ctx, how: str = "code-block",
               *, implicit: bool = False) -> None:
    """Hand a code block to the reader for its language: Python when the linked code is
    Python, another language the code uses, shell for options/env/paths; identifiers in
    blocks of other languages are not references. ``implicit``: nobody said the block is
    Python (an RST ``::`` block in the default highlight language): read only if it
    parses as Python, as Sphinx would only then highlight it so (help output, trees and
    logs are not code)."""
    key = (lang or "").strip().lower().strip("{}.")
    if implicit and re.match(r"\s*\$ ", code):
        shell_block(code, first_line, ctx.add, how, console=True)
        return
    if key in PYTHON_LANGS:
        if "python" in ctx.code_languages:
            python_block(code, first_line, ctx.add, how, strict=implicit, defined=ctx.defined)
        return
    if key in SHELL_LANGS:
        shell_block(code, first_line, ctx.add, how, console=key in CONSOLE_LANGS)
        return
    if not key:
        if "python" in ctx.code_languages and _PYTHONISH.search(code):
            python_block(code, first_line, ctx.add, how, strict=True, defined=ctx.defined)
        elif re.search(r"^\s*\$ ", code, re.MULTILINE):
            shell_block(code, first_line, ctx.add, how, console=True)
        return
    language = normalize_language(key)
    if language and language in ctx.code_languages and has_grammar(language):
        generic_block(code, language, first_line, ctx.add, how, defined=ctx.defined)


__all__ = ["Ctx", "code_block", "code_span", "link_target", "prose_line", "role_reference", "spans"]
