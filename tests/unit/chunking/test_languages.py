from __future__ import annotations

import threading

import pytest

from indexers.chunking.languages import (
    CODE_LANGUAGES,
    detect_language,
    get_parser,
    is_prose,
    language_from_shebang,
)


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("pkg/mod.py", "python"), ("web/app.mjs", "javascript"), ("web/App.jsx", "javascript"),
        ("src/a.ts", "typescript"), ("src/A.tsx", "tsx"), ("cmd/main.go", "go"),
        ("Main.java", "java"), ("src/lib.rs", "rust"), ("x.c", "c"), ("x.h", "c"),
        ("x.cc", "cpp"), ("x.hpp", "cpp"), ("Program.cs", "csharp"), ("app.rb", "ruby"),
        ("Rakefile", "ruby"), ("index.php", "php"), ("Main.kt", "kotlin"),
        ("build.gradle.kts", "kotlin"), ("README.md", "markdown"), ("docs/index.rst", "rst"),
        ("guide.adoc", "asciidoc"), ("notes.txt", "text"), ("README", "text"),
        ("page.html", "html"), ("ci.yml", "yaml"), ("package.json", "json"),
        ("pyproject.toml", "toml"), ("run.sh", "shell"), ("schema.sql", "sql"),
        ("Dockerfile", "dockerfile"), ("Makefile", "makefile"), ("CMakeLists.txt", "cmake"),
        ("C:\\src\\App.TS", "typescript"), ("blob.xyz", None), ("noext", None),
    ],
)
def test_detect_language(path, language):
    assert detect_language(path) == language


def test_is_prose():
    assert all(is_prose(x) for x in ("markdown", "rst", "asciidoc", "text", "html"))
    assert not any(is_prose(x) for x in ("python", "yaml", None))


def test_shebang():
    assert language_from_shebang("#!/usr/bin/env python3\n") == "python"
    assert language_from_shebang("#!/bin/sh\necho\n") == "shell"
    assert language_from_shebang("print(1)\n") is None


@pytest.mark.parametrize("language", sorted(CODE_LANGUAGES))
def test_every_grammar_loads_from_its_wheel_and_is_reused(language):
    parser = get_parser(language)
    assert parser is not None
    assert get_parser(language) is parser
    assert parser.parse(b"\n").root_node is not None


def test_thirteen_grammars():
    assert len(CODE_LANGUAGES) == 13


def test_no_parser_without_grammar():
    assert get_parser("markdown") is None
    assert get_parser("cobol") is None


def test_parsers_are_per_thread():
    here = get_parser("python")
    there: list[object] = []
    worker = threading.Thread(target=lambda: there.append(get_parser("python")))
    worker.start()
    worker.join()
    assert there[0] is not None and there[0] is not here
