"""Types and tree helpers shared by the per-language definition extractors."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tree_sitter import Node

KINDS = ("function", "method", "class", "constant", "variable", "option", "setting", "env")
MAX_VALUE_CHARS = 200
MAX_DEPTH = 40  # nesting deeper than this is not walked (bounded recursion)

_CONSTANT_NAME = re.compile(r"_*[A-Z][A-Z0-9_]*")
# Names whose literal values are credentials: their values and defaults are not stored
# (defence in depth: the catalog is not where secrets belong, redacted text or not).
_SECRET_NAME = re.compile(r"(?i)secret|passw|token|api_?key|private_?key|credential|auth|cookie|salt")
_SECRET_VALUE = re.compile(r"""^["']?(?:sk-|sk_live_|ghp_|gho_|github_pat_|xox[abprs]-|AKIA|AIza|glpat-|-----BEGIN)""")
REDACTED = "<redacted>"
MAX_SIGNATURE_CHARS = 2000
MAX_PARAMS = 200


@dataclass(frozen=True)
class Param:
    """One parameter of a function signature."""

    name: str  # "attempt"; "*args", "**kwargs" keep their stars; "/" and "*" markers too
    default: str | None  # source text of the default, whitespace-normalised ("0", "'GET'", "None")
    annotation: str | None = None


@dataclass(frozen=True)
class Definition:
    """One name a file defines, with its signature or simple value when known."""

    name: str  # qualified within the file: "RetryPolicy.delay", "RETRY_LIMIT", "--dry-run"
    kind: str  # one of KINDS
    line: int  # 1-based first line (the def/class line, not decorators)
    end_line: int
    signature: str | None = None  # "(payment_id: str, attempt: int = 0)", normalised
    params: tuple[Param, ...] = ()
    value: str | None = None  # simple constants: literal source text, <= 200 chars


def text_of(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", "replace")


def squash(text: str) -> str:
    """Whitespace-normalised source text: runs of blanks and newlines become one space,
    no space just inside brackets."""
    out = " ".join(text.split())
    for opening in "([{":
        out = out.replace(opening + " ", opening)
    for closing in ")]}":
        out = out.replace(" " + closing, closing)
    return out


def rows(node: Node) -> tuple[int, int]:
    """1-based first and last line of a node (a node ending with its newline ends on
    the line before)."""
    start = node.start_point.row
    end = node.end_point.row
    if node.end_point.column == 0 and end > start:
        end -= 1
    return start + 1, end + 1


def constant_or_variable(name: str) -> str:
    """``RETRY_LIMIT`` is a constant by convention, ``retry_limit`` a variable."""
    return "constant" if _CONSTANT_NAME.fullmatch(name.rsplit(".", 1)[-1]) else "variable"


def clip_value(text: str) -> str | None:
    value = squash(text)
    return value if value and len(value) <= MAX_VALUE_CHARS else None


def render_signature(params: tuple[Param, ...]) -> str:
    """``(payment_id: str, attempt: int = 0)``: the parameters in one normal form."""
    parts = []
    for p in params:
        part = p.name
        if p.annotation:
            part += f": {p.annotation}"
        if p.default is not None:
            part += f" = {p.default}" if p.annotation else f"={p.default}"
        parts.append(part)
    return "(" + ", ".join(parts) + ")"


def _secret(name: str, value: str) -> bool:
    """A credential-looking value, or a string given to a credential-named name
    (``AUTH_RETRIES = 3`` and ``token=None`` keep theirs)."""
    quoted = value[:1] in ("'", '"', "`") or value[:2] in ('b"', "b'", 'f"', "f'", 'r"', "r'")
    return bool(_SECRET_VALUE.match(value)) or quoted and bool(_SECRET_NAME.search(name))


def sanitize(d: Definition) -> Definition:
    """A definition fit for the catalog: no credential values or defaults, bounded size."""
    value = d.value
    if value is not None and _secret(d.name.rsplit(".", 1)[-1], value):
        value = REDACTED
    params = d.params[:MAX_PARAMS]
    hidden = tuple(
        Param(p.name, REDACTED, p.annotation) if p.default is not None and _secret(p.name, p.default) else p
        for p in params
    )
    signature = d.signature
    if hidden != d.params or (signature is not None and len(signature) > MAX_SIGNATURE_CHARS):
        signature = render_signature(hidden)
        signature = signature if len(signature) <= MAX_SIGNATURE_CHARS else None
    if value == d.value and hidden == d.params and signature == d.signature:
        return d
    return Definition(d.name, d.kind, d.line, d.end_line, signature, hidden, value)
