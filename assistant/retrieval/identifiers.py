"""Exact identifiers and paths, on both sides of the index.

Dense models blur ``RETRY_LIMIT`` into "retry limit" and a sparse vector splits
``HttpClient.send`` into common sub-words, so a question naming a symbol or a file can
miss its definition. The indexer therefore stores, per chunk, the names the chunk
*defines* (``symbols``) and keys for its path (``path_keys``), all lowercased keyword
values; the retriever pulls the same kind of keys out of a question and matches them
exactly in the engine (a keyword prefetch plus a score-formula boost).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

MAX_SYMBOLS_PER_CHUNK = 64
MAX_QUESTION_KEYS = 48
# A whitespace-free run longer than this yields no path keys: no file path is that long,
# and ``_Q_PATH`` (tuned for benchmarks, left as it is) backtracks quadratically within
# one run, so capping the run keeps a question's parse linear (at most this many
# characters of work per character of input).
MAX_TOKEN_CHARS = 256
MAX_SUFFIX_PARTS = 4  # "site-packages/pkg/mod.py" tails; longer prefixes are somebody's disk
_RECEIVERS = ("self.", "cls.", "this.")

# File extensions that make ``name.ext`` a file name rather than ``object.attribute``.
FILE_EXTENSIONS = frozenset(
    {
        "py", "pyi", "js", "mjs", "cjs", "jsx", "ts", "tsx", "go", "java", "rs", "c", "h", "cc",
        "cpp", "cxx", "hpp", "hh", "cs", "rb", "php", "kt", "kts", "swift", "scala", "m", "mm",
        "md", "markdown", "mdx", "rst", "txt", "adoc", "html", "htm", "css", "scss", "less", "json",
        "yaml", "yml", "toml", "ini", "cfg", "conf", "sh", "bash", "zsh", "ps1", "sql", "proto",
        "graphql", "gql", "tf", "xml", "gradle", "lua", "pl", "r", "ex", "exs", "erl", "hs", "ml",
        "clj", "vue", "svelte", "dart", "zig", "nix", "csv", "lock", "mk", "cmake", "dockerfile"
    }
)

_KEYWORDS = frozenset(
    {
        "if", "for", "while", "switch", "catch", "return", "else", "elif", "try", "with", "new",
        "await", "yield", "function", "class", "def", "do", "in", "of", "not", "and", "or", "is",
        "lambda", "import", "from", "export", "default", "case"
    }
)

# One definition per line, language-agnostic: (keyword, name) forms and assignments.
_DEF_KEYWORD = re.compile(
    r"^(?P<indent>[ \t]*)(?:(?:export|public|private|protected|internal|static|abstract|"
    r"final|sealed|open|override|async|pub(?:\([\w ]+\))?|default|data|inline|extern|"
    r"unsafe|const|virtual)\s+)*"
    r"(?P<kw>def|class|function\*?|func|fn|struct|enum|trait|interface|type|impl|module|"
    r"object|record|namespace|union|macro_rules!|protocol|extension|fun|val|var|let|const)"
    r"\s+(?:\((?P<recv>[^)]*)\)\s*)?(?:self\.)?(?P<name>[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)"
)
_ASSIGN = re.compile(r"^(?P<indent>[ \t]*)(?P<name>[A-Za-z_][\w]*)\s*(?::[^=\n]+)?=(?!=)")
_DEFINE = re.compile(r"^\s*#\s*define\s+(?P<name>[A-Za-z_]\w*)")
# ``send(request) {`` / ``public int send(Request r) {`` / ``int send(...)`` in a C-like body.
_METHOD = re.compile(
    r"^(?P<indent>[ \t]*)(?:[\w<>\[\],.?*&:]+\s+)*(?P<name>[A-Za-z_$][\w$]*)\s*\([^;]*\)"
    r"[\w<>\[\],.?*&:\s]*+\{\s*$"  # possessive: ``\s*`` then this class was quadratic in a blank run
)
_OWN_KW = frozenset({"def", "class", "function", "func", "fn", "fun"})
_CLASS_KW = frozenset({"class", "struct", "trait", "interface", "impl", "module", "object",
                       "record", "enum", "protocol", "extension", "namespace"})

# A command-line option declared in code: a ``"--collect-only"`` literal among the
# arguments of an option-declaring call (argparse ``add_argument``, optparse
# ``add_option``, pytest ``addoption``, click/typer ``option``/``Option``).
_OPTION_CALL = re.compile(r"\b(?:add_argument|add_option|addoption|option|Option|argument|Argument)\s*\(")
# One spelling of a long option for both sides, so a question's key meets the chunk's.
_LONG_OPTION = r"--[A-Za-z][\w-]*\w"
_OPTION_LITERAL = re.compile(rf"""(["'])({_LONG_OPTION})\1""")
MAX_CALL_CHARS = 600
_Q_OPTION = re.compile(rf"(?<![\w-]){_LONG_OPTION}")
_Q_IDENT = re.compile(r"(?<![\w./\-])[A-Za-z_$][\w$]*(?:(?:\.|::|#)[A-Za-z_$][\w$]*)*(?:\(\))?")
_Q_PATH = re.compile(r"[\w.\-]*[\w\-]/[\w./\-]*\w|[\w\-]+\.[A-Za-z0-9]{1,10}\b")
_BACKTICK = re.compile(r"`([^`\n]{1,200})`")
_RUN = re.compile(r"\S+")
_CAMEL = re.compile(r"[a-z0-9][A-Z]|[A-Z]{2}[a-z]")


def defined_symbols(text: str, symbol: str | None = None) -> list[str]:
    """Lowercased names a chunk defines, with ``Class.member`` for members.

    Heuristic and language-agnostic (definitions by keyword, top-level and class-level
    assignments, C-like method headers, ``#define``): a missed name only loses the exact
    boost, the chunk is still found by the dense and sparse legs.
    """
    names: list[str] = []
    if symbol:
        names.append(symbol)
        names.append(symbol.rsplit(".", 1)[-1])
    # enclosing blocks: (indent, name, is class-like); names bound inside functions are locals
    scopes: list[tuple[int, str, bool]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        while scopes and indent <= scopes[-1][0]:
            scopes.pop()
        in_class = bool(scopes) and scopes[-1][2]
        if scopes and not in_class:
            continue  # a function body: its assignments and helpers are not API
        name, kw, receiver = _line_definition(line, indent, in_class)
        if not name:
            continue
        names.append(name)
        if receiver:  # Go: func (s *Server) Serve -> server.serve
            names.append(f"{receiver}.{name}")
        elif in_class and "." not in name:
            names.append(f"{scopes[-1][1]}.{name}")
        if kw:
            scopes.append((indent, name.rsplit(".", 1)[-1], kw in _CLASS_KW))
    names += option_names(text)
    out = list(dict.fromkeys(n.lower() for n in names if len(n) >= 2))
    return out[:MAX_SYMBOLS_PER_CHUNK]


def option_names(text: str) -> list[str]:
    """Long command-line options a chunk declares (``"--collect-only"`` inside an
    ``addoption(...)``/``add_argument(...)`` call, over several lines too), so "what does
    --collect-only do" finds the declaration rather than every test that passes the flag."""
    return [name for _, name in declared_options(text)]


def declared_options(text: str) -> list[tuple[int, str]]:
    """``option_names`` with the offset of each declaring call (for line numbers)."""
    found: list[tuple[int, str]] = []
    for m in _OPTION_CALL.finditer(text):
        args = _call_arguments(text, m.end())
        found += [(m.start(), lit.group(2)) for lit in _OPTION_LITERAL.finditer(args)]
    return found


def _call_arguments(text: str, start: int) -> str:
    """The text from ``start`` (just after a call's ``(``) to its closing parenthesis,
    at most ``MAX_CALL_CHARS``; brackets inside string literals are not counted."""
    depth, quote = 0, ""
    end = min(len(text), start + MAX_CALL_CHARS)
    for i in range(start, end):
        ch = text[i]
        if quote:
            quote = "" if ch == quote and text[i - 1] != "\\" else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                return text[start:i]
            depth -= 1
    return text[start:end]


def _line_definition(line: str, indent: int, in_class: bool) -> tuple[str, str, str]:
    """(name, block keyword, receiver type) of a definition on this line; empty when none.
    The keyword is set when the line opens a block (a class or a function body)."""
    m = _DEF_KEYWORD.match(line)
    if m:
        recv = re.findall(r"[A-Za-z_]\w*", m.group("recv") or "")
        kw = m.group("kw").rstrip("*")
        kw = kw if kw in _CLASS_KW | _OWN_KW else ""
        return m.group("name"), kw, recv[-1] if recv else ""
    m = _DEFINE.match(line) or _ASSIGN.match(line)
    if m and (m.re is _DEFINE or indent == 0 or in_class):
        return m.group("name"), "", ""
    m = _METHOD.match(line)
    if m and m.group("name") not in _KEYWORDS and (in_class or indent == 0):
        return m.group("name"), "function", ""
    return "", "", ""


def path_keys(path: str) -> list[str]:
    """Lowercased keys a question can name a file by: every path suffix with its
    extension (``payments/retry.py``, ``retry.py``) and, for suffixes of two or more
    parts, without it (``payments/retry``, the ``payments.retry`` module spelling)."""
    parts = path.lower().strip("/").split("/")
    keys: list[str] = []
    for i in range(len(parts)):
        suffix = "/".join(parts[i:])
        keys.append(suffix)
        stem = suffix.rsplit(".", 1)[0] if "." in parts[-1] else suffix
        if len(parts) - i >= 2 and stem != suffix:
            keys.append(stem)
    return list(dict.fromkeys(keys))


def dir_prefixes(path: str) -> list[str]:
    """Directory prefixes (``a``, ``a/b`` for ``a/b/c.py``), for ``path:a/b/*`` filters."""
    parts = path.strip("/").split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def extension(path: str) -> str | None:
    """Lowercased extension without the dot (``py``), for ``path:*.py`` filters."""
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name.strip(".") else None


_TEST_DIRS = frozenset({"test", "tests", "testing", "__tests__", "spec", "specs", "e2e"})
_TEST_NAME = re.compile(
    r"^(test_.*|.*_tests?|.*[._-](test|spec)|.*Tests?|conftest)\.[A-Za-z0-9]+$|^tests?\.[A-Za-z0-9]+$"
)
_CHANGELOG_DIRS = frozenset({"changelog", "changelogs", "changes", "announce", "release-notes",
                             "releasenotes", "whatsnew", "news", "issue_template"})
_CHANGELOG_STEMS = frozenset({"changelog", "changes", "history", "news", "releases",
                              "release-notes", "release_notes", "releasenotes", "whatsnew",
                              "issue_template", "pull_request_template"})


_EXAMPLE_DIRS = frozenset({"example", "examples", "sample", "samples", "demo", "demos"})
_DOC_DIRS = frozenset({"doc", "docs", "documentation"})
PROSE_EXTENSIONS = frozenset({"md", "markdown", "mdx", "rst", "txt", "adoc", "html", "htm"})


def file_role(path: str) -> str:
    """``test``, ``example``, ``meta`` (changelogs, release notes, issue/PR templates) or ``main``.

    Tests and examples (code under ``examples/``, or under ``docs/`` beside the prose)
    mention every name they exercise, release notes every feature, templates every bug
    report, so the ranking can prefer the files that implement or document a thing
    (``test_penalty`` covers tests and examples, ``meta_penalty`` the rest)."""
    parts = path.split("/")
    name = parts[-1]
    dirs = {d.lower() for d in parts[:-1]}
    if dirs & _TEST_DIRS or _TEST_NAME.match(name):
        return "test"
    if dirs & _CHANGELOG_DIRS or name.lower().split(".", 1)[0] in _CHANGELOG_STEMS:
        return "meta"
    if dirs & _EXAMPLE_DIRS or (dirs & _DOC_DIRS and (extension(path) or "") not in PROSE_EXTENSIONS):
        return "example"
    return "main"


def _looks_like_code(token: str, quoted: bool) -> bool:
    """Plain words are not identifiers; snake_case, camelCase, dotted, calls are."""
    bare = token.removesuffix("()")
    if quoted or token.endswith("()"):
        return len(bare) >= 2
    if any(sep in bare for sep in (".", "::", "#")):
        return True
    if "_" in bare.strip("_") or (bare.startswith("__") and bare.endswith("__")):
        return True
    return bool(_CAMEL.search(bare))


def question_identifiers(text: str) -> tuple[str, ...]:
    """Lowercased identifier keys in a question: the whole name (``httpclient.send``),
    its last two parts, and its last part when that looks like code by itself
    (``from_call`` from ``CallInfo.from_call``, not ``collect`` from ``x.collect``).
    ``self.``/``this.`` receivers are dropped: they name no definition. So are names the
    question defines itself (``def test_b():`` in a bug report's repro code): they are
    the asker's, and boosting the repo's many ``test_b``s would bury the answer.
    Long command-line options (``--collect-only``) are keys too: code declares them
    (``option_names``)."""
    own = {m.group("name").lower() for m in map(_DEF_KEYWORD.match, text.splitlines())
           if m and m.group("kw") in _OWN_KW}
    found: list[str] = []
    quoted = dict.fromkeys(q.strip() for q in _BACKTICK.findall(text))  # first: marked as code
    spans = [(q, True) for q in quoted if _Q_IDENT.fullmatch(q)]
    spans += [(m.group(0), False) for m in _Q_IDENT.finditer(text)]
    for token, is_quoted in spans:
        if _is_file_name(token) or not _looks_like_code(token, is_quoted):
            continue
        name = re.sub(r"::|#", ".", token.removesuffix("()"))
        skip = 0
        while name.startswith(_RECEIVERS, skip):  # ``self.self.x``: one pass, not one copy per receiver
            skip = name.index(".", skip) + 1
        name = name[skip:]
        marked = is_quoted or token.endswith("()")
        if not name or name.lower() in _KEYWORDS or not _looks_like_code(name, marked):
            continue
        found.append(name.lower())
        parts = name.split(".")
        if len(parts) > 2:
            found.append(".".join(parts[-2:]).lower())
        if len(parts) > 1 and (is_quoted or _looks_like_code(parts[-1], False)):
            found.append(parts[-1].lower())
    found += [m.group(0).lower() for m in _Q_OPTION.finditer(text)]
    keys = dict.fromkeys(f for f in found if len(f) >= 2 and f not in own)
    return tuple(list(keys)[:MAX_QUESTION_KEYS])


def _suffixes(parts: list[str]) -> list[str]:
    """Suffixes of two to ``MAX_SUFFIX_PARTS`` parts, shortest first."""
    top = min(len(parts), MAX_SUFFIX_PARTS)
    return ["/".join(parts[-n:]) for n in range(2, top + 1)]


def question_path_keys(text: str) -> tuple[str, ...]:
    """Path keys in a question: file paths (their tails of two to four parts, so a
    traceback's ``/usr/lib/.../site-packages/_pytest/python.py`` names
    ``_pytest/python.py``), bare file names, and dotted module names
    (``sphinx.ext.viewcode`` -> ``sphinx/ext/viewcode``), also when the last part looks
    like an extension: ``format="ascii.rst"`` and ``astropy.io.ascii.rst`` name
    ``astropy/io/ascii/rst.py``, while a real file called ``ascii.rst`` keeps its own key."""
    keys: list[str] = []
    for m in _path_matches(text):
        token = m.group(0).strip("./").lower()
        if not token or "://" in text[max(0, m.start() - 3) : m.start() + 3]:
            continue
        if "/" in token:
            keys.extend(_suffixes(token.split("/")))
        elif _is_file_name(token):
            keys.append(token)
    for m in _Q_IDENT.finditer(text):
        token = m.group(0).removesuffix("()")
        if "." in token and not token.startswith(_RECEIVERS):
            keys.extend(_suffixes(token.lower().split(".")))
    return tuple(list(dict.fromkeys(k for k in keys if len(k) >= 2))[:MAX_QUESTION_KEYS])


def _path_matches(text: str) -> Iterator[re.Match[str]]:
    """``_Q_PATH.finditer(text)``, run over each whitespace-free run of at most
    ``MAX_TOKEN_CHARS`` that has a ``/`` or ``.`` (no match crosses whitespace, and the
    pattern sees the real neighbours through ``pos``/``endpos``, so the matches are the
    same as on the whole text for such runs)."""
    for run in _RUN.finditer(text):
        start, end = run.span()
        if end - start <= MAX_TOKEN_CHARS and ("/" in run.group(0) or "." in run.group(0)):
            yield from _Q_PATH.finditer(text, start, end)


def _is_file_name(token: str) -> bool:
    name = token.rsplit("/", 1)[-1]
    return "." in name and name.rsplit(".", 1)[-1].lower() in FILE_EXTENSIONS
