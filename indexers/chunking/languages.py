"""Language names from paths, and tree-sitter parsers from the per-language wheels.

Grammars come only from the ``tree-sitter-<lang>`` wheels installed with the project:
tree-sitter-language-pack 1.x downloads grammars at run time and fails offline.
Parsers are built lazily and reused (one per language and thread, since a
``tree_sitter.Parser`` is not safe to share between threads).
"""

from __future__ import annotations

import importlib
import os
import threading

import tree_sitter

# language -> (module, function returning the grammar pointer)
_GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "java": ("tree_sitter_java", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "csharp": ("tree_sitter_c_sharp", "language"),
    "ruby": ("tree_sitter_ruby", "language"),
    "php": ("tree_sitter_php", "language_php"),
    "kotlin": ("tree_sitter_kotlin", "language"),
}

CODE_LANGUAGES: frozenset[str] = frozenset(_GRAMMARS)
PROSE_LANGUAGES: frozenset[str] = frozenset({"markdown", "rst", "asciidoc", "text", "html", "org"})

_EXTENSIONS: dict[str, str] = {
    # tree-sitter languages
    ".py": "python", ".pyi": "python", ".pyw": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".java": "java",
    ".rs": "rust",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".c++": "cpp", ".hpp": "cpp", ".hh": "cpp",
    ".hxx": "cpp", ".h++": "cpp", ".ipp": "cpp", ".inl": "cpp", ".tpp": "cpp",
    ".cs": "csharp", ".csx": "csharp",
    ".rb": "ruby", ".rake": "ruby", ".gemspec": "ruby", ".ru": "ruby",
    ".php": "php", ".phtml": "php",
    ".kt": "kotlin", ".kts": "kotlin",
    # prose
    ".md": "markdown", ".markdown": "markdown", ".mdx": "markdown", ".mkd": "markdown",
    ".mdown": "markdown",
    ".rst": "rst", ".rest": "rst",
    ".adoc": "asciidoc", ".asciidoc": "asciidoc", ".asc": "asciidoc",
    ".txt": "text", ".text": "text",
    ".html": "html", ".htm": "html", ".xhtml": "html",
    ".org": "org",
    # no grammar here; names for filters and later use
    ".yml": "yaml", ".yaml": "yaml",
    ".json": "json", ".jsonc": "json", ".json5": "json",
    ".toml": "toml",
    ".ini": "ini", ".cfg": "ini", ".conf": "ini", ".properties": "ini",
    ".sh": "shell", ".bash": "shell", ".zsh": "shell", ".ksh": "shell", ".fish": "shell",
    ".ps1": "powershell",
    ".sql": "sql",
    ".xml": "xml", ".xsd": "xml", ".xsl": "xml", ".plist": "xml",
    ".css": "css", ".scss": "css", ".sass": "css", ".less": "css",
    ".proto": "protobuf",
    ".graphql": "graphql", ".gql": "graphql",
    ".tf": "terraform", ".tfvars": "terraform", ".hcl": "terraform",
    ".mk": "makefile",
    ".cmake": "cmake",
    ".dockerfile": "dockerfile",
    ".gradle": "groovy", ".groovy": "groovy",
    ".scala": "scala", ".sc": "scala",
    ".swift": "swift",
    ".dart": "dart",
    ".lua": "lua",
    ".pl": "perl", ".pm": "perl",
    ".r": "r",
    ".ex": "elixir", ".exs": "elixir",
    ".erl": "erlang",
    ".hs": "haskell",
    ".ml": "ocaml", ".mli": "ocaml",
    ".clj": "clojure", ".cljs": "clojure",
    ".vue": "vue",
    ".svelte": "svelte",
    ".m": "objc", ".mm": "objc",
    ".zig": "zig",
    ".nix": "nix",
    ".csv": "csv", ".tsv": "csv",
}

_FILENAMES: dict[str, str] = {
    "makefile": "makefile", "gnumakefile": "makefile",
    "dockerfile": "dockerfile", "containerfile": "dockerfile",
    "cmakelists.txt": "cmake",
    "rakefile": "ruby", "gemfile": "ruby", "guardfile": "ruby", "vagrantfile": "ruby",
    "podfile": "ruby", "fastfile": "ruby", "brewfile": "ruby",
    "jenkinsfile": "groovy",
    "readme": "text", "license": "text", "licence": "text", "copying": "text",
    "authors": "text", "notice": "text", "changelog": "text", "contributing": "text",
    "todo": "text",
    ".bashrc": "shell", ".zshrc": "shell", ".profile": "shell", ".envrc": "shell",
    ".gitignore": "text", ".dockerignore": "text",
    ".editorconfig": "ini", ".gitattributes": "text",
}

_SHEBANGS: tuple[tuple[str, str], ...] = (
    ("python", "python"), ("node", "javascript"), ("deno", "typescript"),
    ("ruby", "ruby"), ("php", "php"), ("bash", "shell"), ("zsh", "shell"),
    ("/sh", "shell"), (" sh", "shell"),
)


def detect_language(path: str) -> str | None:
    """Language name from the file name or extension; None when nothing matches."""
    name = os.path.basename(path).lower()
    found = _FILENAMES.get(name)
    if found:
        return found
    stem, ext = os.path.splitext(name)
    if ext:
        found = _EXTENSIONS.get(ext)
        if found:
            return found
        # Dockerfile.prod, Makefile.am, README.old ...
        return _FILENAMES.get(stem)
    return None


def language_from_shebang(text: str) -> str | None:
    """Language from a ``#!`` first line, for extension-less scripts."""
    if not text.startswith("#!"):
        return None
    first = text[: text.find("\n")] if "\n" in text else text
    for needle, language in _SHEBANGS:
        if needle in first:
            return language
    return None


_ALIASES: dict[str, str] = {
    "py": "python", "python3": "python", "js": "javascript", "node": "javascript",
    "jsx": "javascript", "ts": "typescript", "golang": "go", "rs": "rust", "c++": "cpp",
    "cxx": "cpp", "cc": "cpp", "c#": "csharp", "cs": "csharp", "c_sharp": "csharp",
    "rb": "ruby", "kt": "kotlin", "md": "markdown", "restructuredtext": "rst",
    "adoc": "asciidoc", "txt": "text", "plaintext": "text", "htm": "html", "yml": "yaml",
    "sh": "shell", "bash": "shell",
}


def normalize_language(language: str | None) -> str | None:
    """Canonical name for a language given by a caller (``py``, ``C#``, ``TypeScript``)."""
    if not language:
        return None
    name = language.strip().lower()
    return _ALIASES.get(name, name) or None


def is_prose(language: str | None) -> bool:
    """True for documentation formats chunked by headings rather than by syntax."""
    return language in PROSE_LANGUAGES


def has_grammar(language: str | None) -> bool:
    """True when a tree-sitter grammar wheel is known for the language."""
    return language in _GRAMMARS


_languages: dict[str, tree_sitter.Language] = {}
_languages_lock = threading.Lock()
_local = threading.local()


def get_language(language: str) -> tree_sitter.Language | None:
    """The grammar for ``language``, loaded once per process; None if unavailable."""
    found = _languages.get(language)
    if found is not None:
        return found
    spec = _GRAMMARS.get(language)
    if spec is None:
        return None
    with _languages_lock:
        found = _languages.get(language)
        if found is None:
            try:
                module = importlib.import_module(spec[0])
                found = tree_sitter.Language(getattr(module, spec[1])())
            except (ImportError, AttributeError, ValueError, TypeError):
                return None
            _languages[language] = found
    return found


def get_parser(language: str) -> tree_sitter.Parser | None:
    """A reusable parser for ``language`` (per thread); None when no grammar wheel loads."""
    cache: dict[str, tree_sitter.Parser] | None = getattr(_local, "parsers", None)
    if cache is None:
        cache = _local.parsers = {}
    parser = cache.get(language)
    if parser is None:
        grammar = get_language(language)
        if grammar is None:
            return None
        parser = cache[language] = tree_sitter.Parser(grammar)
    return parser
