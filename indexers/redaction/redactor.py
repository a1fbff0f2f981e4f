"""The one place a document's text is cleaned before anything is derived from it.

The pipeline redacts a document's whole text before chunking, so chunk text, context,
titles, symbols, the sparse terms and the dense vector all come from the same clean
text. A secret becomes ``[REDACTED:rule]`` on its own line, so line numbers hold.
A value found once is redacted wherever else it stands in the same document.

``key`` names what a document was cleaned with (rules version, scanning on or off,
personal data on or off); the catalog keeps it per document, and a document whose
key differs from the current one is re-processed even when its content did not change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from assistant.settings import SecretsSettings
from indexers.redaction.assignments import assignment_spans
from indexers.redaction.paths import SecretPaths
from indexers.redaction.pii import pii_spans
from indexers.redaction.secret_rules import secret_spans
from indexers.redaction.spans import Hit, Span, apply, merge, occurrences

# Bump when a rule changes what it redacts: every indexed document is then re-processed
# on its source's next `sourcewise index`, whether or not its content changed.
RULES_VERSION = 1
MAX_LINES_KEPT = 50  # line numbers stored per rule and document
MIN_REPEAT_CHARS = 8  # a found value this long is redacted wherever else it appears
MAX_REPEAT_VALUES = 500  # values looked for elsewhere per document (each is one pass over the text)


@dataclass(frozen=True)
class Redaction:
    """A redacted text and what was removed from it (rule and line, never the value)."""

    text: str
    hits: tuple[Hit, ...] = ()

    def counts(self) -> Counter[str]:
        return Counter(h.rule for h in self.hits)

    def rows(self) -> list[dict[str, Any]]:
        """One catalog row per rule: kind, count and the first lines it fired on."""
        by_rule: dict[str, list[Hit]] = {}
        for hit in self.hits:
            by_rule.setdefault(hit.rule, []).append(hit)
        return [
            {"rule": rule, "kind": hits[0].kind, "count": len(hits),
             "lines": sorted({h.line for h in hits})[:MAX_LINES_KEPT]}
            for rule, hits in sorted(by_rule.items())
        ]


class Redactor:
    """Path rules and text rules, configured once per run from ``SecretsSettings``."""

    def __init__(self, *, scan: bool = True, pii_default: bool = False,
                 skip_paths: Iterable[str] = (), allow_paths: Iterable[str] = (),
                 pii_classifications: Iterable[str] = ()) -> None:
        self.scan = scan
        self.pii_default = pii_default
        self.pii_classifications = frozenset(pii_classifications)
        self.paths = SecretPaths(list(skip_paths), list(allow_paths))

    @classmethod
    def from_settings(cls, settings: SecretsSettings) -> Redactor:
        """The run's redactor from ``SOURCEWISE_SECRETS__*``."""
        return cls(scan=settings.scan, pii_default=settings.pii_default,
                   skip_paths=settings.skip_paths, allow_paths=settings.allow_paths,
                   pii_classifications=settings.pii_classifications)

    def path_rule(self, path: str) -> str | None:
        """The rule that keeps this file out of the index by its path alone, or ``None``."""
        return self.paths.rule_for(path)

    def text_path_rule(self, path: str, text: str) -> str | None:
        """For ``.npmrc``-like files: the rule once the text shows they hold a credential."""
        return self.paths.rule_for_text(path, text)

    def pii_for(self, options: Mapping[str, Any] | None, classification: str | None = None) -> bool:
        """A source's ``redact_pii`` option; else on when its classification is one of
        ``pii_classifications`` (the admin's classification asks for it); else the default."""
        value = (options or {}).get("redact_pii")
        if value is not None:
            return bool(value)
        return classification in self.pii_classifications or self.pii_default

    def key(self, pii: bool) -> str:
        return f"v{RULES_VERSION}:{'scan' if self.scan else 'off'}{'+pii' if pii else ''}"

    def redact(self, text: str, *, path: str = "", language: str | None = None, pii: bool = False) -> Redaction:
        """``text`` with every secret (and, with ``pii``, personal data) replaced."""
        spans: list[Span] = []
        if self.scan:
            # imported on first use: detect-secrets pulls in requests, and every CLI command
            # imports the pipeline
            from indexers.redaction.detect_secrets_scan import detect_secrets_spans

            spans += secret_spans(text)
            spans += detect_secrets_spans(text, path)
            spans += assignment_spans(text, language)
            spans += _elsewhere(text, spans)
        if pii:
            spans += pii_spans(text)
        if not spans:
            return Redaction(text)
        clean, hits = apply(text, merge(spans, text))
        return Redaction(clean, tuple(hits))

    def redact_value(self, value: str | None, *, pii: bool = False) -> str | None:
        """A title or other one-line field, cleaned the same way."""
        if not isinstance(value, str) or not value:
            return value
        return self.redact(value, pii=pii).text


def _elsewhere(text: str, spans: list[Span]) -> list[Span]:
    """The same value wherever else it stands in the text (a password in a URL and in a
    comment, an access key in a config and again in its README)."""
    extra: list[Span] = []
    seen: set[str] = set()
    for s in spans:
        if s.group is not None or s.end - s.start < MIN_REPEAT_CHARS:
            continue
        value = text[s.start : s.end]
        if value in seen:
            continue
        if len(seen) >= MAX_REPEAT_VALUES:
            break
        seen.add(value)
        extra += (Span(a, b, s.rule, s.kind, s.priority) for a, b in occurrences(text, value)
                  if (a, b) != (s.start, s.end))
    return extra
