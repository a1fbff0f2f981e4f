"""Definitions per language: what a doc can name, with lines, signatures and values."""

from __future__ import annotations

import pytest

from indexers.chunking.code import CodeParseError
from indexers.chunking.select import chunk_text
from indexers.staleness.symbols import (
    Definition,
    Param,
    definitions_from_tree,
    extract_definitions,
    module_names,
)
from tests.fixtures.gitrepo import PAYMENTS_RETRY
from tests.unit.chunking import snippets


def by_name(defs: list[Definition]) -> dict[str, Definition]:
    return {d.name: d for d in defs}


def names(defs: list[Definition], kind: str | None = None) -> list[str]:
    return [d.name for d in defs if kind is None or d.kind == kind]


# --- Python ---------------------------------------------------------------------------


def test_python_functions_classes_methods_with_lines_and_signatures() -> None:
    defs = by_name(extract_definitions(PAYMENTS_RETRY, "payments/retry.py"))
    assert defs["RETRY_LIMIT"] == Definition("RETRY_LIMIT", "constant", 3, 3, value="5")
    assert (defs["RetryPolicy"].kind, defs["RetryPolicy"].line, defs["RetryPolicy"].end_line) == ("class", 6, 13)
    delay = defs["RetryPolicy.delay"]
    assert (delay.kind, delay.line, delay.end_line) == ("method", 12, 13)
    assert delay.signature == "(self, attempt: int)"
    retry = defs["retry_failed_payment"]
    assert retry.kind == "function" and retry.signature == "(payment_id: str, attempt: int = 0)"
    assert retry.params == (Param("payment_id", None, "str"), Param("attempt", "0", "int"))
    assert defs["RetryPolicy.base_delay"].kind == "variable"  # self.base_delay = ... in __init__


SIGNATURES = '''\
def f(a, /, b: int = 1, *args, c=None, d: "str" = 'x', **kw) -> int:
    pass


def g(*, key,
      timeout: float   =  2.5,
      ):
    pass


async def h(items: list[int] = (1,
                                2)):
    pass
'''


def test_python_signature_markers_defaults_and_annotations() -> None:
    defs = by_name(extract_definitions(SIGNATURES, "m.py"))
    assert defs["f"].signature == "(a, /, b: int = 1, *args, c=None, d: \"str\" = 'x', **kw)"
    assert [p.name for p in defs["f"].params] == ["a", "/", "b", "*args", "c", "d", "**kw"]
    assert defs["g"].signature == "(*, key, timeout: float = 2.5)"  # whitespace normalised
    assert defs["g"].line == 5 and defs["g"].end_line == 8
    assert defs["h"].params == (Param("items", "(1, 2)", "list[int]"),)


NESTED = '''\
import os
from dataclasses import dataclass, field


class Outer:
    LIMIT = 3
    mode: str = "fast"

    class Inner:
        @staticmethod
        def build(x):
            return x

    @property
    def size(self) -> int:
        return 1

    @size.setter
    def size(self, value):
        self._size = value


def outer():
    local_value = 1

    def helper():
        return local_value

    class Local:
        pass

    return helper
'''


def test_python_nested_classes_properties_and_no_function_locals() -> None:
    defs = extract_definitions(NESTED, "pkg/outer.py")
    found = by_name(defs)
    assert found["Outer.Inner"].kind == "class"
    assert found["Outer.Inner.build"].kind == "method" and found["Outer.Inner.build"].line == 11
    assert found["Outer.size"].kind == "method" and found["Outer.size"].line == 15  # the getter, not the setter
    assert names(defs).count("Outer.size") == 1
    assert found["Outer.LIMIT"] == Definition("Outer.LIMIT", "constant", 6, 6, value="3")
    assert found["Outer.mode"].kind == "variable" and found["Outer.mode"].value == '"fast"'
    assert found["Outer._size"].kind == "variable"
    assert "outer" in found
    for local in ("local_value", "helper", "Local", "outer.helper", "outer.Local"):
        assert local not in found


RECORDS = '''\
import attr
from typing import ClassVar, NamedTuple, TypedDict

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings


@dataclass(frozen=True)
class Options:
    name: str
    retries: int = 3
    tags: list[str] = field(default_factory=list)
    REGISTRY: ClassVar[dict] = {}


@attr.s
class Legacy:
    x = attr.ib(default=1)


class Settings(BaseSettings):
    url: str = Field(default="http://x")


class Point(NamedTuple):
    x: int
    y: int = 0


class Movie(TypedDict):
    title: str


class Plain:
    hint: int
'''


def test_python_record_fields_are_settings() -> None:
    found = by_name(extract_definitions(RECORDS, "models.py"))
    for name in ("Options.name", "Options.retries", "Options.tags", "Legacy.x", "Settings.url",
                 "Point.x", "Point.y", "Movie.title"):
        assert found[name].kind == "setting", name
    assert found["Options.retries"].value == "3"
    assert found["Options.REGISTRY"].kind == "constant"  # ClassVar: not a field
    assert found["Plain.hint"].kind == "variable"


def test_env_keys_read_through_the_private_environ_alias() -> None:
    """``from os import environ as _environ`` (sphinx's colour module): the keys it reads
    are declared; a doc naming them must not get a dead reference."""
    text = (
        "from os import environ as _environ\n"
        "if 'NO_COLOUR' in _environ or 'NO_COLOR' in _environ:\n"
        "    pass\n"
        "CI = _environ.get('CI_MODE', '')\n"
        "TERM = _environ['TERM_KIND']\n"
        "OTHER = my_environ.get('NOT_ENV')\n"
        "if 'NOT_ENV_EITHER' in a_environ:\n"
        "    pass\n"
    )
    assert names(extract_definitions(text, "colour.py"), "env") == [
        "NO_COLOUR", "NO_COLOR", "CI_MODE", "TERM_KIND"]


MODULE_LEVEL = '''\
import os
from os import environ, getenv

TIMEOUT = int(os.environ.get("PAYMENTS_TIMEOUT", "5"))
URL = os.environ["PAYMENTS_URL"]
DEBUG = getenv("PAYMENTS_DEBUG") == "1"
environ.setdefault("PAYMENTS_MODE", "live")
if "PAYMENTS_TRACE" in os.environ:
    pass
HOST, PORT = "localhost", 8080
a = b = 2
NEGATIVE = -1
RATE: float = 0.5
NAMES = ("a", "b")
GREETING = f"hi {URL}"
LONG = "x" * 1000
COMPUTED = compute()
try:
    import ujson as json
    FAST = True
except ImportError:
    FAST = False
if TYPE_CHECKING:
    HINT = 1
if __name__ == "__main__":
    MAIN_ONLY = 1
for loop_var in range(3):
    pass
'''


def test_python_module_level_names_values_and_env_keys() -> None:
    defs = extract_definitions(MODULE_LEVEL, "config.py")
    found = by_name(defs)
    assert names(defs, "env") == ["PAYMENTS_TIMEOUT", "PAYMENTS_URL", "PAYMENTS_DEBUG",
                                  "PAYMENTS_MODE", "PAYMENTS_TRACE"]
    assert found["PAYMENTS_URL"].line == 5
    assert (found["HOST"].value, found["PORT"].value) == ('"localhost"', "8080")
    assert found["a"].value == found["b"].value == "2"
    assert found["NEGATIVE"].value == "-1" and found["RATE"].value == "0.5"
    assert found["NAMES"].value == '("a", "b")'
    assert found["GREETING"].value is None  # an f-string is not a literal
    assert found["COMPUTED"].value is None and found["COMPUTED"].kind == "constant"
    assert "FAST" in found and "HINT" in found  # under try/if at module level
    assert "MAIN_ONLY" not in found and "loop_var" not in found


OPTIONS = '''\
import argparse

import click


def pytest_addoption(parser):
    group = parser.getgroup("general")
    group.addoption(
        "--dry-run",
        action="store_true",
        help="do nothing",
    )
    parser.addini("retry_limit", "how often", default="3")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("-n", "--max-workers", type=int)
    p.add_argument("--")


@click.command()
@click.option("--color/--no-color", default=True)
def cli(color):
    print("--not-an-option")


class Checker:
    options = (
        ("max-line-length", {"default": 100, "type": "int"}),
        ("ignore-patterns", {"default": ()}),
    )
'''


def test_declared_options_and_config_keys() -> None:
    defs = extract_definitions(OPTIONS, "plugin.py")
    assert names(defs, "option") == ["--dry-run", "--max-workers", "--color", "--no-color",
                                     "--max-line-length", "--ignore-patterns"]
    assert by_name(defs)["--dry-run"].line == 8  # the declaring call
    settings = names(defs, "setting")
    assert "retry_limit" in settings and "max-line-length" in settings


def test_sphinx_config_values_are_settings() -> None:
    text = 'def setup(app):\n    app.add_config_value("autodoc_member_order", "alphabetical", True)\n'
    assert names(extract_definitions(text, "ext.py"), "setting") == ["autodoc_member_order"]


def test_definitions_from_the_chunkers_tree_match_a_fresh_parse() -> None:
    result = chunk_text(PAYMENTS_RETRY, "payments/retry.py")
    assert result.strategy == "code" and result.tree is not None and result.language == "python"
    from_tree = definitions_from_tree(result.tree, PAYMENTS_RETRY, "payments/retry.py", "python")
    assert from_tree == extract_definitions(PAYMENTS_RETRY, "payments/retry.py")
    assert definitions_from_tree(result.tree.root_node, PAYMENTS_RETRY, "payments/retry.py",
                                 "python") == from_tree


def test_prose_and_window_fallbacks_carry_no_tree() -> None:
    assert chunk_text("# Title\n\nBody.\n", "docs/a.md").tree is None
    garbage = "def (((:\n" * 40
    result = chunk_text(garbage, "src/broken.py")
    assert result.strategy == "window" and result.tree is None


def test_extract_definitions_refuses_what_indexing_would_not_trust() -> None:
    with pytest.raises(CodeParseError):
        extract_definitions("def (((:\n" * 40, "src/broken.py")
    with pytest.raises(LookupError):
        extract_definitions("key: value\n", "config.yaml")
    assert extract_definitions("   \n", "empty.py") == []


def test_huge_generated_value_is_not_stored() -> None:
    text = "TABLE = (" + ", ".join(str(i) for i in range(200)) + ")\n"
    assert by_name(extract_definitions(text, "gen.py"))["TABLE"].value is None


# --- the other languages ------------------------------------------------------------

LANGUAGE_CASES = [
    ("JAVASCRIPT", "web/client.js", {
        "HttpClient": ("class", 3), "HttpClient.constructor": ("method", 4),
        "HttpClient.send": ("method", 8), "fetchJson": ("function", 14), "parse": ("function", 18)}),
    ("TYPESCRIPT", "web/client.ts", {
        "Request": ("class", 3), "HttpClient": ("class", 7), "HttpClient.send": ("method", 11),
        "fetchJson": ("function", 17)}),
    ("TSX", "web/app.tsx", {"Greeter": ("class", 3), "Greeter.render": ("method", 8), "App": ("function", 13)}),
    ("GO", "server/server.go", {
        "Server": ("class", 6), "Server.Start": ("method", 12), "Server.Name": ("method", 16),
        "New": ("function", 20)}),
    ("JAVA", "src/HttpClient.java", {
        "HttpClient": ("class", 5), "HttpClient.send": ("method", 13), "Transport": ("class", 19),
        "Transport.post": ("method", 20)}),
    ("RUST", "src/server.rs", {
        "Server": ("class", 5), "Server.new": ("method", 10), "Server.start": ("method", 14),
        "run": ("function", 20)}),
    ("C", "src/buffer.c", {
        "BUF_SIZE": ("constant", 3), "buffer_t": ("class", 5), "buffer_init": ("function", 10),
        "buffer_free": ("function", 16)}),
    ("CPP", "src/client.cpp", {
        "HttpClient": ("class", 5), "HttpClient.send": ("method", 9), "fetch": ("function", 18)}),
    ("CSHARP", "src/Client.cs", {
        "HttpClientWrapper": ("class", 5), "HttpClientWrapper.Send": ("method", 14),
        "Helpers.Fetch": ("method", 23)}),
    ("RUBY", "lib/client.rb", {
        "HttpClient": ("class", 3), "HttpClient.send_request": ("method", 10), "fetch": ("function", 16)}),
    ("PHP", "src/Client.php", {
        "HttpClient": ("class", 5), "HttpClient.send": ("method", 14), "fetch": ("function", 21)}),
    ("KOTLIN", "src/Client.kt", {
        "HttpClient": ("class", 5), "HttpClient.send": ("method", 8), "fetch": ("function", 18)}),
]


@pytest.mark.parametrize(("snippet", "path", "expected"), LANGUAGE_CASES,
                         ids=[case[0].lower() for case in LANGUAGE_CASES])
def test_other_languages_functions_classes_methods(snippet: str, path: str,
                                                   expected: dict[str, tuple[str, int]]) -> None:
    found = by_name(extract_definitions(getattr(snippets, snippet), path))
    for name, (kind, line) in expected.items():
        assert name in found, f"{name} missing from {sorted(found)}"
        assert (found[name].kind, found[name].line) == (kind, line), name


CONSTANTS = [
    ("a.js", 'export const MAX_RETRIES = 3;\nconst client = makeClient();\nconst url = process.env.API_URL;\n',
     {"MAX_RETRIES": ("constant", "3"), "API_URL": ("env", None)}, ["client"]),
    ("a.ts", "export const LIMIT: number = 5;\nexport enum Mode { A }\n",
     {"LIMIT": ("constant", "5"), "Mode": ("class", None)}, []),
    ("a.go", 'package p\nconst (\n  A = "a"\n  B, C = 1, 2\n)\nvar V = 3\nfunc F() { os.Getenv("GO_KEY") }\n',
     {"A": ("constant", '"a"'), "B": ("constant", "1"), "C": ("constant", "2"), "V": ("variable", "3"),
      "GO_KEY": ("env", None)}, []),
    ("A.java", "class A { public static final int MAX = 5; private int y; }",
     {"A.MAX": ("constant", "5")}, ["A.y"]),
    ("a.rs", 'const MAX: u32 = 5;\nstatic NAME: &str = "x";\nfn f() { std::env::var("RUST_KEY"); }\n',
     {"MAX": ("constant", "5"), "NAME": ("constant", '"x"'), "RUST_KEY": ("env", None)}, []),
    ("a.c", "#define MAX 5\nstatic const int LIMIT = 3;\nint counter = 0;\n",
     {"MAX": ("constant", "5"), "LIMIT": ("constant", "3")}, ["counter"]),
    ("a.cs", "class A { public const int MAX = 5; }", {"A.MAX": ("constant", "5")}, []),
    ("a.rb", 'MAX = 5\nclass A\n  LIMIT = 3\n  def m\n    ENV["RB_KEY"]\n  end\nend\n',
     {"MAX": ("constant", "5"), "A.LIMIT": ("constant", "3"), "RB_KEY": ("env", None)}, []),
    ("a.php", "<?php\nconst MAX = 5;\nclass A { const LIMIT = 3; }\n$k = $_ENV['PHP_KEY'] ?? getenv('PHP_OTHER');\n",
     {"MAX": ("constant", "5"), "A.LIMIT": ("constant", "3"), "PHP_KEY": ("env", None),
      "PHP_OTHER": ("env", None)}, []),
    ("a.kt", "const val MAX = 5\n", {"MAX": ("constant", "5")}, []),
]


@pytest.mark.parametrize(("path", "text", "expected", "absent"), CONSTANTS,
                         ids=[case[0] for case in CONSTANTS])
def test_other_languages_constants_and_env_keys(path: str, text: str,
                                                expected: dict[str, tuple[str, str | None]],
                                                absent: list[str]) -> None:
    found = by_name(extract_definitions(text, path))
    for name, (kind, value) in expected.items():
        assert name in found, f"{name} missing from {sorted(found)}"
        assert (found[name].kind, found[name].value) == (kind, value), name
    for name in absent:
        assert name not in found


SIGNATURE_CASES = [
    ("a.js", "function f(a, b = 1, ...rest) {}", "f", "(a, b = 1, ...rest)", [("a", None), ("b", "1"), ("rest", None)]),
    ("a.ts", 'function f(a?: number, b: string = "x") {}', "f", '(a?: number, b: string = "x")',
     [("a", None), ("b", '"x"')]),
    ("a.go", "package p\nfunc F(a, b int) {}\n", "F", "(a, b int)", [("a", None), ("b", None)]),
    ("a.cs", 'class A { public void M(int a, string b = "x") {} }', "A.M", '(int a, string b = "x")',
     [("a", None), ("b", '"x"')]),
    ("a.kt", 'class A { fun m(a: Int, b: String = "x", c: Int): Int { return 1 } }', "A.m",
     '(a: Int, b: String = "x", c: Int)', [("a", None), ("b", '"x"'), ("c", None)]),
    ("a.rb", "def m(a, b = 1)\nend\n", "m", "(a, b = 1)", [("a", None), ("b", "1")]),
    ("a.php", "<?php\nfunction m($a, $b = 1) {}\n", "m", "($a, $b = 1)", [("$a", None), ("$b", "1")]),
    ("a.c", "int f(int a, char *b) { return 0; }", "f", "(int a, char *b)", [("a", None), ("b", None)]),
]


@pytest.mark.parametrize(("path", "text", "name", "signature", "params"), SIGNATURE_CASES,
                         ids=[case[0] for case in SIGNATURE_CASES])
def test_other_languages_signatures(path: str, text: str, name: str, signature: str,
                                    params: list[tuple[str, str | None]]) -> None:
    found = by_name(extract_definitions(text, path))[name]
    assert found.signature == signature
    assert [(p.name, p.default) for p in found.params] == params


def test_module_names() -> None:
    assert module_names("src/pkg/mod.py") == ["pkg.mod", "src.pkg.mod"]
    assert module_names("pkg/__init__.py") == ["pkg"]
    assert module_names("pkg/mod.py") == ["pkg.mod"]
    assert module_names("src/_pytest/python.py") == ["_pytest.python", "src._pytest.python"]
    assert module_names("web/index.js") == ["web"]
    assert module_names("my-scripts/tool.py") == []
    assert module_names("Makefile") == []


def test_credentials_never_reach_the_symbol_table() -> None:
    text = ('API_KEY = "live-123"\nDB_PASSWORD = "hunter2"\nWEBHOOK = "xoxb-123-456"\nRETRIES = 3\nAUTH_RETRIES = 2\n'
            'def connect(host="db", password="hunter2", token=None, retries=3):\n    pass\n')
    found = by_name(extract_definitions(text, "settings.py"))
    assert found["API_KEY"].value == found["DB_PASSWORD"].value == found["WEBHOOK"].value == "<redacted>"
    assert found["RETRIES"].value == "3" and found["AUTH_RETRIES"].value == "2"
    connect = found["connect"]
    assert "hunter2" not in (connect.signature or "")
    assert [(p.name, p.default) for p in connect.params] == [
        ("host", '"db"'), ("password", "<redacted>"), ("token", "None"), ("retries", "3")]
    go = by_name(extract_definitions('package p\nconst ApiToken = "t0k3n"\n', "a.go"))
    assert go["ApiToken"].value == "<redacted>"


def test_a_huge_parameter_list_is_bounded() -> None:
    text = "def f(" + ", ".join(f"p{i}=1" for i in range(1000)) + "):\n    pass\n"
    found = by_name(extract_definitions(text, "gen.py"))["f"]
    assert len(found.params) == 200 and (found.signature is None or len(found.signature) <= 2000)


def test_a_long_assignment_chain_is_walked_once() -> None:
    """jinja has ``a = b = ... = x`` 50 targets long; recursing at every link emitted (and
    took) 2^n definitions, 16 GB and 20 minutes for one file. Each target once now."""
    from indexers.chunking.code import chunk_code_tree
    from indexers.staleness.symbols_python import _assignment

    n = 14
    text = " = ".join(f"N{i}" for i in range(n)) + " = 1\n"
    _, tree = chunk_code_tree(text, "python")
    node = tree.root_node.named_children[0].named_children[0]
    assert node.type == "assignment"
    out: list = []
    _assignment(node, "", False, out)
    assert [d.name for d in out] == [f"N{i}" for i in range(n)]
    assert {d.value for d in out} == {"1"}
