from __future__ import annotations

import dataclasses

import pytest

from indexers.chunking.select import ChunkResult, chunk_text, resolve_language
from tests.unit.chunking import snippets
from tests.unit.chunking.helpers import (
    assert_covers,
    assert_disjoint_in_order,
    assert_line_exact,
)

ALL_SNIPPETS = [
    ("client.py", snippets.PYTHON), ("client.js", snippets.JAVASCRIPT),
    ("client.ts", snippets.TYPESCRIPT), ("greeter.tsx", snippets.TSX),
    ("server.go", snippets.GO), ("HttpClient.java", snippets.JAVA),
    ("server.rs", snippets.RUST), ("buffer.c", snippets.C), ("client.cpp", snippets.CPP),
    ("Client.cs", snippets.CSHARP), ("client.rb", snippets.RUBY), ("client.php", snippets.PHP),
    ("Client.kt", snippets.KOTLIN),
]
GARBAGE = "}}} ]] This is ]]] not {{ code @@@ ?? <<< >>> ::: ;;;\n" * 100


@pytest.mark.parametrize(("path", "source"), ALL_SNIPPETS, ids=[p for p, _ in ALL_SNIPPETS])
@pytest.mark.parametrize("max_chars", [120, 1500])
def test_code_files_use_the_code_strategy_and_cover_every_line(path, source, max_chars):
    result = chunk_text(source, path, max_chars=max_chars)
    assert (result.strategy, result.fallback_reason) == ("code", None)
    assert_covers(source, result.chunks)
    assert_disjoint_in_order(result.chunks)
    assert_line_exact(source, result.chunks)


def test_unknown_extension_falls_back_to_overlapping_windows():
    text = "".join(f"row {i}: some opaque content\n" for i in range(1, 101))
    result = chunk_text(text, "data/blob.xyz")
    assert (result.strategy, result.fallback_reason) == ("window", "unknown-language")
    assert [(c.start_line, c.end_line) for c in result.chunks] == [(1, 40), (33, 72), (65, 100)]
    assert [c.index for c in result.chunks] == [0, 1, 2]
    assert_line_exact(text, result.chunks)


def test_known_language_without_grammar_is_windowed_as_unknown():
    result = chunk_text("key: value\nother: 2\n", "config/app.yaml")
    assert (result.strategy, result.fallback_reason) == ("window", "unknown-language")
    assert len(result.chunks) == 1


def test_garbage_code_falls_back_to_windows_with_parse_error():
    result = chunk_text(GARBAGE, "src/broken.py")
    assert (result.strategy, result.fallback_reason) == ("window", "parse-error")
    spans = [(c.start_line, c.end_line) for c in result.chunks]
    assert len(spans) >= 3
    assert all(b[0] <= a[1] for a, b in zip(spans, spans[1:]))  # windows overlap
    assert_covers(GARBAGE, result.chunks)
    assert all(len(c.text) <= 1500 for c in result.chunks)


def test_docs_use_the_prose_strategy():
    text = "# Deploy\n\nSteps.\n\n## Rollback\n\nRevert.\n"
    result = chunk_text(text, "docs/ops.md")
    assert (result.strategy, result.fallback_reason) == ("prose", None)
    assert [c.title for c in result.chunks] == ["Deploy", "Deploy > Rollback"]


def test_caller_language_wins_over_the_extension():
    result = chunk_text("# Title\n\nBody.\n", "wiki/page-42", language="Markdown")
    assert result.strategy == "prose"
    assert result.chunks[0].title == "Title"


def test_shebang_detects_extensionless_scripts():
    text = "#!/usr/bin/env python3\nimport sys\n\n\ndef main():\n    return 0\n"
    result = chunk_text(text, "bin/tool")
    assert result.strategy == "code"


def test_cpp_header_with_h_extension_is_parsed_as_cpp():
    text = "#pragma once\nnamespace net {\nclass Client {\npublic:\n    int send();\n};\n}\n"
    assert resolve_language(text, "include/client.h") == "cpp"
    assert resolve_language("int add(int a, int b);\n", "include/add.h") == "c"


def test_blank_text_gives_no_chunks_and_other_text_never_zero():
    assert chunk_text("  \n\n", "a.py") == ChunkResult((), "window", None)
    for path in ("a.py", "a.md", "a.xyz", "a.json", "a.rst", "a.txt", "a.html"):
        assert chunk_text("x\n", path).chunks, path


def test_result_is_frozen():
    result = chunk_text("x = 1\n", "a.py")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.strategy = "window"  # type: ignore[misc]
    assert isinstance(result.chunks, tuple)
