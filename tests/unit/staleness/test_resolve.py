"""Reference matching rules: whole dotted parts, kinds, paths and anchors."""

from __future__ import annotations

import pytest

from assistant.catalog.symbols import SymbolRecord
from indexers.staleness.resolve import Located, NameIndex, path_candidates, ref_key, ref_parts


def loc(path: str, name: str, kind: str = "function") -> Located:
    return Located(path, "b" * 40, SymbolRecord(name, kind, 1, 2))


INDEX = NameIndex([
    loc("payments/retry.py", "RetryPolicy.delay", "method"),
    loc("payments/retry.py", "RetryPolicy", "class"),
    loc("src/shop/billing.py", "compute_total"),
    loc("payments/cli.py", "--dry-run", "option"),
    loc("payments/config.py", "PAYMENTS_URL", "env"),
    loc("tests/test_retry.py", "helper"),
])


@pytest.mark.parametrize(("text", "found"), [
    ("delay", ["RetryPolicy.delay"]),  # a bare name: the last part
    ("RetryPolicy.delay", ["RetryPolicy.delay"]),  # Class.method: the last two
    ("RetryPolicy.delay()", ["RetryPolicy.delay"]),
    ("payments.retry.RetryPolicy.delay", ["RetryPolicy.delay"]),  # module + name
    ("retry.RetryPolicy", ["RetryPolicy"]),
    ("shop.billing.compute_total", ["compute_total"]),  # src/ is a source root
    ("src.shop.billing.compute_total", ["compute_total"]),
    ("Policy.delay", []),  # whole parts only
    ("retrypolicy.delay", []),  # case-sensitive
    ("other.RetryPolicy.delay", []),
    ("payments.retry.delay", []),  # a method is not a module-level name
])
def test_symbol_references_match_whole_dotted_parts(text: str, found: list[str]) -> None:
    assert [f.rec.name for f in INDEX.resolve("symbol", text)] == found


def test_options_and_keys_match_their_kinds_only() -> None:
    assert [f.rec.name for f in INDEX.resolve("option", "--dry-run")] == ["--dry-run"]
    assert INDEX.resolve("option", "--dry") == [] and INDEX.resolve("symbol", "--dry-run") == []
    assert [f.path for f in INDEX.resolve("env", "PAYMENTS_URL")] == ["payments/config.py"]
    assert INDEX.resolve("env", "payments_url") == []


def test_only_code_proper_can_be_tracked() -> None:
    assert [f.main for f in INDEX.resolve("symbol", "helper")] == [False]
    assert all(f.main for f in INDEX.resolve("symbol", "delay"))


def test_ref_parts_and_keys() -> None:
    assert ref_parts("pkg::mod::Type") == ("pkg", "mod", "Type")
    assert ref_parts("Klass#method") == ("Klass", "method")
    assert ref_key("symbol", "a.B.c()") == "c" and ref_key("option", "--Dry-Run") == "--dry-run"
    assert ref_key("path", "a/b.py") is None


def test_path_candidates_relative_to_the_doc_then_the_root() -> None:
    assert path_candidates("../payments/retry.py#L3", "docs/x.md") == ["payments/retry.py"]
    assert path_candidates("retry.py", "docs/x.md") == ["docs/retry.py", "retry.py"]
    assert path_candidates("/payments/retry.py", "docs/x.md") == ["payments/retry.py"]
    assert path_candidates("../../etc/passwd", "docs/x.md") == []  # never outside the repository
    assert path_candidates("https://example.com/a.py", "docs/x.md") == []
