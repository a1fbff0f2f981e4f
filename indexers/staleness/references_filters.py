"""What is never a reference: the precision rules shared by every doc format.

A name a doc mentions becomes a reference only if it could be the project's own:
language keywords and builtins, the standard library, plain English words,
placeholders (``foo``, ``<name>``, ``my_*``), numbers, versions, URLs, globs and
HTTP routes never are.
"""

from __future__ import annotations

import builtins
import collections.abc
import keyword
import posixpath
import re
import sys
import typing

from assistant.retrieval.identifiers import FILE_EXTENSIONS

MIN_NAME = 3
MAX_TOKEN = 200

PY_KEYWORDS = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist)
BUILTINS = frozenset(dir(builtins)) | {"self", "cls", "args", "kwargs", "__name__", "__file__",
                                       "__main__", "__init__", "__doc__", "__all__"}
STDLIB = frozenset(sys.stdlib_module_names) | {"__future__", "typing_extensions"}
# ``List[str]``, ``Optional``, ``Callable``: used bare once imported from the standard library
STDLIB_BARE = frozenset(typing.__all__) | frozenset(collections.abc.__all__)

# Keywords and platform globals of the other chunked languages: never the project's.
OTHER_KEYWORDS = frozenset({
    "abstract", "async", "await", "boolean", "break", "byte", "case", "catch", "char", "class",
    "const", "continue", "debugger", "default", "delete", "do", "double", "else", "enum", "export",
    "extends", "false", "final", "finally", "float", "for", "func", "function", "goto", "if",
    "implements", "import", "in", "instanceof", "int", "interface", "let", "long", "new", "null",
    "package", "private", "protected", "public", "return", "short", "static", "super", "switch",
    "synchronized", "this", "throw", "throws", "transient", "true", "try", "typeof", "var",
    "void", "volatile", "while", "with", "yield", "fn", "impl", "mut", "pub", "struct", "trait",
    "use", "mod", "match", "loop", "where", "crate", "val", "fun", "object", "when", "is", "as",
    "def", "end", "elsif", "unless", "until", "begin", "rescue", "ensure", "module", "puts",
    "require", "require_relative", "echo", "namespace", "using", "readonly", "string", "bool",
    "undefined", "nil", "defer", "go", "chan", "map", "range", "select", "type", "println",
    "printf", "sizeof", "typedef", "unsigned", "signed", "extern", "include", "define",
})
PLATFORM_GLOBALS = frozenset({
    "console", "window", "document", "Math", "JSON", "Object", "Array", "String", "Number",
    "Boolean", "Promise", "Date", "Error", "RegExp", "Map", "Set", "Symbol", "process", "module",
    "exports", "fetch", "setTimeout", "setInterval", "fmt", "os", "errors", "strings", "context",
    "http", "time", "System", "std", "Vec", "Option", "Some", "Ok", "Err", "Box", "Rc", "Arc",
    "Console", "Task", "List", "Dictionary", "Kernel", "Rails", "ENV", "File", "Dir", "IO",
    "Integer", "Float", "Hash", "Thread", "Runtime", "Collections", "Arrays", "Optional",
    "Stream", "Exception", "Throwable", "StringBuilder", "Logger", "Assert", "assert",
})

PLACEHOLDERS = frozenset({
    "foo", "bar", "baz", "qux", "quux", "corge", "grault", "spam", "eggs", "ham", "example",
    "examples", "xxx", "yyy", "zzz", "abc", "xyz", "todo", "tbd", "fixme", "blah", "hoge",
    "fuga", "piyo", "lorem", "ipsum", "mymodule", "mypackage", "mypkg", "myapp", "myproject",
    "myplugin", "mylib", "myfile", "mytest", "mytests", "myclass", "myfunc", "myfunction",
    "mydir", "myenv", "myvar", "myproj", "mysite", "mycompany",
})
_PLACEHOLDER_WORDS = frozenset({"foo", "baz", "qux", "quux", "spam", "eggs", "xyzzy"})  # in snake_case too
_PLACEHOLDER_PREFIX = re.compile(r"(?:my|your|some|the|an?)_|(?:My|Your|Some)[A-Z0-9_]|(?:MY|YOUR|SOME)_")

# Shell and CI variables every machine has: never the project's environment keys.
COMMON_ENV = frozenset({
    "HOME", "PATH", "USER", "PWD", "OLDPWD", "SHELL", "LANG", "LC_ALL", "TERM", "EDITOR", "TMPDIR",
    "TMP", "TEMP", "HOSTNAME", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CI", "DISPLAY",
    "LOGNAME", "MAIL", "PAGER", "VISUAL", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME",
    "LD_LIBRARY_PATH", "CC", "CXX", "CFLAGS", "LDFLAGS", "GITHUB_TOKEN", "GITHUB_WORKSPACE",
    "GITHUB_ACTIONS", "PS1", "IFS", "UID", "RANDOM", "SECONDS", "COLUMNS", "LINES", "JAVA_HOME",
    "GOPATH", "GOROOT", "NODE_ENV", "NODE_PATH", "CONDA_PREFIX", "PIP_INDEX_URL", "PYTHONHASHSEED",
    "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PYTHONWARNINGS", "SSH_AUTH_SOCK", "SUDO_USER",
})
_TLDS = frozenset({"com", "org", "net", "io", "dev", "edu", "gov", "co", "uk", "de", "fr", "app",
                   "ai", "info", "biz", "us", "eu", "me", "ly", "sh", "cloud", "site", "tech"})

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
OPTION = re.compile(r"--[A-Za-z][A-Za-z0-9_-]*[A-Za-z0-9]")
ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")  # UPPER_SNAKE, one underscore at least
UPPER_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_CAPITAL_INSIDE = re.compile(r"[a-z0-9][A-Z]|[A-Z]{2}[a-z]")
_NUMBERISH = re.compile(r"[vV]?\d[\w.+-]*")
_RECEIVERS = ("self.", "cls.", "this.", "@")


def is_never_name(name: str, *, other_language: bool = False) -> bool:
    """A keyword, builtin or placeholder (keywords and builtins checked on the first
    part); in another language's snippet also its keywords and platform globals."""
    first = name.split(".", 1)[0]
    if other_language and (first in OTHER_KEYWORDS or first in PLATFORM_GLOBALS):
        return True
    return (first in PY_KEYWORDS or first in BUILTINS or first in STDLIB_BARE and "." not in name
            or is_placeholder(name))


def is_placeholder(name: str) -> bool:
    for part in name.split("."):
        low = part.lower()
        if low in PLACEHOLDERS or _PLACEHOLDER_PREFIX.match(part):
            return True
        if "_" in low and _PLACEHOLDER_WORDS.intersection(low.split("_")):
            return True
    return False


def is_stdlib(name: str) -> bool:
    """``os.path.join``, ``json``: the standard library (by the first dotted part)."""
    return name.split(".", 1)[0] in STDLIB


def is_plain_word(token: str) -> bool:
    """A plain lowercase word: no ``_``, no capital inside, no dot, no ``()``."""
    return token.isalpha() and token.islower()


def looks_like_code(name: str) -> bool:
    """``snake_case``, ``CamelCase``, ``Dotted.name``, ``UPPER``, ``__dunder__``; a plain
    lowercase word alone is prose."""
    if "." in name or "_" in name.strip("_") or name.startswith("__"):
        return True
    if name[:1].isupper():
        return True  # Capitalised: a class name (CamelCase) or a constant
    return bool(_CAPITAL_INSIDE.search(name))


def strip_receiver(token: str) -> str:
    for prefix in _RECEIVERS:
        if token.startswith(prefix):
            return token[len(prefix):]
    return token


def symbol_candidate(token: str, *, strong: bool = False) -> str | None:
    """The normalised name a token refers to, or None when it is never a reference.
    ``strong``: a role or directive marks it, so plain words count."""
    name = token.strip().removesuffix("()").replace("::", ".").replace("#", ".")
    name = strip_receiver(name).strip(".")
    if not name or len(name) > MAX_TOKEN or not DOTTED.fullmatch(name):
        return None
    if len(name) < MIN_NAME or _NUMBERISH.fullmatch(name):
        return None
    if "." in name and len(name.split(".", 1)[0]) < 2:
        return None  # ``x.y``, ``f.read``: attributes of a one-letter variable
    last_part = name.rsplit(".", 1)[-1]
    if last_part.endswith("_") and not (last_part.startswith("__") and len(last_part) > 4):
        return None  # a prefix (``SOURCEWISE_``, ``pytest_funcarg__``), not a name
    if is_never_name(name) or is_stdlib(name) or name in COMMON_ENV:
        return None  # ``PATH`` in backticks is the shell's, whatever the code calls PATH
    last = name.rsplit(".", 1)[-1]
    if last in FILE_EXTENSIONS and "." in name or last in _TLDS and name.count(".") == 1:
        return None  # a file name or a domain, not an attribute
    if not strong and not token.strip().endswith("()") and not looks_like_code(name):
        return None
    return name


def env_candidate(name: str, *, strong: bool = False) -> str | None:
    """An environment key: UPPER_SNAKE with an underscore (any UPPER name when an env
    context marks it); never the variables every shell has."""
    if name in COMMON_ENV or len(name) < MIN_NAME:
        return None
    if ENV_NAME.fullmatch(name) or strong and UPPER_NAME.fullmatch(name):
        return name
    return None


def option_candidate(token: str) -> str | None:
    """``--dry-run`` (``--dry-run=VALUE`` too); never ``--``, ``---`` or ``--x``."""
    head = token.strip().split("=", 1)[0].split("[", 1)[0]
    return head if OPTION.fullmatch(head) and len(head) <= 80 else None


def path_candidate(token: str, doc_dir: str = "", *, relative: bool = False) -> str | None:
    """A repository path a token names, normalised (``./a/../b.py`` -> ``b.py``).

    ``relative``: a link target, resolved against the doc's directory; otherwise a bare
    path, read from the repository root. URLs, absolute system paths, globs,
    placeholders and HTTP routes (``/api/v1/users``, no extension) are never paths."""
    raw = token.strip().strip("'\"")
    if not raw or len(raw) > 400 or "://" in raw or raw.startswith(("mailto:", "www.", "~")):
        return None
    if any(c in raw for c in "*?[]{}<>$%@|\\ \t,;()=!") or raw.startswith("-"):
        return None
    name = raw.rstrip("/").rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name.strip(".") else ""
    if ext not in FILE_EXTENSIONS and not (relative and raw.endswith("/")):
        if not (relative and ext in ("html", "htm", "png", "svg", "jpg", "jpeg", "gif", "pdf")):
            return None
    if raw.startswith("/"):
        if not ext:
            return None  # an HTTP route or a system directory
        path = raw.lstrip("/")
        if path.split("/", 1)[0] in ("usr", "etc", "var", "tmp", "opt", "bin", "home", "dev", "proc"):
            return None
    else:
        path = posixpath.join(doc_dir, raw) if relative and doc_dir else raw
    path = posixpath.normpath(path)
    if path in (".", "") or path.startswith(("../", "path/to/")) or path == "..":
        return None
    if _NUMBERISH.fullmatch(path) or is_placeholder(path.rsplit("/", 1)[-1].rsplit(".", 1)[0]):
        return None
    return path
