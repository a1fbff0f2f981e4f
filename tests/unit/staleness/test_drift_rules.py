"""Drift needs the doc to state the old value (and not the new one)."""

from __future__ import annotations

from assistant.catalog.symbols import SymbolRecord
from indexers.staleness.drift import changes, literal, states


def fn(*params: tuple[str, str | None]) -> SymbolRecord:
    return SymbolRecord("connect", "function", 1, 3, "(...)", None, tuple((n, d, None) for n, d in params))


def const(value: str) -> SymbolRecord:
    return SymbolRecord("RETRY_LIMIT", "constant", 1, 1, None, value)


def test_a_changed_default_the_line_states() -> None:
    old, new = fn(("host", None), ("timeout", "30")), fn(("host", None), ("timeout", "10"))
    [c] = changes(old, new, ["`connect(host, timeout=30)` waits 30 seconds"])
    assert (c.aspect, c.old, c.new) == ("default:timeout", "30", "10")
    assert changes(old, new, ["`connect(host)` connects."]) == []  # the doc does not say 30
    assert changes(old, new, ["timeout 30, or 10 on CI"]) == []  # it says both: not a claim of the old one
    assert changes(old, new, ["waits 30.5 seconds"]) == []  # 30.5 is not 30


def test_common_literals_need_the_parameter_named() -> None:
    old, new = fn(("retries", "0")), fn(("retries", "3"))
    assert changes(old, new, ["Step 0: call `connect`."]) == []
    assert [c.aspect for c in changes(old, new, ["`connect(retries=0)`"])] == ["default:retries"]


def test_a_constant_value_and_strings() -> None:
    assert [c.aspect for c in changes(const("5"), const("7"), ["`RETRY_LIMIT` is 5."])] == ["value"]
    assert changes(const("5"), const("7"), ["`RETRY_LIMIT` is 7."]) == []
    old = SymbolRecord("METHOD", "constant", 1, 1, None, '"GET"')
    new = SymbolRecord("METHOD", "constant", 1, 1, None, '"POST"')
    assert [c.new for c in changes(old, new, ['`METHOD` is "GET"'])] == ['"POST"']
    assert changes(const("compute()"), const("other()"), ["compute()"]) == []  # not a literal


def test_a_keyword_the_function_no_longer_takes() -> None:
    old, new = fn(("host", None), ("verify", "True")), fn(("host", None))
    assert [c.aspect for c in changes(old, new, ["`connect(h)`"], ["verify"])] == ["param:verify"]
    assert [c.aspect for c in changes(old, new, ["connect(h, verify=False)"])] == ["param:verify"]
    assert changes(old, fn(("host", None), ("**kw", None)), ["connect(h, verify=False)"]) == []
    assert changes(old, new, ["connect(h) verifies"]) == []


def test_literals() -> None:
    assert literal("'EUR'") == ("string", "EUR") and literal("-1.5e3") == ("number", "-1.5e3")
    assert literal("Mode.FAST") == ("name", "Mode.FAST") and literal("[1, 2]") is None
    assert states("None", ["defaults to None."]) and not states("5", ["version 1.5"])
