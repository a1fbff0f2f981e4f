"""Exact-match keys: what chunks define, what paths are called, what questions name."""

from __future__ import annotations

import pytest

from assistant.retrieval.identifiers import (
    defined_symbols,
    dir_prefixes,
    extension,
    file_role,
    path_keys,
    question_identifiers,
    question_path_keys,
)
from tests.fixtures.gitrepo import HTTP_CLIENT, PAYMENTS_RETRY


def test_python_definitions_with_class_members_and_constants() -> None:
    names = defined_symbols(PAYMENTS_RETRY, "RetryPolicy")
    assert {"retry_limit", "retrypolicy", "retrypolicy.delay", "delay", "retry_failed_payment"} <= set(names)
    assert "self.base_delay" not in names and "base_delay" not in names  # assignments in a body


def test_javascript_class_methods() -> None:
    names = defined_symbols(HTTP_CLIENT)
    assert {"httpclient", "httpclient.send", "send", "buildrequest"} <= set(names)
    assert "fetch" not in names and "return" not in names


@pytest.mark.parametrize(
    ("text", "expected", "absent"),
    [
        ("package main\n\ntype Server struct {}\n\nfunc (s *Server) Serve(l Listener) error {\n\treturn nil\n}\nconst MaxConns = 10\n",
         {"server", "server.serve", "serve", "maxconns"}, {"main"}),
        ("public class OkHttpClient {\n  public Call newCall(Request request) {\n    if (x) {\n    }\n  }\n}\n",
         {"okhttpclient", "okhttpclient.newcall"}, {"if"}),
        ("pub struct Value {}\nimpl Value {\n    pub fn as_str(&self) -> Option<&str> {\n    }\n}\n",
         {"value", "value.as_str"}, set()),
        ("#define RETRY_MAX 3\nstatic int retry(int n) {\n  return n;\n}\n", {"retry_max", "retry"}, set()),
        ("module Billing\n  class Invoice\n    def self.total(x)\n    end\n  end\nend\n",
         {"billing", "invoice", "invoice.total"}, set()),
    ],
)
def test_other_languages(text: str, expected: set[str], absent: set[str]) -> None:
    names = set(defined_symbols(text))
    assert expected <= names
    assert not names & absent


def test_chunk_symbol_is_always_a_key_and_output_is_bounded() -> None:
    assert defined_symbols("x", "HttpClient.send")[:2] == ["httpclient.send", "send"]
    many = "\n".join(f"def f{i}(): pass" for i in range(200))
    assert len(defined_symbols(many)) == 64


def test_path_keys_dirs_and_extension() -> None:
    assert path_keys("src/_pytest/Python.py") == [
        "src/_pytest/python.py", "src/_pytest/python", "_pytest/python.py", "_pytest/python",
        "python.py",
    ]
    assert path_keys("Makefile") == ["makefile"]
    assert dir_prefixes("a/b/c.py") == ["a", "a/b"] and dir_prefixes("c.py") == []
    assert extension("a/B.PY") == "py" and extension("Makefile") is None
    assert extension(".gitignore") is None


def test_question_identifiers_keep_code_and_skip_prose() -> None:
    q = ("Why does `HttpClient.send` ignore RETRY_LIMIT when retry_failed_payment() runs? "
         "Retry docs say getUser and Foo::bar and `delay`; see payments/retry.py and deploy.md")
    ids = question_identifiers(q)
    assert ids[:3] == ("httpclient.send", "send", "delay")  # backticked names first
    assert {"retry_limit", "retry_failed_payment", "getuser", "foo.bar", "delay"} <= set(ids)
    assert "bar" not in ids  # a plain-word tail names too many definitions
    assert not {"why", "retry", "docs", "payments", "retry.py", "deploy.md", "py"} & set(ids)


def test_question_path_keys_from_paths_tracebacks_and_modules() -> None:
    q = ('see payments/retry.py, deploy.md and sphinx.ext.viewcode; File '
         '"/usr/lib/site-packages/_pytest/python.py", line 3; https://github.com/o/r/blob/x.py')
    keys = question_path_keys(q)
    assert {"payments/retry.py", "deploy.md", "sphinx/ext/viewcode", "_pytest/python.py"} <= set(keys)
    assert "python.py" not in keys  # a bare name only when the question gives it bare
    assert not any("github" in k for k in keys)


def test_question_keys_are_bounded() -> None:
    q = " ".join(f"name_{i}" for i in range(100))
    assert len(question_identifiers(q)) == 48
    deep = "File /usr/local/lib/python3.8/site-packages/_pytest/assertion/rewrite.py, line 1"
    assert question_path_keys(deep) == (
        "assertion/rewrite.py", "_pytest/assertion/rewrite.py",
        "site-packages/_pytest/assertion/rewrite.py",
    )


def test_receivers_and_plain_tails_are_not_keys() -> None:
    ids = question_identifiers("self._getobj() calls self.obj and collector.collect and CallInfo.from_call")
    assert {"_getobj", "collector.collect", "callinfo.from_call", "from_call"} <= set(ids)
    assert not {"self._getobj", "obj", "self.obj", "collect"} & set(ids)
    assert "self/obj" not in question_path_keys("self.obj")


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("src/_pytest/python.py", "main"), ("testing/python/collect.py", "test"),
        ("tests/test_x.py", "test"), ("pkg/foo_test.go", "test"), ("src/App.test.tsx", "test"),
        ("src/a.spec.ts", "test"), ("spec/models/user_spec.rb", "test"),
        ("src/test/java/FooTest.java", "test"), ("conftest.py", "test"),
        ("CHANGELOG.rst", "meta"), ("doc/en/announce/release-2.0.0.rst", "meta"),
        ("CHANGES", "meta"), ("doc/whatsnew/2.5.rst", "meta"), ("HISTORY.md", "meta"),
        ("src/testing.py", "main"), ("src/contest.py", "main"), ("src/attestation.py", "main"),
        ("docs/deploy.md", "main"), (".github/ISSUE_TEMPLATE/1_bug_report.md", "meta"),
        (".github/PULL_REQUEST_TEMPLATE.md", "meta"), ("CONTRIBUTING.rst", "main"),
        ("doc/en/example/xfail_demo.py", "example"), ("doc/conf.py", "example"),
        ("examples/quickstart/app.go", "example"), ("docs/usage/extensions/example_google.py", "example"),
        ("doc/en/example/assertion/test_failures.py", "test"), ("docs/guide/intro.rst", "main"),
        ("src/samplers.py", "main"),
    ],
)
def test_file_role(path: str, role: str) -> None:
    assert file_role(path) == role


def test_names_the_question_defines_are_not_keys() -> None:
    q = "Rewriting breaks:\n```\ndef test_b():\n    assert RETRY_LIMIT == b'42'\nclass SomeClass:\n    pass\n```"
    ids = question_identifiers(q)
    assert "retry_limit" in ids
    assert not {"test_b", "someclass"} & set(ids)


def test_locals_inside_functions_are_not_definitions() -> None:
    text = ("class Cache:\n    TTL = 5\n\n    def get(self, key):\n        result = self.load(key)\n"
            "        def helper():\n            pass\n        return result\n\n"
            "def main():\n    config = 1\n\nLIMIT = 3\n")
    names = set(defined_symbols(text))
    assert {"cache", "ttl", "cache.ttl", "get", "cache.get", "main", "limit"} <= names
    assert not {"result", "helper", "config", "cache.result"} & names


def test_module_spelling_of_a_dotted_name_ending_like_a_file_extension() -> None:
    # ``ascii.rst`` is a reader's name (``format="ascii.rst"``) as well as a file name;
    # ``astropy.io.ascii.rst`` is a module path; both can name astropy/io/ascii/rst.py
    keys = question_path_keys('t.write(format="ascii.rst") uses astropy.io.ascii.rst')
    assert {"ascii.rst", "ascii/rst", "io/ascii/rst", "astropy/io/ascii/rst"} <= set(keys)
    assert "ascii/rst" in path_keys("astropy/io/ascii/rst.py")


OPTIONS = '''def pytest_addoption(parser):
    group = parser.getgroup("general")
    group.addoption(
        "--collectonly",
        "--collect-only",
        action="store_true",
        help="only collect (tests), don't execute them.",
    )
    parser.add_argument('--rcfile', '-r', help='the configuration file')


@click.option("--dry-run", is_flag=True)
def release(dry_run):
    subprocess.run(["git", "--no-pager", "log"])
    testdir.runpytest("--collect-only")
'''


def test_declared_command_line_options_are_defined_names() -> None:
    names = defined_symbols(OPTIONS)
    assert {"--collectonly", "--collect-only", "--rcfile", "--dry-run"} <= set(names)
    assert "--no-pager" not in names  # passed to a program, not declared
    assert defined_symbols('    testdir.runpytest("--collect-only")') == []  # a test using the flag


def test_question_options_are_identifier_keys() -> None:
    ids = question_identifiers("I run `--collect-only` a lot; pytest --co -x would be shorter. a--b")
    assert {"--collect-only", "--co"} <= set(ids)
    assert not any(k in ids for k in ("-x", "--b", "--x"))
