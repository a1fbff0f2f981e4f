"""How a question is read by the dense legs: long bug reports in parts, short questions whole."""

from __future__ import annotations

from assistant.retrieval.views import readings, without_code, without_noise

REPORT = """Module imported twice under import-mode=importlib
<!--
Thanks for submitting an issue! Quick check-list while reporting bugs:
-->
- [x] a detailed description of the bug or problem you are having
- [ ] minimal example if possible

Switching to importlib makes `core.initialize()` run against a second copy of the module.

```
Traceback (most recent call last):
  File "tests/unit/test_commands.py", line 37, in setup_class
AttributeError: type object 'Logger' has no attribute 'store'
```
"""


def test_a_short_question_is_read_once() -> None:
    r = readings("where do we retry failed payments?")
    assert (r.main, r.headline, r.prose) == ("where do we retry failed payments?", None, None)


def test_a_bug_report_is_read_whole_by_its_title_and_by_its_prose() -> None:
    r = readings(REPORT)
    assert r.headline == "Module imported twice under import-mode=importlib"
    assert "check-list" not in r.main and "[x]" not in r.main  # template noise is gone
    assert "Traceback" in r.main and "Traceback" not in (r.prose or "")
    assert r.prose is not None and "second copy of the module" in r.prose


def test_noise_and_code_helpers() -> None:
    assert without_noise("a <!-- hidden\ninstructions --> b\n- [ ] box\nc") == "a   b\nc"
    assert without_noise("<!-- never closed") == ""
    assert without_code("before\n```py\ncode\n```\nafter\n~~~\nmore\n~~~") == "before\nafter"


def test_no_headline_when_the_first_line_is_not_a_title() -> None:
    long_first = "x " * 400 + "\nsecond line here with words"
    assert readings(long_first).headline is None
    assert readings("ok\nthe rest of a question about retries").headline is None  # too short
    only_code = "Crash in parser\n```\nboom()\n```"
    assert readings(only_code).prose is None  # the prose is the headline alone
