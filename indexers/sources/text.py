"""Bytes -> text with per-item reasons for what cannot be indexed."""

from __future__ import annotations

import codecs

from assistant.errors import ItemError

DEFAULT_MAX_BYTES = 1_000_000
# A "line" longer than this on average, over a file of a few lines, is minified output.
MINIFIED_AVG_LINE = 500
MINIFIED_MIN_BYTES = 5_000


def is_binary(data: bytes) -> bool:
    """Git's heuristic: a NUL byte in the first 8 KB means binary."""
    return b"\x00" in data[:8192]


def decode_text(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Decode file bytes, raising ``ItemError`` with a reason for what we skip.

    Reasons: ``too-large``, ``binary``, ``undecodable``, ``minified``, ``empty``.
    """
    if len(data) > max_bytes:
        raise ItemError("too-large", f"{len(data)} bytes is over the {max_bytes}-byte cap")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ItemError("undecodable", f"invalid UTF-16: {exc.reason}") from None
    else:
        if is_binary(data):
            raise ItemError("binary", "binary content (NUL bytes)")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ItemError(
                "undecodable", f"not UTF-8 at byte {exc.start}: {exc.reason}"
            ) from None
    if not text.strip():
        raise ItemError("empty", "no text")
    if len(data) >= MINIFIED_MIN_BYTES:
        lines = text.count("\n") + 1
        if len(text) / lines > MINIFIED_AVG_LINE:
            raise ItemError("minified", f"average line is {len(text) // lines} characters")
    return text.replace("\r\n", "\n").replace("\r", "\n")
