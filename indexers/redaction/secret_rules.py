"""Our own secret rules, for what detect-secrets misses or only half-catches.

detect-secrets reports a private key by its ``BEGIN ... PRIVATE KEY`` line only, knows
OpenAI keys only in their 2023 format, has no Google, Anthropic or Stripe test-key
rule, and wants quotes around an AWS secret key. Each rule here names the part of a
match that is the secret (the password of ``postgres://user:pass@host``, not the URL),
so what stays readable still tells a reader what was there.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from indexers.redaction.assignments import is_placeholder
from indexers.redaction.spans import Span

_B = r"(?<![A-Za-z0-9_\-])"  # not glued to a longer token on the left
_E = r"(?![A-Za-z0-9_\-])"


@dataclass(frozen=True)
class TokenRule:
    """A regex whose ``secret`` group (or whole match) is the secret."""

    name: str
    hints: tuple[str, ...]  # lowercase text one of which a match must contain: skip the regex otherwise
    pattern: re.Pattern[str]
    priority: int = 3
    check: Callable[[str], bool] | None = None


def _has_digit(value: str) -> bool:
    return any(c.isdigit() for c in value)


def _not_placeholder(value: str) -> bool:
    return not is_placeholder(value)


def _rule(name: str, hints: str, pattern: str, **kw: Any) -> TokenRule:
    return TokenRule(name, tuple(hints.split()), re.compile(pattern), **kw)


TOKEN_RULES: tuple[TokenRule, ...] = (
    _rule("aws-access-key", "akia asia abia acca a3t",
          r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Z0-9])"),
    _rule("aws-secret-key", "secret",
          r"(?i)(?:aws_?secret_?(?:access_?)?key|secret_?access_?key)[\"'\]]?\s*(?:=|:|=>|,)\s*[\"']?"
          r"(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"),
    _rule("aws-session-token", "session_token sessiontoken security_token securitytoken",
          r"(?i)(?:aws_?session_?token|security_?token)[\"'\]]?\s*(?:=|:|=>)\s*[\"']?"
          r"(?P<secret>[A-Za-z0-9/+=]{64,})"),
    _rule("github-token", "ghp_ gho_ ghu_ ghs_ ghr_ github_pat_",
          _B + r"(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})" + _E),
    _rule("gitlab-token", "glpat- gldt- glft- glsoat- glrt- glptt- glcbt- glimt- glagent- gloas-",
          _B + r"(?:glpat|gldt|glft|glsoat|glrt|glptt|glcbt|glimt|glagent|gloas)-[A-Za-z0-9_\-]{20,}"),
    _rule("slack-token", "xox xapp-", _B + r"(?:xox[abposre]-[A-Za-z0-9\-]{10,}|xapp-\d-[A-Za-z0-9\-]{10,})"),
    _rule("slack-webhook", "hooks.slack.com",
          r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9/_\-]{16,})"),
    _rule("stripe-key", "_live_ _test_ whsec_",
          _B + r"(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{24,})" + _E),
    _rule("google-api-key", "aiza", _B + r"AIza[0-9A-Za-z_\-]{35}" + _E),
    _rule("google-oauth", "gocspx- ya29. 1//0",
          _B + r"(?:GOCSPX-[A-Za-z0-9_\-]{20,}|ya29\.[0-9A-Za-z_\-]{20,}|1//0[0-9A-Za-z_\-]{30,})"),
    _rule("anthropic-key", "sk-ant-", _B + r"sk-ant-[a-z0-9]{2,10}-[A-Za-z0-9_\-]{20,}"),
    _rule("openai-key", "sk-",
          _B + r"(?:sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{20,}|sk-[A-Za-z0-9]{32,})" + _E),
    _rule("jwt", "eyj", _B + r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"),
    _rule("npm-token", "npm_ _auth",
          r"(?:" + _B + r"npm_[A-Za-z0-9]{36}" + _E + r"|_auth(?:Token)?\s*=\s*(?P<secret>[^\s\"']{8,}))",
          check=_not_placeholder),
    _rule("pypi-token", "pypi-age", _B + r"pypi-AgE[A-Za-z0-9_\-]{50,}"),
    _rule("sendgrid-key", "sg.", _B + r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}" + _E),
    _rule("azure-key", "accountkey sharedaccesskey sharedsecretvalue primarykey secondarykey",
          r"(?i)(?:AccountKey|SharedAccessKey|SharedSecretValue|PrimaryKey|SecondaryKey)\s*=\s*"
          r"(?P<secret>[A-Za-z0-9+/]{20,}={0,2})"),
    _rule("azure-sas", "sig=", r"[?&]sig=(?P<secret>[A-Za-z0-9%+/=]{20,})"),
    # ADO.NET / JDBC / ODBC strings: key=value pairs between semicolons
    _rule("connection-string-password", "password pwd",
          r"(?i)(?<=;)\s*(?:password|pwd)\s*=\s*(?P<secret>[^;\"'\s<>{}()]{3,200})"
          r"|\b(?:password|pwd)\s*=\s*(?P<secret2>[^;\"'\s<>{}()]{3,200})\s*;", check=_not_placeholder),
    _rule("url-password", "://",
          r"\b[A-Za-z][A-Za-z0-9+.\-]{1,30}://[^\s:/?#@\"'<>]{1,200}:(?P<secret>[^\s/?#@\"'<>]{1,200})@"
          r"[^\s/?#@\"'<>]", check=_not_placeholder),
    _rule("basic-auth", "basic -u --user",
          r"(?:(?i:authorization)[\"']?\s*[:=]\s*[\"']?(?i:basic)\s+(?P<secret>[A-Za-z0-9+/]{8,}={0,2})"
          r"|(?<!\S)(?:-u|--user)\s+[\"']?[^\s:\"']{1,200}:(?P<secret2>[^\s\"'@]{4,}))", check=_not_placeholder),
    _rule("bearer-token", "bearer", r"\b(?i:bearer)\s+(?P<secret>[A-Za-z0-9._~+/\-]{20,}=*)", check=_has_digit),
    _rule("secret-assignment", "password passwd secret token apikey api_key privatekey private_key",
          r"<(?P<tag>[\w:\-]{0,60}(?i:password|passwd|secret|token|apikey|api_key|privatekey|private_key))>"
          r"[ \t]*(?P<secret>[^<\s][^<\n]{0,500}?)[ \t]*</(?P=tag)>", priority=1, check=_not_placeholder),
)


def token_spans(text: str) -> Iterator[Span]:
    low = text.lower()
    for rule in TOKEN_RULES:
        if not any(h in low for h in rule.hints):
            continue
        for m in rule.pattern.finditer(text):
            names = [g for g in ("secret", "secret2") if g in rule.pattern.groupindex and m.group(g)]
            start, end = m.span(names[0]) if names else m.span()
            value = text[start:end]
            if "\n" in value or (rule.check is not None and not rule.check(value)):
                continue
            yield Span(start, end, rule.name, priority=rule.priority)


# -- private keys: the whole block, every line -------------------------------------------
_BEGIN = re.compile(r"-{4,5}\s?BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?\s?-{4,5}")
_END = re.compile(r"-{4,5}\s?END ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?\s?-{4,5}")
_KEY_LINE = re.compile(r"^[\s>|#*/\"'`+,\\]*[A-Za-z0-9+/=]{16,}[\s\"'`,\\]*$|^[\s>#*]*[A-Za-z\-]+: .*$")
_PUTTY = re.compile(r"^(\s*)Private-Lines:\s*(\d+)\s*$", re.M)
MAX_KEY_LINES = 400
MAX_LINE = 2000  # longer lines are not key material (and would make _KEY_LINE backtrack)
_NEWLINE = re.compile("\n")


def private_key_spans(text: str, groups: Iterator[int]) -> Iterator[Span]:
    """A PEM/OpenSSH/PGP private key is redacted from its BEGIN line to its END line,
    each line on its own (so line numbers hold); a key on one line (JSON ``\\n``
    escapes, an env var) from BEGIN to END. Without an END within reach, the
    base64-looking lines after BEGIN go. PuTTY files lose their Private-Lines."""
    if "PRIVATE KEY" not in text and "Private-Lines" not in text:
        return
    starts = _line_starts(text)
    ends = list(_END.finditer(text))
    end_at = [e.start() for e in ends]
    covered = -1
    for m in _BEGIN.finditer(text):
        if m.start() < covered:
            continue
        i = bisect.bisect_left(end_at, m.end())
        end_m = ends[i] if i < len(ends) else None
        first = _line_of(starts, m.start())
        end_line = _line_of(starts, end_m.start()) if end_m is not None else None
        if end_m is not None and end_line == first:
            yield Span(m.start(), end_m.end(), "private-key", priority=4, group=next(groups))
            covered = end_m.end()
            continue
        if end_line is None or end_line - first > MAX_KEY_LINES:
            end_m, last = None, first
            while last + 1 < len(starts) and len(line := _line(text, starts, last + 1)) <= MAX_LINE \
                    and _KEY_LINE.match(line):
                last += 1
        else:
            last = end_line
        group = next(groups)
        for n in range(first, last + 1):
            lo, hi = starts[n], _line_end(text, starts, n)
            if n == first:
                lo = m.start()
            elif n == last and end_m is not None:
                hi = end_m.end()
            lo = _skip_indent(text, lo, hi)
            if lo < hi:
                yield Span(lo, hi, "private-key", priority=4, group=group)
        covered = end_m.end() if end_m is not None else _line_end(text, starts, last)
    for m in _PUTTY.finditer(text):
        first = _line_of(starts, m.start()) + 1
        group = next(groups)
        for n in range(first, min(first + int(m.group(2)), len(starts))):
            lo, hi = _skip_indent(text, starts[n], _line_end(text, starts, n)), _line_end(text, starts, n)
            if lo < hi:
                yield Span(lo, hi, "private-key", priority=4, group=group)


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in _NEWLINE.finditer(text))]


def _line_of(starts: list[int], pos: int) -> int:
    return bisect.bisect_right(starts, pos) - 1


def _line_end(text: str, starts: list[int], n: int) -> int:
    return starts[n + 1] - 1 if n + 1 < len(starts) else len(text)


def _line(text: str, starts: list[int], n: int) -> str:
    return text[starts[n] : _line_end(text, starts, n)]


def _skip_indent(text: str, lo: int, hi: int) -> int:
    while lo < hi and text[lo] in " \t":
        lo += 1
    return lo


def secret_spans(text: str) -> Iterator[Span]:
    """Every span our own rules find in ``text``."""
    groups = itertools.count()
    yield from private_key_spans(text, groups)
    yield from token_spans(text)
