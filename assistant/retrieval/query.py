"""Query filters written in the question (``repo:payments path:src/*.py lang:python
kind:code``) or given as options, and their validation.

Filters are stripped from the question before it is embedded: ``repo:payments`` is an
instruction, not something to match. Repeating a key ORs its values (``repo:a repo:b``,
or ``repo:a,b``); different keys AND. Options and question filters merge the same way.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass

from assistant.errors import ConfigError

MAX_QUESTION_CHARS = 10_000
KINDS = ("code", "docs", "wiki")

# Names the indexer stores in the ``language`` payload field (indexers/chunking/languages).
KNOWN_LANGUAGES = frozenset(
    {
        "python", "javascript", "typescript", "tsx", "go", "java", "rust", "c", "cpp", "csharp",
        "ruby", "php", "kotlin", "markdown", "rst", "asciidoc", "text", "html", "org", "yaml",
        "json", "toml", "ini", "shell", "powershell", "sql", "xml", "css", "protobuf", "graphql",
        "terraform", "makefile", "cmake", "dockerfile", "groovy", "scala", "swift", "dart", "lua",
        "perl", "r", "elixir", "erlang", "haskell", "ocaml", "clojure", "vue", "svelte", "objc",
        "zig", "nix", "csv"
    }
)
LANGUAGE_ALIASES = {
    "py": "python", "python3": "python", "js": "javascript", "node": "javascript",
    "jsx": "javascript", "ts": "typescript", "golang": "go", "rs": "rust", "c++": "cpp",
    "cxx": "cpp", "cc": "cpp", "c#": "csharp", "cs": "csharp", "c_sharp": "csharp",
    "rb": "ruby", "kt": "kotlin", "md": "markdown", "restructuredtext": "rst",
    "adoc": "asciidoc", "txt": "text", "plaintext": "text", "htm": "html", "yml": "yaml",
    "sh": "shell", "bash": "shell",
}
KIND_ALIASES = {"doc": "docs", "documentation": "docs", "source": "code", "src": "code"}

# Possessive runs: each filter token is scanned once (a quote's run ends at the next
# quote, an unquoted value at whitespace), so parsing is linear in the question.
_TOKEN = re.compile(r'(?<!\S)(repo|path|lang|kind):(?:"([^"]*+)"|(\S*+))', re.IGNORECASE)
MAX_FILTER_CHARS = 500  # the API's limit on one filter value, for every door
MAX_FILTER_VALUES = 50
_GLOB_CHARS = re.compile(r"[*?\[]")


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def near_misses(value: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Candidates spelled like ``value`` (case-insensitive), closest first. Callers pass only
    names the caller may see, so a suggestion never names a source they cannot read."""
    by_lower: dict[str, str] = {}
    for c in candidates:
        by_lower.setdefault(c.lower(), c)
    return [by_lower[m] for m in difflib.get_close_matches(value.strip().lower(), list(by_lower), n=n, cutoff=0.6)]


def _did_you_mean(value: str, candidates: Iterable[str]) -> str:
    close = near_misses(value, candidates)
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""


@dataclass(frozen=True)
class QueryFilters:
    """Restrictions on what a query may return; empty means no restriction."""

    repos: tuple[str, ...] = ()  # source names (repo:NAME)
    paths: tuple[str, ...] = ()  # globs (path:GLOB), matched against the repo-relative path
    langs: tuple[str, ...] = ()  # lang:python
    kinds: tuple[str, ...] = ()  # kind:code|docs|wiki

    def merged(self, other: QueryFilters) -> QueryFilters:
        """Both sets of filters: values of the same key OR together (like repeated tokens)."""
        return QueryFilters(
            repos=_unique((*self.repos, *other.repos)),
            paths=_unique((*self.paths, *other.paths)),
            langs=_unique((*self.langs, *other.langs)),
            kinds=_unique((*self.kinds, *other.kinds)),
        )

    def is_empty(self) -> bool:
        return not (self.repos or self.paths or self.langs or self.kinds)

    def normalized(self) -> QueryFilters:
        """Canonical language and kind names; ``ConfigError`` for values that cannot match."""
        for key, values in (("repo", self.repos), ("path", self.paths), ("lang", self.langs), ("kind", self.kinds)):
            if len(values) > MAX_FILTER_VALUES:
                raise ConfigError(f"{len(values)} {key}: filters; the limit is {MAX_FILTER_VALUES}")
            if any(len(v) > MAX_FILTER_CHARS for v in values):
                raise ConfigError(f"a {key}: filter value is longer than {MAX_FILTER_CHARS} characters; "
                                  "name the repo, glob, language or kind itself")
        langs = []
        for lang in self.langs:
            name = LANGUAGE_ALIASES.get(lang.strip().lower(), lang.strip().lower())
            if name not in KNOWN_LANGUAGES:
                raise ConfigError(
                    f"unknown language {lang!r} in lang: filter"
                    f"{_did_you_mean(lang, [*KNOWN_LANGUAGES, *LANGUAGE_ALIASES])}; use a language name such as "
                    f"python, javascript, typescript, go, java, rust or markdown "
                    f"(known: {', '.join(sorted(KNOWN_LANGUAGES))})"
                )
            langs.append(name)
        kinds = []
        for kind in self.kinds:
            name = KIND_ALIASES.get(kind.strip().lower(), kind.strip().lower())
            if name not in KINDS:
                raise ConfigError(
                    f"unknown kind {kind!r} in kind: filter{_did_you_mean(kind, [*KINDS, *KIND_ALIASES])}; "
                    "use kind:code, kind:docs or kind:wiki"
                )
            kinds.append(name)
        for glob in self.paths:
            if not glob.strip("/"):
                raise ConfigError("empty path: filter; give a glob such as path:src/*.py")
        return QueryFilters(
            repos=_unique(r.strip() for r in self.repos),
            paths=_unique(p.strip() for p in self.paths),
            langs=_unique(langs),
            kinds=_unique(kinds),
        )

    def check_repos(self, known: set[str]) -> None:
        """``ConfigError`` naming the unknown repos and the known ones (``known``: the sources
        the caller may read, so a forbidden one reads exactly like one that does not exist)."""
        unknown = [r for r in self.repos if r not in known]
        if unknown:
            listed = ", ".join(sorted(known)) or "none that you can search"
            hint = "".join(_did_you_mean(r, known) for r in unknown)
            raise ConfigError(
                f"unknown repo {', '.join(map(repr, unknown))} in repo: filter{hint}; "
                f"known sources: {listed} (`sourcewise sources` lists them)"
            )

    def path_matches(self, path: str) -> bool:
        """True when no ``path:`` filter is given or one of the globs matches ``path``."""
        return not self.paths or any(path_glob_matches(g, path) for g in self.paths)


def parse_query(text: str) -> tuple[str, QueryFilters]:
    """Split filter tokens off a question: ``("where do we retry?", QueryFilters(...))``.

    Values may be quoted (``path:"docs/my notes/*"``) or comma-separated
    (``repo:api,web``). Only the four filter keys are recognised, so ``http://`` or
    ``note: ...`` stay part of the question.
    """
    found: dict[str, list[str]] = {"repo": [], "path": [], "lang": [], "kind": []}

    def take(m: re.Match[str]) -> str:
        key = m.group(1).lower()
        value = m.group(2) if m.group(2) is not None else m.group(3)
        parts = [value] if key == "path" and m.group(2) is not None else value.split(",")
        found[key].extend(p.strip() for p in parts if p.strip())
        return " "

    rest = _TOKEN.sub(take, text)
    # Spaces collapse, lines stay: a long question's first line is its headline (views.py).
    question = "\n".join(" ".join(line.split()) for line in rest.splitlines() if line.strip())
    filters = QueryFilters(
        repos=_unique(found["repo"]),
        paths=_unique(found["path"]),
        langs=_unique(found["lang"]),
        kinds=_unique(found["kind"]),
    )
    return question, filters


def path_glob_matches(glob: str, path: str) -> bool:
    """Glob semantics for ``path:``. ``*`` and ``**`` cross directories (``*.md`` is
    every Markdown file, ``src/**/*.py`` includes ``src/a.py``). Without glob characters a
    pattern with an extension is a path suffix (``retry.py``, ``payments/retry.py``) and
    one without is a directory from the repository root (``payments``)."""
    pattern = glob.strip().lstrip("/")
    if not _GLOB_CHARS.search(pattern):
        base = pattern.rstrip("/")
        if _has_extension(base):
            return path == base or path.endswith("/" + base)
        return path.startswith(base + "/")
    if fnmatch.fnmatchcase(path, pattern):
        return True
    return "**/" in pattern and fnmatch.fnmatchcase(path, pattern.replace("**/", ""))


def glob_prefilter(glob: str) -> tuple[str, str] | None:
    """A payload condition every path matching ``glob`` meets, so the engine narrows the
    candidates before the exact glob check in Python: ``("path_keys", "retry.py")`` for
    a literal file name, ``("dirs", "src/api")`` for a literal leading directory,
    ``("ext", "py")`` for a literal extension; ``None`` when nothing is literal."""
    pattern = glob.strip().lstrip("/")
    if not _GLOB_CHARS.search(pattern):
        base = pattern.rstrip("/")
        return ("path_keys", base.lower()) if _has_extension(base) else ("dirs", base)
    name = pattern.rsplit("/", 1)[-1]
    if not _GLOB_CHARS.search(name):
        return ("path_keys", name.lower())
    literal = _GLOB_CHARS.split(pattern, 1)[0]
    if "/" in literal:
        return ("dirs", literal.rsplit("/", 1)[0])
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    if ext and not _GLOB_CHARS.search(ext):
        return ("ext", ext.lower())
    return None


def _has_extension(pattern: str) -> bool:
    name = pattern.rsplit("/", 1)[-1]
    return "." in name.strip(".")
