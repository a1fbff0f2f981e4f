"""Personal data rules, for sources whose owners ask for them (``--redact-pii``).

Off by default: code and docs name their authors and maintainers on purpose, and
version strings or timestamps look like phone numbers often enough that scanning
every repository would blank useful text. Where a source holds customer data (a
support wiki, exported tickets) the owner turns these on for that source.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from indexers.redaction.spans import Span


def _iban_ok(value: str) -> bool:
    s = value.replace(" ", "").upper()
    if not 15 <= len(s) <= 34:
        return False
    digits = "".join(str(int(c, 36)) for c in s[4:] + s[:4])
    return int(digits) % 97 == 1


def _luhn_ok(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


PII_RULES: tuple[tuple[str, re.Pattern[str], Callable[[str], bool] | None], ...] = (
    ("email", re.compile(r"(?<![\w.+\-])[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}"
                         r"\.[A-Za-z]{2,24}(?![\w\-])"), None),
    ("us-ssn", re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b"), None),
    ("uk-nino", re.compile(
        r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"), None),
    ("iban", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"), _iban_ok),
    ("card-number", re.compile(r"\b\d{4}(?:[ \-]?\d{4}){2}[ \-]?\d{1,7}\b"), _luhn_ok),
    ("phone", re.compile(
        r"(?<![\w+])(?:\+\d{1,3}[ .\-]?(?:\(\d{1,4}\)[ .\-]?)?\d{1,4}(?:[ .\-]?\d{2,4}){2,4}"
        r"|\(\d{3}\)[ .\-]?\d{3}[ .\-]\d{4}|\d{3}[.\-]\d{3}[.\-]\d{4})(?![\w\-])"), None),
)


def pii_spans(text: str) -> Iterator[Span]:
    for name, pattern, check in PII_RULES:
        for m in pattern.finditer(text):
            if "\n" in m.group() or (check is not None and not check(m.group())):
                continue
            yield Span(m.start(), m.end(), name, kind="pii", priority=0)
