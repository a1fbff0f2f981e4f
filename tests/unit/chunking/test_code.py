from __future__ import annotations

import pytest

from indexers.chunking.code import CodeParseError, chunk_code
from tests.unit.chunking import snippets
from tests.unit.chunking.helpers import (
    assert_covers,
    assert_disjoint_in_order,
    assert_line_exact,
)

# language, source, budget that splits the class but keeps methods whole,
# expected symbols, (a method symbol, its first line, its last line)
CASES = [
    ("python", snippets.PYTHON, 200,
     {"HttpClient", "HttpClient.__init__", "HttpClient.send", "fetch"},
     ("HttpClient.send", 10, 13)),
    ("javascript", snippets.JAVASCRIPT, 200,
     {"HttpClient", "HttpClient.constructor", "HttpClient.send", "fetchJson", "parse"},
     ("HttpClient.constructor", 4, 6)),
    ("typescript", snippets.TYPESCRIPT, 200,
     {"Request", "HttpClient", "HttpClient.constructor", "HttpClient.send", "fetchJson"},
     ("HttpClient.send", 10, 15)),
    ("tsx", snippets.TSX, 200,
     {"Greeter", "Greeter.greet", "Greeter.render", "App"},
     ("Greeter.greet", 4, 6)),
    ("go", snippets.GO, 200,
     {"Server", "Server.Start", "Server.Name", "New"},
     ("Server.Start", 11, 14)),
    ("java", snippets.JAVA, 200,
     {"HttpClient", "HttpClient.HttpClient", "HttpClient.send", "Transport"},
     ("HttpClient.send", 12, 17)),
    ("rust", snippets.RUST, 200,
     {"Server", "Server.new", "Server.start", "run"},
     ("Server.new", 10, 12)),
    ("c", snippets.C, 200,
     {"buffer_t", "buffer_init", "buffer_free"},
     ("buffer_init", 10, 14)),
    ("cpp", snippets.CPP, 200,
     {"HttpClient", "HttpClient.HttpClient", "HttpClient.send", "fetch"},
     ("HttpClient.send", 9, 12)),
    ("csharp", snippets.CSHARP, 200,
     {"HttpClientWrapper", "HttpClientWrapper.HttpClientWrapper", "HttpClientWrapper.Send",
      "Helpers"},
     ("HttpClientWrapper.HttpClientWrapper", 9, 12)),
    ("ruby", snippets.RUBY, 150,
     {"HttpClient", "HttpClient.initialize", "HttpClient.send_request", "fetch"},
     ("HttpClient.initialize", 6, 8)),
    ("php", snippets.PHP, 200,
     {"HttpClient", "HttpClient.__construct", "HttpClient.send", "fetch"},
     ("HttpClient.__construct", 9, 12)),
    ("kotlin", snippets.KOTLIN, 200,
     {"HttpClient", "HttpClient.send", "HttpClient.close", "fetch"},
     ("HttpClient.send", 8, 11)),
]
IDS = [case[0] for case in CASES]


@pytest.mark.parametrize(("language", "source", "budget", "symbols", "method"), CASES, ids=IDS)
def test_symbols_and_method_lines(language, source, budget, symbols, method):
    chunks = chunk_code(source, language, max_chars=budget, min_chars=0)
    assert {c.symbol for c in chunks if c.symbol} == symbols
    name, first, last = method
    (found,) = [c for c in chunks if c.symbol == name]
    assert (found.start_line, found.end_line) == (first, last)
    assert found.chunk_kind == ("function" if language == "c" else "method")
    assert_line_exact(source, chunks)


@pytest.mark.parametrize(("language", "source", "budget", "symbols", "method"), CASES, ids=IDS)
def test_methods_of_a_split_class_carry_the_class_header(language, source, budget, symbols,
                                                         method):
    chunks = chunk_code(source, language, max_chars=budget, min_chars=0)
    (found,) = [c for c in chunks if c.symbol == method[0]]
    owner = method[0].split(".")[0]
    if language in ("go", "c"):  # methods/functions live outside any type body
        assert found.context is None
    else:
        assert found.context is not None and owner in found.context


@pytest.mark.parametrize(("language", "source", "budget", "symbols", "method"), CASES, ids=IDS)
@pytest.mark.parametrize("max_chars", [90, 150, 250, 1500])
@pytest.mark.parametrize("min_chars", [0, 200])
def test_every_line_lands_in_exactly_one_chunk(language, source, budget, symbols, method,
                                               max_chars, min_chars):
    chunks = chunk_code(source, language, max_chars=max_chars, min_chars=min_chars)
    assert chunks
    assert_covers(source, chunks)
    assert_disjoint_in_order(chunks)
    assert_line_exact(source, chunks)
    assert max(len(c.text) for c in chunks) <= max_chars


def test_small_file_is_one_chunk_named_by_its_main_definition():
    chunks = chunk_code(snippets.PYTHON, "python")
    assert len(chunks) == 1
    assert (chunks[0].start_line, chunks[0].end_line) == (1, 17)
    assert chunks[0].symbol == "HttpClient"
    assert chunks[0].chunk_kind == "class"


def test_small_top_level_pieces_merge_but_real_definitions_stand_alone():
    body = "\n".join(f"    total += step_{i}(value)  # accumulate step {i}" for i in range(12))
    source = (
        '"""Numeric helpers used by the scheduler and the reporting jobs."""\n'
        "import os\nimport sys\nfrom collections import defaultdict\n\n"
        "LIMIT = 10\nNAME = 'scheduler'\nDEFAULT_TIMEOUT_SECONDS = 30\n\n\n"
        "def tiny_a():\n    return 1\n\n\ndef tiny_b():\n    return 2\n\n\n"
        f"def compute(value):\n    total = 0\n{body}\n    return total\n\n\n"
        "def tiny_c():\n    return 3\n"
    )
    chunks = chunk_code(source, "python", max_chars=1500, min_chars=200)
    # docstring, imports, constants and the two tiny functions merge into one chunk;
    # compute stands alone, and the tiny function after it rides along with it
    assert [(c.start_line, c.end_line) for c in chunks] == [(1, 16), (19, 37)]
    assert chunks[0].symbol is None and chunks[0].chunk_kind == "code"
    assert chunks[1].symbol == "compute" and chunks[1].chunk_kind == "function"


def _huge_python_method(lines: int = 150) -> str:
    body = "\n".join(
        f"        total += compute_value_{i}(request, retries={i}, timeout=30.0)"
        for i in range(lines)
    )
    return (
        "import os\n\n\nclass HttpClient:\n    \"\"\"Client.\"\"\"\n\n"
        "    def send(self, request):\n        total = 0\n"
        f"{body}\n        return total\n\n    def close(self):\n        pass\n"
    )


def test_huge_function_is_split_and_later_parts_carry_the_signature():
    source = _huge_python_method()
    chunks = chunk_code(source, "python", max_chars=1500, max_lines=60)
    parts = [c for c in chunks if c.symbol == "HttpClient.send"]
    assert len(parts) >= 4
    assert "def send(self, request):" in parts[0].text
    for part in parts[1:]:
        assert part.context == "class HttpClient:\n    def send(self, request):"
        assert "def send" not in part.text
    assert all(len(c.text) <= 1500 and c.end_line - c.start_line < 60 for c in chunks)
    assert parts[-1].text.rstrip().endswith("return total")
    assert chunks[-1].symbol == "HttpClient.close"
    assert_covers(source, chunks)
    assert_disjoint_in_order(chunks)
    assert_line_exact(source, chunks)


def test_huge_go_function_context_is_its_signature_line():
    body = "\n".join(f"\tsum += weight{i} * values[{i}] // term {i}" for i in range(200))
    source = f"package calc\n\nfunc (c *Calc) Score(values []int) int {{\n\tsum := 0\n{body}\n\treturn sum\n}}\n"
    chunks = chunk_code(source, "go", max_chars=800)
    assert len(chunks) > 3
    assert {c.symbol for c in chunks[1:]} == {"Calc.Score"}
    assert all(c.context == "func (c *Calc) Score(values []int) int {" for c in chunks[2:])
    assert_covers(source, chunks)
    assert_disjoint_in_order(chunks)


def test_structure_less_long_statement_is_cut_into_line_windows():
    items = "\n".join(f'    "key_{i}": "value number {i} with some padding text",' for i in range(300))
    source = f"TABLE = {{\n{items}\n}}\n"
    chunks = chunk_code(source, "python", max_chars=1000)
    assert len(chunks) > 5
    assert all(len(c.text) <= 1000 for c in chunks)
    assert_covers(source, chunks)
    assert_disjoint_in_order(chunks)
    assert_line_exact(source, chunks)


def test_doc_comments_and_attributes_stay_with_their_definition():
    chunks = chunk_code(snippets.RUST, "rust", max_chars=200, min_chars=0)
    (server,) = [c for c in chunks if c.symbol == "Server" and c.chunk_kind == "struct"]
    assert server.text.startswith("/// An HTTP server.\n#[derive(Debug)]\npub struct Server {")


def test_rust_trait_impl_methods_use_the_impl_type():
    source = (
        "impl fmt::Display for Server {\n"
        "    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {\n"
        "        write!(f, \"{}\", self.addr)\n    }\n}\n"
    )
    chunks = chunk_code(source, "rust", max_chars=80, min_chars=0)
    assert "Server.fmt" in {c.symbol for c in chunks}


def test_cpp_out_of_class_method_is_class_qualified():
    source = "std::string HttpClient::close() {\n    return \"\";\n}\n"
    (chunk,) = chunk_code(source, "cpp")
    assert chunk.symbol == "HttpClient.close"
    assert chunk.chunk_kind == "method"


def test_a_few_syntax_errors_do_not_lose_structure():
    source = snippets.PYTHON + "\ndef broken(:\n    pass\n"
    chunks = chunk_code(source, "python", max_chars=200, min_chars=0)
    assert "HttpClient.send" in {c.symbol for c in chunks}
    assert_covers(source, chunks)


def test_garbage_raises_parse_error():
    garbage = "}}} ]] not {{ code @@@ ?? <<<\nlorem )))) ipsum ((( dolor\n" * 20
    with pytest.raises(CodeParseError):
        chunk_code(garbage, "python")


def test_unknown_language_raises_lookup_error():
    with pytest.raises(LookupError):
        chunk_code("x = 1\n", "cobol")


def test_blank_text_gives_no_chunks():
    assert chunk_code("\n\n   \n", "python") == []


def test_context_skips_annotations_and_keeps_multi_line_signatures():
    body = "\n".join(f"        total += weights[{i}] * request.value({i});" for i in range(80))
    source = (
        "@Service\npublic class Scorer {\n"
        "    @Override\n    @Timed(name = \"score\")\n"
        "    public long score(Request request,\n                      double[] weights) {\n"
        f"        long total = 0;\n{body}\n        return total;\n    }}\n}}\n"
    )
    chunks = chunk_code(source, "java", max_chars=1000)
    later = [c for c in chunks if c.symbol == "Scorer.score"][1:]
    assert later
    for chunk in later:
        assert chunk.context == (
            "public class Scorer {\n"
            "    public long score(Request request,\n"
            "                      double[] weights) {"
        )
    assert_covers(source, chunks)
    assert_disjoint_in_order(chunks)


def test_lines_holding_only_unnamed_tokens_are_not_lost():
    fields = "\n".join(f"  field{i} = compute({i})\n  ;" for i in range(12))
    source = f"class Table {{\n{fields}\n}}\n"
    chunks = chunk_code(source, "javascript", max_chars=120, min_chars=0)
    assert len(chunks) > 2
    assert_covers(source, chunks)
    assert_disjoint_in_order(chunks)
    assert_line_exact(source, chunks)


def test_typescript_namespace_members_are_qualified():
    source = (
        "export namespace Util {\n"
        "  export function noop(): void {\n    return;\n  }\n\n"
        "  export function twice(x: number): number {\n    return x * 2;\n  }\n}\n"
    )
    chunks = chunk_code(source, "typescript", max_chars=80, min_chars=0)
    assert {c.symbol for c in chunks} == {"Util", "Util.noop", "Util.twice"}
    (twice,) = [c for c in chunks if c.symbol == "Util.twice"]
    assert (twice.start_line, twice.end_line, twice.chunk_kind) == (6, 9, "function")
