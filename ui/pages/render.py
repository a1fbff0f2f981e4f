"""HTML rendering for the owner and admin pages: Jinja2 with autoescape, flash messages.

Everything people typed (questions, answers, comments, source text) is rendered through
autoescaping templates, so markup in it shows as text. Pages carry a strict
Content-Security-Policy: the only scripts that run are inline ones with this response's
nonce. Flash messages ride in a short-lived cookie across the redirect after a POST, so
a crafted link cannot put words in the page's mouth.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from assistant.generation.citations import humanize_age

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
FLASH_COOKIE = "sw_flash"
_FLASH_MAX = 600

_env: Environment | None = None


def environment() -> Environment:
    """The one Jinja2 environment (autoescape on for every template we ship)."""
    global _env
    if _env is None:
        env = Environment(
            loader=FileSystemLoader(TEMPLATES_DIR),
            autoescape=select_autoescape(["html"], default_for_string=True, default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["age"] = age
        env.filters["when"] = when
        env.filters["short"] = short_commit
        env.filters["plural"] = plural
        env.filters["safe_url"] = safe_url
        env.globals["now"] = lambda: datetime.now(UTC)
        _env = env
    return _env


def age(value: datetime | None, now: datetime | None = None) -> str:
    """'3 days ago' style age; citations and health tables show how old things are."""
    if value is None:
        return "never"
    now = now or datetime.now(UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = max(0.0, (now - value).total_seconds())
    if seconds >= 86400:  # the same words as the chat's citations and the answers' stale notes
        return f"{humanize_age(seconds / 86400)} ago"
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def when(value: datetime | None) -> str:
    """A compact UTC timestamp for tables."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def short_commit(value: str | None) -> str:
    if not value:
        return "—"
    # A git commit (40 hex) or a docs/wiki source's content hash (64 hex): both would stretch a table.
    return value[:10] if len(value) >= 40 and all(c in "0123456789abcdef" for c in value) else value


def safe_url(value: str | None) -> str:
    """Only http(s) and site-relative links become hrefs: a ``javascript:`` URL from a wiki
    export or a browse template must not run in an admin's session."""
    if not value:
        return ""
    text = str(value).strip()
    scheme = urlsplit(text).scheme.lower()
    if scheme in ("http", "https") or (not scheme and text.startswith("/") and not text.startswith("//")):
        return text
    return ""


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def security_headers(response: Response, nonce: str) -> None:
    """No framing, no foreign scripts, no caching (pages can show a token once)."""
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; object-src 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"


def render(
    request: Request, template: str, *, account: Any = None, status_code: int = 200,
    section: str = "", **context: Any,
) -> HTMLResponse:
    """Render a page; the account (if any) gets the nav and its CSRF token."""
    from ui.pages.csrf import csrf_token

    nonce = secrets.token_urlsafe(16)
    flash = read_flash(request)
    html = environment().get_template(template).render(
        request=request, account=account, section=section, nonce=nonce, flash=flash,
        csrf=csrf_token(request, account) if account is not None else "",
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    security_headers(response, nonce)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(url: str, *, notice: str | None = None, error: str | None = None) -> RedirectResponse:
    """303 after a POST, with a one-time message for the next page."""
    response = RedirectResponse(url, status_code=303)
    if notice or error:
        payload = {"kind": "error" if error else "notice", "text": (error or notice or "")[:_FLASH_MAX]}
        value = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()
        response.set_cookie(FLASH_COOKIE, value, max_age=60, path="/", httponly=True, samesite="strict")
    return response


def read_flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or len(raw) > 2 * _FLASH_MAX + 100:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except (ValueError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("kind") not in ("notice", "error"):
        return None
    return {"kind": str(data["kind"]), "text": str(data.get("text", ""))[:_FLASH_MAX]}


def same_site_path(url: str | None, request: Request, default: str) -> str:
    """The path+query of ``url`` when it points back at this site, else ``default``.

    Used for 'back to where you were' after a failed POST; never an open redirect.
    """
    if not url:
        return default
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.headers.get("host", ""):
        return default
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path + (f"?{parts.query}" if parts.query else "")
