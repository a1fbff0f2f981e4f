"""References inside code a doc shows: Python snippets, other languages, shell.

Python snippets are read with ``ast`` (after REPL prompts are removed and output lines
blanked, so line numbers stay the doc's): imported names (``from pkg.mod import a`` ->
``pkg.mod.a``), dotted names and attribute access on imported or unknown globals,
called names with their keyword arguments (``call_kwargs``: the drift check compares
them with the signature). Never the snippet's own names (what it defines, assigns or
takes as parameters: the reader's) nor attributes of them. A snippet ``ast`` cannot
parse falls back to a line scanner with the same rules. Shell contributes options,
environment keys and paths only.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable, Iterable
from typing import Any

from indexers.staleness.references_filters import (
    DOTTED,
    OPTION,
    env_candidate,
    is_never_name,
    is_stdlib,
    path_candidate,
    symbol_candidate,
)

Add = Callable[[str, str, int, dict[str, Any]], None]  # (text, kind, doc line, details)

MAX_AST_CHARS = 200_000
_PROMPT = re.compile(r"^(\s*)(>>>|\.\.\.)( |$)")
_IPY_PROMPT = re.compile(r"^(\s*)(In \[\d+\]:|\s*\.\.\.+:)( |$)")
_ENV_FUNCS = ("getenv", "environ.get", "environ.setdefault", "environ.pop", "setenv", "delenv",
              "putenv", "unsetenv")

# --- Python ---------------------------------------------------------------------------


def strip_prompts(code: str) -> tuple[str, bool]:
    """REPL input without its prompts; output lines blanked. Line count unchanged."""
    lines = code.split("\n")
    repl = any(_PROMPT.match(line) or _IPY_PROMPT.match(line) for line in lines)
    if not repl:
        return code, False
    out = []
    for line in lines:
        m = _PROMPT.match(line) or _IPY_PROMPT.match(line)
        out.append(line[m.end():] if m else "")
    return "\n".join(out), True


def python_block(code: str, first_line: int, add: Add, how: str, *, strict: bool = False,
                 defined: set[str] | None = None) -> None:
    """References in a Python snippet starting at doc line ``first_line``. ``strict``:
    a snippet ``ast`` cannot parse names nothing (nobody said it is Python).
    ``defined`` collects the names the snippet defines (the doc's own)."""
    source, _ = strip_prompts(code)
    source = textwrap.dedent(source)
    tree = None
    if len(source) <= MAX_AST_CHARS:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            tree = None
    if tree is not None:
        refs = _PyRefs(first_line, add, how)
        try:
            refs.run(tree)
        except RecursionError:  # ``1 + 1 + ...`` thousands deep: what was found stays
            return
        if defined is not None:
            defined.update(refs.local)
    elif not strict:
        python_lines(source.split("\n"), first_line, add, how, defined=defined)


class _PyRefs(ast.NodeVisitor):
    def __init__(self, first_line: int, add: Add, how: str) -> None:
        self.first = first_line
        self.add = add
        self.how = how
        self.local: set[str] = set()
        self.imported: dict[str, str | None] = {}  # bound name -> full dotted name (None: relative)

    def run(self, tree: ast.AST) -> None:
        for node in ast.walk(tree):  # every name the snippet binds is the reader's
            if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                self.local.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.local.add(node.name)
            elif isinstance(node, ast.arg):
                self.local.add(node.arg)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                self.local.add(node.name)
            elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
                self.local.add(node.name)
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                self.local.update(node.names)
        self.visit(tree)

    def line(self, node: ast.AST) -> int:
        return self.first + getattr(node, "lineno", 1) - 1

    def emit(self, name: str, node: ast.AST, **details: Any) -> None:
        found = symbol_candidate(name, strong=bool(details.get("called") or details.get("imported")))
        if found is not None:
            self.add(found, "symbol", self.line(node), {"how": self.how, "lang": "python", **details})

    # imports: the module path is what the doc claims exists
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            bound = alias.asname or alias.name.split(".", 1)[0]
            self.imported[bound] = alias.name if alias.asname else bound
            self.local.discard(bound)
            if not is_stdlib(alias.name):
                self.emit(alias.name, node, imported=True)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            bound = alias.asname or alias.name
            if node.level or alias.name == "*":
                self.imported[bound] = None
                continue
            full = f"{module}.{alias.name}"
            self.imported[bound] = full
            self.local.discard(bound)
            if not is_stdlib(module):
                self.emit(full, node, imported=True)

    def chain(self, node: ast.AST) -> list[str] | None:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        parts.append(node.id)
        return parts[::-1]

    def method_of_instance(self, func: ast.AST) -> list[str] | None:
        """``RetryPolicy(...).delay(...)``: a method of the class just instantiated."""
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call)):
            return None
        owner = self.chain(func.value.func)
        if owner is None or not owner[-1][:1].isupper():
            return None
        self.visit(func.value)
        return [*owner, func.attr]

    def resolve(self, parts: list[str]) -> str | None:
        """The dotted name a chain refers to, or None for the snippet's own objects."""
        base = parts[0]
        if base in self.imported:
            full = self.imported[base]
            if full is None or is_stdlib(full):
                return None
            return ".".join([full, *parts[1:]])
        if base in self.local:
            return None
        return ".".join(parts)

    def visit_Call(self, node: ast.Call) -> None:
        parts = self.chain(node.func)
        if parts is None:
            parts = self.method_of_instance(node.func)
        if parts is not None:
            name = self.resolve(parts)
            dotted = ".".join(parts)
            if name is not None:
                kwargs = sorted({k.arg for k in node.keywords if k.arg})
                extra: dict[str, Any] = {"called": True}
                if kwargs:
                    extra["call_kwargs"] = kwargs
                self.emit(name, node, **extra)
            if dotted.endswith(_ENV_FUNCS) and node.args:
                self._env(node.args[0], node)
        else:
            self.visit(node.func)
        for arg in [*node.args, *node.keywords]:
            self.visit(arg)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        parts = self.chain(node)
        if parts is None:
            self.visit(node.value)
            return
        name = self.resolve(parts)
        if name is not None:
            self.emit(name, node)

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            return
        name = self.resolve([node.id])
        # an unknown snake_case name used as a value is the reader's variable
        # (``send(payment_id)``); classes and constants are the project's
        if name is not None and (node.id in self.imported or node.id[:1].isupper()):
            self.emit(name, node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        parts = self.chain(node.value)
        if parts is not None and parts[-1] == "environ":
            self._env(node.slice, node)
        self.generic_visit(node)

    def _decorated(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        for deco in node.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            parts = self.chain(target)
            name = self.resolve(parts) if parts is not None else None
            if name is not None and not isinstance(deco, ast.Call):
                self.emit(name, deco, called=True, decorator=True)
            else:
                self.visit(deco)
        for child in ast.iter_child_nodes(node):
            if child not in node.decorator_list:
                self.visit(child)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _decorated  # type: ignore[assignment]

    def _env(self, arg: ast.AST, node: ast.AST) -> None:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            key = env_candidate(arg.value, strong=True)
            if key:
                self.add(key, "env", self.line(node), {"how": self.how, "lang": "python"})


# --- line scanner (unparsable Python, other languages) -----------------------------------

_STRINGS_COMMENTS = re.compile(
    r"""#[^\n]*|//[^\n]*|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`[^`\n]*`"""
)
_PY_STRINGS_COMMENTS = re.compile(r"""#[^\n]*|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*\"""")
_TOKEN = re.compile(r"(?<![\w.$@])([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)([ \t]*\()?")
_LOCAL_DEF = re.compile(
    r"\b(?:def|class|function|func|fn|fun|const|let|var|val|struct|interface|type|enum|trait|"
    r"module)\s+\*?([A-Za-z_]\w*)"
)
_NAMES = r"([A-Za-z_]\w*(?:[ \t]*,[ \t]*[A-Za-z_]\w*)*)"  # a, b, c: no two ways to split
_ASSIGNED = re.compile(r"^[ \t]*(?:let[ \t]+|var[ \t]+|const[ \t]+)?" + _NAMES
                       + r"[ \t]*(?::[^=\n]{0,80})?:?=(?!=)")
_AS_OR_FOR = re.compile(r"\b(?:as|for)[ \t]+" + _NAMES)
_PARAMS = re.compile(r"\b(?:def|function|func|fn|fun)\s*\w*\s*\(([^)\n]{0,300})\)")
_FROM_IMPORT = re.compile(r"^\s*from\s+([\w.]+)\s+import\s+([\w, \t()]+)")
_IMPORT = re.compile(r"^\s*import\s+([\w., \t]+)$")


def _locals(lines: Iterable[str]) -> set[str]:
    names: set[str] = set()
    for line in lines:
        names.update(_LOCAL_DEF.findall(line))
        for pattern in (_ASSIGNED, _AS_OR_FOR):
            for m in pattern.finditer(line):
                names.update(IDENT_SPLIT.findall(m.group(1)))
        for m in _PARAMS.finditer(line):
            names.update(n.split(":")[0].split("=")[0].strip(" *&$") for n in m.group(1).split(","))
    return {n for n in names if n}


IDENT_SPLIT = re.compile(r"[A-Za-z_]\w*")


def python_lines(lines: list[str], first_line: int, add: Add, how: str,
                 defined: set[str] | None = None) -> None:
    """The ``ast`` rules by line, for a snippet that does not parse."""
    clean = [_PY_STRINGS_COMMENTS.sub(" ", line) for line in lines]
    local = _locals(clean)
    if defined is not None:
        defined.update(local)
    imported: dict[str, str] = {}
    for i, line in enumerate(clean):
        m = _FROM_IMPORT.match(line)
        if m:
            for name in IDENT_SPLIT.findall(m.group(2)):
                if name not in ("as", "import"):
                    imported[name] = f"{m.group(1)}.{name}"
                    if not is_stdlib(m.group(1)) and not m.group(1).startswith("."):
                        _symbol(add, f"{m.group(1)}.{name}", first_line + i, how, "python", imported=True)
            continue
        m = _IMPORT.match(line)
        if m:
            for name in m.group(1).split(","):
                module = name.split(" as ")[0].strip()
                if DOTTED.fullmatch(module) and not is_stdlib(module):
                    _symbol(add, module, first_line + i, how, "python", imported=True)
            continue
        _tokens(line, first_line + i, add, how, "python", local, imported)


def generic_block(code: str, language: str, first_line: int, add: Add, how: str,
                  defined: set[str] | None = None) -> None:
    """Names in a snippet of another language the project's code is written in:
    called and dotted names, never the snippet's own or the language's keywords."""
    lines = [_STRINGS_COMMENTS.sub(" ", line) for line in code.split("\n")]
    local = _locals(lines)
    if defined is not None:
        defined.update(local)
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("import ", "#include", "use ", "package ", "using ")):
            continue
        _tokens(line, first_line + i, add, how, language, local, {})


def _tokens(line: str, doc_line: int, add: Add, how: str, language: str, local: set[str],
            imported: dict[str, str]) -> None:
    other = language != "python"
    for m in _TOKEN.finditer(line):
        parts = m.group(1).split(".")
        if parts[0] in local or is_never_name(m.group(1), other_language=other):
            continue
        base = imported.get(parts[0])
        name = ".".join([base, *parts[1:]]) if base else m.group(1)
        called = bool(m.group(2))
        if called or "." in name or name[:1].isupper():
            if called:
                _symbol(add, name, doc_line, how, language, called=True)
            else:
                _symbol(add, name, doc_line, how, language)


def _symbol(add: Add, name: str, line: int, how: str, language: str, **details: Any) -> None:
    found = symbol_candidate(name, strong=bool(details))
    if found is not None:
        add(found, "symbol", line, {"how": how, "lang": language, **details})


# --- shell ----------------------------------------------------------------------------

_SHELL_PROMPT = re.compile(r"^\s*(?:\$|%|>|❯|PS>|\(\w[\w.-]*\)\s*\$)\s+")
_SHELL_COMMENT = re.compile(r"(?:^|\s)#[^\n]*")
_OPTION_TOKEN = re.compile(r"(?<![\w-])(--[A-Za-z][A-Za-z0-9_-]*[A-Za-z0-9])(?![\w-])")
_EXPORT = re.compile(r"^\s*(?:export|set|setenv)\s+([A-Za-z_][A-Za-z0-9_]*)[=\s]")
_PREFIX_ASSIGN = re.compile(r"^\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)+")
_ASSIGN_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
_DOLLAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_WORD = re.compile(r"[^\s'\"]+")
_URL = re.compile(r"\w+://\S+")


def shell_block(code: str, first_line: int, add: Add, how: str, console: bool) -> None:
    """Options, environment keys and paths of shell commands. In a console transcript
    lines without a prompt are output, not commands."""
    lines = code.split("\n")
    prompted = console and any(_SHELL_PROMPT.match(line) for line in lines)
    for i, raw in enumerate(lines):
        m = _SHELL_PROMPT.match(raw)
        if prompted and not m:
            continue
        line = raw[m.end():] if m else raw
        shell_line(line, first_line + i, add, how)


def shell_line(line: str, doc_line: int, add: Add, how: str) -> None:
    line = _URL.sub(" ", _SHELL_COMMENT.sub(" ", line))
    details: dict[str, Any] = {"how": how, "lang": "shell"}
    env = _EXPORT.match(line)
    if env:
        key = env_candidate(env.group(1), strong=True)
        if key:
            add(key, "env", doc_line, details)
    prefix = _PREFIX_ASSIGN.match(line)
    command_start = prefix.end() if prefix else 0
    if prefix and not env:
        for name in _ASSIGN_NAME.findall(prefix.group(0)):
            key = env_candidate(name, strong=True)
            if key:
                add(key, "env", doc_line, details)
    for name in _DOLLAR.findall(line):
        key = env_candidate(name, strong=name.isupper())
        if key:
            add(key, "env", doc_line, details)
    words = _WORD.findall(line[command_start:])
    command = next((w for w in words if w not in ("sudo", "env", "exec", "time", "nohup")), None)
    for option in _OPTION_TOKEN.findall(line):
        if OPTION.fullmatch(option):
            add(option, "option", doc_line, {**details, "command": command} if command else details)
    for word in words[1:]:
        if "/" in word and not word.startswith("-"):
            path = path_candidate(word.removeprefix("./"))
            if path:
                add(path, "path", doc_line, details)
