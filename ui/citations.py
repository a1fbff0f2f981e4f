"""How a cited source looks in the chat's side panel: the text with line numbers, where
it lives, how old it is and whether an owner or a finding marked it stale.

Everything from a source or a user goes into Markdown that Chainlit renders without
raw HTML (``unsafe_allow_html = false``): source text sits in a code fence longer than
any backtick run inside it, and names and reasons are backslash-escaped, so markup in
them shows as text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from assistant.generation.citations import humanize_age
from assistant.generation.sanitize import url_host
from assistant.models import Answer, Passage

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~])")
_LANG = re.compile(r"^[A-Za-z0-9_+-]{1,30}$")
ELEMENT_PREFIX = "["  # element names are "[n]", so "[n]" in an answer becomes a link


def escape_md(text: str) -> str:
    """Backslash-escape Markdown (and HTML-starting) characters: the text shows as typed."""
    return _MD_SPECIAL.sub(r"\\\1", text.replace("\r", " ").replace("\n", " "))


def element_name(n: int) -> str:
    return f"[{n}]"


def age_text(passage: Passage, now: datetime | None = None) -> str:
    """``updated 2024-01-02 (3 days ago)``: the age every citation shows, worded as the answer's
    own notes word it (``humanize_age``), so the panel and the answer never disagree."""
    days = max(0.0, passage.age_days(now or datetime.now(UTC)))
    ago = "today" if days < 1 else f"{humanize_age(days)} ago"
    return f"updated {passage.updated_at.astimezone(UTC):%Y-%m-%d} ({ago})"


def status_badge(passage: Passage) -> str | None:
    """A visible stale/deprecated marker with its reason; ``None`` for an active source."""
    if passage.status in (None, "", "active"):
        return None
    reason = f": {escape_md(passage.stale_reason)}" if passage.stale_reason else ""
    return f"⚠️ **{escape_md(passage.status.upper())}**{reason}"


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def numbered(text: str, start_line: int) -> str:
    """The source text with its real line numbers in a gutter."""
    lines = text.splitlines() or [""]
    width = len(str(start_line + len(lines) - 1))
    return "\n".join(f"{n:>{width}} | {line}" for n, line in enumerate(lines, start_line))


def _safe_url(url: str | None) -> str | None:
    """The source's browse URL when it is a plain http(s) URL with a plain host (no user
    info or backslash for a browser to read differently than we do)."""
    if not url or url_host(url) is None or any(c in url for c in " <>()\n\r\"'\\`[]"):
        return None
    return url


def citation_markdown(n: int, passage: Passage, now: datetime | None = None) -> str:
    """The side-panel text of source ``[n]``."""
    head = [f"**[{n}] `{passage.citation.replace('`', '')}`**"]
    if passage.symbol or passage.title:
        head.append(f"_{escape_md(passage.symbol or passage.title or '')}_")
    facts = [age_text(passage, now)]
    if passage.owner:
        facts.append(f"owner {escape_md(passage.owner)}")
    url = _safe_url(passage.url)
    if url:
        facts.append(f"[open in browser]({url})")
    head.append(" · ".join(facts))
    badge = status_badge(passage)
    if badge:
        head.append(badge)
    body = numbered(passage.text, passage.start_line)
    fence = _fence(body)
    lang = passage.language if passage.language and _LANG.match(passage.language) else ""
    return "\n\n".join(head) + f"\n\n{fence}{lang}\n{body}\n{fence}\n"


def cited_passages(answer: Answer) -> list[tuple[int, Passage]]:
    """The sources the answer's text cites, each once, in citation order."""
    seen: dict[int, Passage] = {}
    for c in answer.citations:
        seen.setdefault(c.n, c.passage)
    return sorted(seen.items())


def answer_metadata(answer: Answer) -> dict[str, Any]:
    """What the answer's chat step keeps: the interaction id feedback attaches to, and the
    cited sources (enough to flag one after a restart, even once its source is gone)."""
    return {
        "interaction_id": answer.interaction_id,
        "generator": answer.generator,
        "supported": answer.supported,
        "citations": [{"n": n, "citation": p.citation, "doc_id": p.doc_id, "status": p.status}
                      for n, p in cited_passages(answer)],
    }
