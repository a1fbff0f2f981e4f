"""What a doc claims exists: names, paths, options and environment keys it mentions.

Precision first: a reference that is not really one becomes a false "dead reference"
finding, and a noisy gate gets switched off. So keywords, builtins, standard-library
names, plain English words, placeholders, URLs and snippet-local names never become
references.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("symbol", "path", "option", "env")


@dataclass(frozen=True)
class Reference:
    """One claim a doc makes, at a line of the doc's stored text."""

    text: str  # normalised: "compute_invoice_total", "payments.retry.RetryPolicy.delay", "--dry-run", "docs/x.md"
    kind: str  # one of KINDS
    line: int  # 1-based line in the doc's stored text (front matter included)
    context: str  # the doc line, clipped to ~300 chars
    # e.g. {"anchor": [10, 20]}, {"lang": "python"}, {"role": "func"}, {"call_kwargs": ["timeout"]},
    # {"how": "code-span" | "code-block" | "link" | "role" | "directive" | "path"}
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DocReferences:
    references: tuple[Reference, ...]
    truncated: bool  # the doc hit the caps (huge generated doc): counted by the pipeline
    ignored: int  # references dropped by inline markers


def doc_references(
    text: str,
    path: str,
    language: str | None,
    code_languages: frozenset[str] = frozenset(),
    *,
    ignore_all: bool = False,
) -> DocReferences:
    """What a doc claims exists. ``code_languages``: languages the linked code is written
    in (identifiers inside fenced blocks of other languages are not references).
    ``ignore_all``: the doc opted out by a flag its source found (front matter a docs
    source blanks out); everything found counts as ignored."""
    return DocReferences((), False, 0)
