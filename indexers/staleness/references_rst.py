"""reStructuredText (Sphinx) references: roles and literals inline, API directives
(``autofunction``, ``py:function``, ``option``, ``envvar``, ``confval``,
``literalinclude``), code blocks (``code-block``, ``::`` literal blocks in the
default highlight language, doctest blocks).

Directive and role targets are strong claims and carry ``details['role']`` or
``details['directive']``; ``currentmodule`` and ``program`` travel with them
(``details['module']``, ``details['program']``) so resolution can qualify them.
"""

from __future__ import annotations

import re
from typing import Any

from indexers.staleness.references_filters import env_candidate, option_candidate, path_candidate, symbol_candidate
from indexers.staleness.references_inline import (
    Ctx,
    code_block,
    link_target,
    prose_line,
)

_DIRECTIVE = re.compile(r"^([ \t]*)\.\.[ \t]+([A-Za-z][\w:+-]{0,40})::(?:[ \t]+(.*))?$")
_COMMENT = re.compile(r"^([ \t]*)\.\.(?:[ \t]|$)")
_TARGET = re.compile(r"^[ \t]*\.\.[ \t]+_[^:\n]{1,200}:[ \t]+(\S{1,1000})[ \t]*$")
_OPTION_LINE = re.compile(r"^[ \t]*:([\w-]{1,40}):(?:[ \t]+(.*))?$")
_OPTIONS_IN_ARG = re.compile(r"(?<![\w-])(--[A-Za-z][A-Za-z0-9_-]*[A-Za-z0-9])")
_SIGNATURE = re.compile(r"^([A-Za-z_][\w.]{0,200})[ \t]*(\(.{0,400}\))?")
_LINES = re.compile(r"^(\d+)(?:-(\d+))?")

_AUTO = frozenset({
    "autofunction", "autoclass", "automethod", "automodule", "autodata", "autoattribute",
    "autoexception", "autodecorator", "autoproperty", "autotypealias",
})
_DESCRIBE = frozenset({
    "function", "method", "class", "attribute", "data", "exception", "decorator", "property",
    "classmethod", "staticmethod", "decoratormethod", "module", "type",
})
_CODE = frozenset({"code-block", "code", "sourcecode", "ipython", "jupyter-execute"})
_DOCTEST = frozenset({"doctest", "testcode", "testsetup", "testcleanup"})
_INCLUDE = frozenset({"literalinclude", "include", "image", "figure", "csv-table"})
_MODULE = frozenset({"module", "currentmodule"})


def scan_rst(lines: list[str], ctx: Ctx, ignored: set[int], start: int = 0,
             stop: int | None = None) -> None:
    """References of an RST document's ``lines[start:stop]`` (line ``i`` is doc line
    ``i + 1``). ``ignored`` holds silenced doc lines; a silenced directive or literal
    block adds its body."""
    highlight: str | None = None  # None: Sphinx's default (Python, if it parses)
    classes: list[tuple[int, str]] = []  # enclosing ``.. class::`` directives (indent, name)
    i, n = start, len(lines) if stop is None else min(stop, len(lines))
    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        m = _DIRECTIVE.match(line)
        if m:
            indent = len(m.group(1))
            end = _block_end(lines, i + 1, indent)
            if i + 1 in ignored:
                ignored.update(range(i + 1, end + 1))
            while classes and classes[-1][0] >= indent:
                classes.pop()
            i, highlight = _directive(lines, i, end, m, ctx, classes, highlight)
            continue
        target = _TARGET.match(line)
        if target:
            link_target(target.group(1), i + 1, ctx)
            i += 1
            continue
        comment = _COMMENT.match(line)
        if comment:  # a comment and its indented body claim nothing
            i = _block_end(lines, i + 1, len(comment.group(1)))
            continue
        if line.lstrip().startswith(">>>"):  # a doctest block: to the next blank line
            end = i
            while end + 1 < n and lines[end + 1].strip():
                end += 1
            if i + 1 in ignored:
                ignored.update(range(i + 1, end + 2))
            code_block("pycon", "\n".join(lines[i : end + 1]), i + 1, ctx)
            i = end + 1
            continue
        prose_line(line, i + 1, ctx, rst=True)
        if line.rstrip().endswith("::"):
            i = _literal_block(lines, i, ctx, highlight, ignored)
            continue
        i += 1


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """Index of the first line from ``start`` that is non-blank and indented at most
    ``indent`` (the end of a directive's body)."""
    j = start
    while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > indent):
        j += 1
    return j


def _literal_block(lines: list[str], i: int, ctx: Ctx, highlight: str | None, ignored: set[int]) -> int:
    """A ``::`` paragraph's indented literal block, read in the highlight language."""
    base = _indent(lines[i])
    j = i + 1
    while j < len(lines) and not lines[j].strip():
        j += 1
    if j >= len(lines) or _indent(lines[j]) <= base:
        return i + 1
    end = _block_end(lines, j, base)
    if i + 1 in ignored:
        ignored.update(range(i + 1, end + 1))
    code_block(highlight or "python", "\n".join(lines[j:end]), j + 1, ctx, implicit=highlight is None)
    return end


def _directive(lines: list[str], i: int, end: int, m: re.Match[str], ctx: Ctx,
               classes: list[tuple[int, str]], highlight: str | None) -> tuple[int, str | None]:
    """Handle one directive; returns where to go on and the highlight language."""
    name = m.group(2).lower()
    short = name.split(":", 1)[1] if name.startswith(("py:", "std:", "rst:")) else name
    arg = (m.group(3) or "").strip()
    indent = len(m.group(1))
    line = i + 1
    options, body = _options(lines, i + 1, end)
    details: dict[str, Any] = {"how": "directive", "directive": short}
    if short in _CODE or short in _DOCTEST or name == "testoutput":
        if name != "testoutput" and short != "testoutput":
            lang = "python" if short in _DOCTEST or short in ("ipython", "jupyter-execute") else (arg or highlight)
            code_block(lang or "python", "\n".join(lines[body:end]), body + 1, ctx, implicit=lang is None)
        return end, highlight
    if short == "highlight":
        return i + 1, arg.split()[0].lower() if arg else highlight
    if short in _MODULE:
        ctx.module = None if arg in ("", "None") else arg
        if short == "module" and ctx.module:
            _symbol(ctx.module, line, ctx, {**details})
        return i + 1, highlight
    if short == "program":
        ctx.program = arg or None
        return i + 1, highlight
    if short in _AUTO:
        _symbol(arg.split("(")[0].strip(), line, ctx, details)
        return i + 1, highlight
    if name == "autosummary":
        for j in range(body, end):
            item = lines[j].strip().lstrip("~")
            if item and not item.startswith(":"):
                _symbol(item, j + 1, ctx, details)
        return end, highlight
    if short in _DESCRIBE and name.startswith("py:") or name in _DESCRIBE:
        sig = _SIGNATURE.match(arg)
        if sig:
            qual = sig.group(1)
            if classes and "." not in qual and short != "class":
                qual = f"{classes[-1][1]}.{qual}"
            extra = {**details, "signature": " ".join(sig.group(2).split())} if sig.group(2) else details
            _symbol(qual, line, ctx, extra)
            if short in ("class", "exception"):
                classes.append((indent, qual))
        return i + 1, highlight
    if short in ("option", "cmdoption"):
        extra = {**details, "program": ctx.program} if ctx.program else details
        for option in _OPTIONS_IN_ARG.findall(arg):
            found = option_candidate(option)
            if found:
                ctx.add(found, "option", line, extra)
        return i + 1, highlight
    if short == "envvar":
        key = env_candidate(arg.split()[0], strong=True) if arg else None
        if key:
            ctx.add(key, "env", line, details)
        return i + 1, highlight
    if short == "confval":
        name_ = arg.split()[0] if arg else ""
        found = symbol_candidate(name_, strong=True) if name_ else None
        if found:
            ctx.add(found, "symbol", line, {**details, "role": "confval"})
        return i + 1, highlight
    if short in _INCLUDE and arg:
        _include(arg, line, options, ctx, details)
        return i + 1, highlight
    return i + 1, highlight  # admonitions and the rest: their bodies are prose


def _options(lines: list[str], start: int, end: int) -> tuple[dict[str, str], int]:
    """A directive's ``:option: value`` lines and the index where its body starts."""
    options: dict[str, str] = {}
    j = start
    while j < end:
        m = _OPTION_LINE.match(lines[j])
        if m is None:
            break
        options[m.group(1).lower()] = (m.group(2) or "").strip()
        j += 1
    while j < end and not lines[j].strip():
        j += 1
    return options, j


def _include(arg: str, line: int, options: dict[str, str], ctx: Ctx, details: dict[str, Any]) -> None:
    """``literalinclude``/``include``: a path relative to the doc (``/x``: relative to
    the Sphinx source directory, marked ``details['srcdir']``)."""
    extra = dict(details)
    if arg.startswith("/"):
        extra["srcdir"] = True
        found = path_candidate(arg.lstrip("/"), relative=True)
    else:
        found = path_candidate(arg, ctx.doc_dir, relative=True)
    lines = _LINES.match(options.get("lines", ""))
    if lines:
        first = int(lines.group(1))
        extra["anchor"] = [first, int(lines.group(2) or first)]
    if found:
        ctx.add(found, "path", line, extra)
    pyobject = options.get("pyobject")
    if pyobject:
        _symbol(pyobject, line, ctx, {**details, "file": found} if found else details)


def _symbol(name: str, line: int, ctx: Ctx, details: dict[str, Any]) -> None:
    found = symbol_candidate(name.strip(), strong=True)
    if found is None:
        return
    if ctx.module and details.get("directive") not in ("module", "automodule") and not found.startswith(ctx.module + "."):
        details = {**details, "module": ctx.module}
    ctx.add(found, "symbol", line, details)


__all__ = ["scan_rst"]
