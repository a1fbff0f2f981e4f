"""What docs claim exists: real-world Markdown, RST, AsciiDoc and wiki snippets, and the
precision rules (what is never a reference)."""

from __future__ import annotations

import time

import pytest

from indexers.staleness.references import MAX_REFERENCES, MAX_SCAN_CHARS, doc_references

PY = frozenset({"python"})


def refs(text: str, path: str = "docs/guide.md", language: str | None = None,
         code: frozenset[str] = PY) -> list[tuple[str, str, int]]:
    return [(r.text, r.kind, r.line) for r in doc_references(text, path, language, code).references]


def texts(text: str, path: str = "docs/guide.md", language: str | None = None,
          code: frozenset[str] = PY) -> set[str]:
    return {r.text for r in doc_references(text, path, language, code).references}


def one(text: str, name: str, path: str = "docs/guide.md", code: frozenset[str] = PY):
    found = [r for r in doc_references(text, path, None, code).references if r.text == name]
    assert len(found) == 1, [r.text for r in doc_references(text, path, None, code).references]
    return found[0]


# --- Markdown ---------------------------------------------------------------------------

README = """\
# payments

Retries failed captures. Call `retry_failed_payment(payment_id, attempt=2)` and read
`RetryPolicy.delay()`; the limit is `RETRY_LIMIT`. Set `PAYMENTS_URL` in the environment.

See [the policy](../payments/retry.py#L6-L13) and the [client](web/http_client.js).
"""


def test_markdown_code_spans_with_lines_and_call_kwargs() -> None:
    found = refs(README, "docs/README.md")
    assert ("retry_failed_payment", "symbol", 3) in found
    assert ("RetryPolicy.delay", "symbol", 4) in found
    assert ("RETRY_LIMIT", "symbol", 4) in found
    assert ("PAYMENTS_URL", "env", 4) in found  # an env context next to it
    call = one(README, "retry_failed_payment")
    assert call.details["call_kwargs"] == ["attempt"] and call.details["called"] is True
    assert call.context.startswith("Retries failed captures.")
    assert "payment_id" not in texts(README)  # an argument is the reader's variable


def test_markdown_links_resolve_against_the_doc_directory_with_anchors() -> None:
    found = {r.text: r for r in doc_references(README, "docs/README.md", "markdown", PY).references}
    assert found["payments/retry.py"].details["anchor"] == [6, 13]
    assert found["payments/retry.py"].kind == "path" and found["payments/retry.py"].line == 6
    assert "docs/web/http_client.js" in found
    root = refs("[a](/src/app.py) [b](./img/logo.png) [c](../../../outside.py) [d](#anchor)\n",
                "docs/a/b.md")
    assert ("src/app.py", "path", 1) in root and ("docs/a/img/logo.png", "path", 1) in root
    assert all(t != "outside.py" and "anchor" not in t for t, _, _ in root)


def test_links_to_browse_urls_name_the_repository() -> None:
    text = ("See https://github.com/acme/pay/blob/main/payments/retry.py#L16 and\n"
            "[the client](https://gitlab.example.com/acme/pay/-/blob/v2.0/web/client.js#L3-L9).\n"
            "[docs](https://docs.python.org/3/library/os.html) https://example.com/src/x.py\n")
    found = {r.text: r for r in doc_references(text, "README.md", "markdown", PY).references}
    assert found["web/client.js"].details["repo_url"] == "https://gitlab.example.com/acme/pay"
    assert found["web/client.js"].details["anchor"] == [3, 9]
    assert "payments/retry.py" not in found  # a bare URL is not a link the doc makes
    assert set(found) == {"web/client.js"}


def test_reference_style_links_and_html_links() -> None:
    text = '[guide][g]\n\n[g]: docs/setup.md\n<a href="src/main.py">main</a> <img src="img/a.png">\n'
    assert texts(text, "README.md") == {"docs/setup.md", "src/main.py", "img/a.png"}


PYTHON_BLOCK = """\
# Usage

```python
import json
from payments.retry import RetryPolicy, retry_failed_payment as rfp
import payments.client as pc

policy = RetryPolicy(base_delay=1.0)
policy.delay(3)
rfp("p1", attempt=4)
pc.HttpClient("x").send({})
total = compute_invoice_total(items, tax=0.2)
json.dumps(total)
os.path.join("a", "b")

def helper(value):
    return value.normalize()

class MyPlugin(BasePlugin):
    def hook(self):
        return self.config
```
"""


def test_python_block_imports_calls_and_attributes() -> None:
    found = refs(PYTHON_BLOCK)
    assert ("payments.retry.RetryPolicy", "symbol", 5) in found
    assert ("payments.retry.retry_failed_payment", "symbol", 10) in found  # through the alias
    assert ("payments.client.HttpClient", "symbol", 11) in found
    assert ("compute_invoice_total", "symbol", 12) in found
    assert ("BasePlugin", "symbol", 19) in found
    assert one(PYTHON_BLOCK, "compute_invoice_total").details["call_kwargs"] == ["tax"]
    names = texts(PYTHON_BLOCK)
    for never in ("json", "json.dumps", "os.path.join", "policy.delay", "value.normalize", "helper",
                  "MyPlugin", "self.config", "config", "total", "items", "rfp", "pc.HttpClient"):
        assert never not in names, never


def test_blocks_of_languages_the_code_does_not_use_are_not_references() -> None:
    text = "```javascript\nconst client = new HttpClient(url);\nclient.send(buildRequest('/x'));\n```\n"
    assert refs(text, code=PY) == []
    assert refs(text, code=frozenset({"javascript"})) == [("HttpClient", "symbol", 2), ("buildRequest", "symbol", 3)]
    py = "```python\nfrom payments.retry import RetryPolicy\n```\n"
    assert refs(py, code=frozenset({"go"})) == []  # the linked code is Go: a Python block names nothing


def test_pycon_prompts_and_output_lines() -> None:
    text = """```pycon
>>> from payments import retry
>>> retry.RETRY_LIMIT
5
>>> retry.RetryPolicy(0.5).delay(2)
Traceback (most recent call last):
ValueError: Not_A_Name happened
```
"""
    found = refs(text)
    assert ("payments.retry", "symbol", 2) in found
    assert ("payments.retry.RETRY_LIMIT", "symbol", 3) in found
    assert ("payments.retry.RetryPolicy", "symbol", 5) in found
    assert not [t for t, _, line in found if line in (4, 6, 7)]  # output is not a claim


def test_unparsable_python_falls_back_to_the_line_scanner() -> None:
    text = "```python\nfrom payments.retry import RetryPolicy\npolicy = RetryPolicy(...\nprint 'x'\nresult = compute_total(cart)\n```\n"
    found = refs(text)
    assert ("payments.retry.RetryPolicy", "symbol", 2) in found
    assert ("compute_total", "symbol", 5) in found
    assert "result" not in texts(text) and "policy" not in texts(text)


SHELL = """\
```console
$ sourcewise index --full --dry-run
indexed 3 sources --not-an-option-in-output
$ PAYMENTS_MODE=test python scripts/run.py --verbose
```

```bash
export PAYMENTS_URL=https://pay.example.com
echo $HOME $PAYMENTS_TOKEN ${PAYMENTS_REGION}
pip install --upgrade sourcewise  # --commented-out
```
"""


def test_shell_blocks_give_options_env_keys_and_paths_only() -> None:
    found = refs(SHELL)
    assert ("--full", "option", 2) in found and ("--dry-run", "option", 2) in found
    assert ("--verbose", "option", 4) in found and ("PAYMENTS_MODE", "env", 4) in found
    assert ("scripts/run.py", "path", 4) in found
    assert ("PAYMENTS_URL", "env", 8) in found
    assert ("PAYMENTS_TOKEN", "env", 9) in found and ("PAYMENTS_REGION", "env", 9) in found
    assert ("--upgrade", "option", 10) in found
    names = texts(SHELL)
    for never in ("--not-an-option-in-output", "--commented-out", "HOME", "sourcewise", "python",
                  "pay.example.com"):
        assert never not in names
    option = one(SHELL, "--verbose")
    assert option.details["command"] == "python"


@pytest.mark.parametrize("span", [
    "True", "None", "self", "cls", "print", "len()", "dict", "ValueError", "os.path.join",
    "json.dumps", "collections.OrderedDict", "collect", "install", "pytest", "foo", "foo.bar",
    "my_func", "MyClass", "spam_eggs", "<name>", "{name}", "$HOME", "x", "db", "42", "1.2.3",
    "v2.0.1", "/api/v1/users", "**/*.py", "*.txt", "https://example.com/a.py", "--", "---", "-v",
    "--x", "a=b", "example.com", "path/to/file.py", "x.y", "lambda", "SOURCEWISE_", "pytest_funcarg__",
])
def test_never_references_in_code_spans(span: str) -> None:
    assert refs(f"Use `{span}` here.\n") == []


@pytest.mark.parametrize(("span", "expected"), [
    ("compute_invoice_total", ("compute_invoice_total", "symbol")),
    ("payments.retry.RetryPolicy.delay", ("payments.retry.RetryPolicy.delay", "symbol")),
    ("RetryPolicy", ("RetryPolicy", "symbol")),
    ("Config", ("Config", "symbol")),
    ("collect()", ("collect", "symbol")),
    ("@pytest.fixture", ("pytest.fixture", "symbol")),
    ("self.base_delay", ("base_delay", "symbol")),
    ("Net::HTTP", ("Net.HTTP", "symbol")),
    ("--dry-run", ("--dry-run", "option")),
    ("--log-level=DEBUG", ("--log-level", "option")),
    ("$PAYMENTS_URL", ("PAYMENTS_URL", "env")),
    ("PAYMENTS_URL=https://x", ("PAYMENTS_URL", "env")),
    ("setup.py", ("setup.py", "path")),
    ("src/payments/retry.py", ("src/payments/retry.py", "path")),
    ("./scripts/run.sh", ("scripts/run.sh", "path")),
])
def test_code_span_kinds(span: str, expected: tuple[str, str]) -> None:
    found = refs(f"Use `{span}` here.\n")
    assert [(t, k) for t, k, _ in found] == [expected]


def test_code_span_phrases() -> None:
    text = ("Run `sourcewise index --full` or `pytest -q --maxfail=2`; import with\n"
            "`from payments.retry import RetryPolicy`, call `client.send(request, timeout=3)`,\n"
            "and `pip install sourcewise` or `make rollback` (no claims).\n")
    found = refs(text)
    assert ("--full", "option", 1) in found and ("--maxfail", "option", 1) in found
    assert ("payments.retry.RetryPolicy", "symbol", 2) in found
    assert ("client.send", "symbol", 2) in found
    assert not [t for t, _, line in found if line == 3]


def test_prose_options_paths_and_urls() -> None:
    text = ("Pass --dry-run -- or --- to skip. Edit src/payments/retry.py, not /etc/hosts or\n"
            "https://example.com/src/x.py or www.example.com/a/b.py; node.js and e.g. docs.\n")
    assert refs(text) == [("--dry-run", "option", 1), ("src/payments/retry.py", "path", 1)]


def test_mkdocstrings_and_myst_roles_and_directives() -> None:
    text = ("::: payments.retry.RetryPolicy\n\n"
            "See {py:func}`retry_failed_payment` and {class}`~payments.Client`.\n\n"
            "```{autofunction} payments.retry.retry_failed_payment\n```\n\n"
            "```{code-block} python\n:caption: x\nfrom payments import retry\n```\n")
    found = refs(text)
    assert ("payments.retry.RetryPolicy", "symbol", 1) in found
    assert ("retry_failed_payment", "symbol", 3) in found and ("payments.Client", "symbol", 3) in found
    assert ("payments.retry.retry_failed_payment", "symbol", 5) in found
    assert ("payments.retry", "symbol", 10) in found


def test_front_matter_lines_count_and_are_not_scanned() -> None:
    text = "---\nowner: '@team'\ntitle: \"`not_scanned`\"\n---\n# Doc\n\nCall `compute_total()`.\n"
    assert refs(text) == [("compute_total", "symbol", 7)]


# --- inline markers -------------------------------------------------------------------


def test_ignore_markers_silence_lines_blocks_and_files() -> None:
    text = ("`old_name` <!-- sourcewise: ignore-stale -->\n"
            "<!-- sourcewise: ignore-stale -->\n"
            "\n"
            "`other_old` and `kept_name`\n"
            "`still_here`\n"
            "<!-- sourcewise: ignore-stale -->\n"
            "```python\nfrom payments import gone_module\nremoved_call()\n```\n"
            "`after_block`\n")
    result = doc_references(text, "docs/a.md", "markdown", PY)
    assert [r.text for r in result.references] == ["still_here", "after_block"]
    assert result.ignored == 5
    whole = doc_references("<!-- sourcewise: ignore-stale-file -->\n`one_name` `two_name`\n", "a.md", None, PY)
    assert whole.references == () and whole.ignored == 2
    front = doc_references("---\nstale_check: false\n---\n`one_name`\n", "a.md", None, PY)
    assert front.references == () and front.ignored == 1
    flagged = doc_references("`one_name`\n", "a.md", None, PY, ignore_all=True)
    assert flagged.references == () and flagged.ignored == 1


def test_rst_ignore_comment_silences_the_next_line_and_directive() -> None:
    text = (".. sourcewise: ignore-stale\n\n:func:`old_func` here\n:func:`new_func`\n\n"
            ".. sourcewise: ignore-stale\n\n.. autofunction:: pkg.gone\n\n.. autofunction:: pkg.kept\n")
    result = doc_references(text, "docs/a.rst", "rst", PY)
    assert [r.text for r in result.references] == ["new_func", "pkg.kept"]
    assert result.ignored == 2


# --- reStructuredText -------------------------------------------------------------------

SPHINX = """\
Fixtures
========

.. currentmodule:: _pytest.fixtures

Use :func:`pytest.fixture` and :py:meth:`~FixtureRequest.getfixturevalue` or
:class:`Config <_pytest.config.Config>`. :func:`os.path.join` and :class:`dict`
are not ours; :exc:`ValueError` neither. Set :envvar:`PYTEST_ADDOPTS`, use
:option:`pytest --collect-only` / :option:`-v`, :confval:`testpaths`, :file:`conftest.py`.
``literal_name`` and ``True`` and ``self``; see `the code <../src/_pytest/python.py>`_.
:issue:`1234`, :doc:`other` and :ref:`label` are not references.

.. autofunction:: pytest.approx

.. autoclass:: _pytest.config.Config
   :members:

.. function:: pytest.main(args=None, plugins=None)

   Run the tests.

.. class:: Session

   .. method:: perform_collect(args=None)

.. option:: --lf, --last-failed

.. envvar:: PYTEST_PLUGINS

.. confval:: xfail_strict

.. literalinclude:: ../example/conftest.py
   :lines: 3-9

.. code-block:: python

    import pytest

    @pytest.fixture
    def smtp_connection():
        return smtplib.SMTP("smtp.gmail.com", 587, timeout=5)

Example::

    result = pytester.runpytest("--strict-markers")

.. code-block:: console

    $ pytest -q --maxfail=2 test_sample.py
    1 passed in 0.01s

>>> from _pytest.monkeypatch import MonkeyPatch
>>> MonkeyPatch().setattr("os.getcwd", lambda: "/")

.. This comment names :func:`commented_out` and is not a claim.
"""


def test_sphinx_roles_directives_and_blocks() -> None:
    result = doc_references(SPHINX, "doc/en/how-to/fixtures.rst", "rst", PY)
    found = {(r.text, r.kind, r.line) for r in result.references}
    expected = {
        ("pytest.fixture", "symbol", 6), ("FixtureRequest.getfixturevalue", "symbol", 6),
        ("_pytest.config.Config", "symbol", 7), ("PYTEST_ADDOPTS", "env", 8),
        ("--collect-only", "option", 9), ("testpaths", "symbol", 9), ("conftest.py", "path", 9),
        ("literal_name", "symbol", 10), ("doc/en/src/_pytest/python.py", "path", 10),
        ("pytest.approx", "symbol", 13), ("_pytest.config.Config", "symbol", 15),
        ("pytest.main", "symbol", 18), ("Session", "symbol", 22),
        ("Session.perform_collect", "symbol", 24), ("--lf", "option", 26),
        ("--last-failed", "option", 26), ("PYTEST_PLUGINS", "env", 28), ("xfail_strict", "symbol", 30),
        ("doc/en/example/conftest.py", "path", 32), ("pytest", "symbol", 37),
        ("pytest.fixture", "symbol", 39), ("pytester.runpytest", "symbol", 45),
        ("--maxfail", "option", 49), ("_pytest.monkeypatch.MonkeyPatch", "symbol", 52),
        ("_pytest.monkeypatch.MonkeyPatch", "symbol", 53),
        ("_pytest.monkeypatch.MonkeyPatch.setattr", "symbol", 53),  # a method of the new instance
    }
    assert found == expected
    by = {(r.text, r.line): r for r in result.references}
    assert by[("FixtureRequest.getfixturevalue", 6)].details["role"] == "meth"
    assert by[("FixtureRequest.getfixturevalue", 6)].details["module"] == "_pytest.fixtures"
    assert by[("pytest.main", 18)].details["signature"] == "(args=None, plugins=None)"
    assert by[("pytest.approx", 13)].details["directive"] == "autofunction"
    assert by[("doc/en/example/conftest.py", 32)].details["anchor"] == [3, 9]


def test_rst_literal_blocks_follow_the_highlight_language() -> None:
    text = "Example::\n\n    from payments import retry\n\n.. highlight:: none\n\nOutput::\n\n    Some.Thing(x)\n"
    assert refs(text, "docs/a.rst", code=PY) == [("payments.retry", "symbol", 3)]
    assert refs(text, "docs/a.rst", code=frozenset({"go"})) == []


# --- wiki and AsciiDoc -----------------------------------------------------------------


def test_mediawiki_text_code_tags_and_syntaxhighlight() -> None:
    text = ("# Deploy\n\nRun <code>deploy_service()</code> then\n"
            '<syntaxhighlight lang="python">\nfrom deploy import rollout\nrollout.start(fast=True)\n'
            "</syntaxhighlight>\n<pre>\n$ deploy --canary\n</pre>\n")
    found = refs(text, "Deploy_Guide", "mediawiki")
    assert found == [("deploy_service", "symbol", 3), ("deploy.rollout", "symbol", 5),
                     ("deploy.rollout.start", "symbol", 6), ("--canary", "option", 9)]


def test_confluence_text_fenced_pre_blocks() -> None:
    text = "# Runbook\n\nFail over with the script.\n\n```\n$ failover --region eu-west-1\n```\n"
    assert refs(text, "Runbook_1.html", "html") == [("--region", "option", 6)]


def test_asciidoc_spans_blocks_and_includes() -> None:
    text = ("= Guide\n\nCall `compute_total()` and see link:src/app.py[app].\n\n"
            "[source,python]\n----\nfrom payments import retry\n----\n\ninclude::snippets/a.py[]\n")
    assert refs(text, "docs/guide.adoc") == [
        ("compute_total", "symbol", 3), ("docs/src/app.py", "path", 3),
        ("payments.retry", "symbol", 7), ("docs/snippets/a.py", "path", 10)]


# --- bounded time ---------------------------------------------------------------------


def test_huge_generated_doc_is_capped_and_marked_truncated() -> None:
    body = "".join(f"`name_{i}`\n" for i in range(MAX_REFERENCES + 100))
    result = doc_references(body, "docs/api.md", "markdown", PY)
    assert len(result.references) == MAX_REFERENCES and result.truncated
    big = "`first_name`\n" + "x" * (MAX_SCAN_CHARS + 10) + "\n`never_read`\n"
    result = doc_references(big, "docs/big.md", "markdown", PY)
    assert [r.text for r in result.references] == ["first_name"] and result.truncated


@pytest.mark.parametrize("evil", [
    "`" * 20_000,
    "[" * 5_000 + "](" * 5_000,
    "--" + "a-" * 10_000,
    "x" * 10_000 + "/" + "y." * 5_000,
    "```" + " " * 20_000 + "`",
    "`a" * 10_000,
    ":func:" * 3_000 + "`x`",
])
def test_hostile_lines_stay_fast(evil: str) -> None:
    started = time.perf_counter()
    doc_references(evil + "\n", "docs/evil.md", "markdown", PY)
    doc_references(evil + "\n", "docs/evil.rst", "rst", PY)
    # generous bound: a super-linear pattern takes minutes on these inputs
    assert time.perf_counter() - started < 5


def test_implicit_literal_blocks_are_read_only_when_they_parse_as_python() -> None:
    text = ("Options::\n\n    --debug=[DEBUG_FILE_NAME]\n    log_file (string):  Default value\n"
            "    Report the results\n\nCollected::\n\n    <Module test_a.py>\n      <Function test_it>\n\n"
            "Explicit:\n\n.. code-block:: python\n\n    result = run_all(\n    Report.make(x)\n")
    found = refs(text, "docs/help.rst")
    assert found == [("run_all", "symbol", 16), ("Report.make", "symbol", 17)]  # explicit: line scanner


def test_names_the_docs_own_snippets_define_are_marked() -> None:
    text = ("```python\ndef mock_get(*args):\n    return MockResponse()\n```\n\n"
            "``mock_get`` replaces `requests_get`; `mock_get.calls` too.\n")
    found = {r.text: r for r in doc_references(text, "docs/m.md", "markdown", PY).references}
    assert found["mock_get"].details["doc_defined"] is True
    assert found["mock_get.calls"].details["doc_defined"] is True
    assert "doc_defined" not in found["requests_get"].details


def test_test_ids_and_uppercase_placeholders() -> None:
    assert refs("Run `test_api.py::TestClient::test_send` or `YOUR_GITHUB_USERNAME`.\n") == [
        ("test_api.py", "path", 1)]


def test_bare_typing_names_and_my_modules_are_not_references() -> None:
    text = ("```python\nimport mymodule\n\ndef hook(args: List[str]) -> Optional[Callable]:\n"
            "    return Sequence\n```\n")
    assert refs(text) == []


@pytest.mark.parametrize("terms", [2_000, 50_000])  # deep for the visitor; for the parser
def test_a_pathologically_deep_snippet_is_survived(terms: int) -> None:
    deep = "```python\nTOTAL = " + " + ".join(["x"] * terms) + "\nrun_it()\n```\n"
    doc_references(deep, "docs/deep.md", "markdown", PY)  # no RecursionError escapes


def test_markers_shown_as_examples_are_not_markers() -> None:
    text = ("Silence a doc with `<!-- sourcewise: ignore-stale-file -->` or a line with\n"
            "`<!-- sourcewise: ignore-stale -->`; see `compute_total()`.\n\n"
            "```markdown\n<!-- sourcewise: ignore-stale-file -->\n```\n\n"
            "```\n<!-- sourcewise: ignore-stale -->\n```\n`kept_name`\n")
    result = doc_references(text, "README.md", "markdown", PY)
    assert [r.text for r in result.references] == ["compute_total", "kept_name"]
    assert result.ignored == 0
