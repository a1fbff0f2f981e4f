"""Age: a document nobody reviewed (front matter ``last_reviewed``) or changed for longer
than its kind's review policy. Low severity on its own; stronger when code the document
names changed since, because then the review is not just due but likely needed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

MAX_CHANGED = 10


def review_basis(reviewed_at: datetime | None, updated_at: datetime) -> tuple[datetime, str]:
    """What the policy counts from: the later of the last review and the last change."""
    if reviewed_at is not None and reviewed_at >= updated_at:
        return reviewed_at, "reviewed"
    return updated_at, "changed"


def age_evidence(path: str, policy_days: int | None, reviewed_at: datetime | None, updated_at: datetime,
                 now: datetime, changed: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The evidence of an age finding, or ``None`` when the document is within its policy.

    ``changed``: files defining names the document references, with the commit that last
    changed them (``source``, ``path``, ``commit``, ``date``); only those changed after
    the basis count."""
    if not policy_days:
        return None
    basis, how = review_basis(reviewed_at, updated_at)
    days = int((now - basis).total_seconds() // 86400)
    if days <= policy_days:
        return None
    since = [dict(c) for c in changed if c.get("date") and c["date"] > basis.isoformat()]
    since.sort(key=lambda c: c["date"], reverse=True)
    return {"basis": how, "since": basis.isoformat(), "days": days, "policy_days": policy_days,
            "code_changed": since[:MAX_CHANGED], "code_changed_count": len(since)}


def age_summary(path: str, ev: Mapping[str, Any], *, public: bool = False) -> str:
    what = "last reviewed" if ev["basis"] == "reviewed" else "last changed"
    path = " ".join(path.replace("`", "'").split())
    text = f"`{path}` was {what} {ev['days']} days ago (review policy: {ev['policy_days']} days)"
    n = ev.get("code_changed_count") or 0
    if n and public:
        return text + ", and code it names changed since"
    if n:
        first = ev["code_changed"][0]
        more = f" and {n - 1} more file{'s' if n > 2 else ''}" if n > 1 else ""
        changed = " ".join(str(first["path"]).replace("`", "'").split())
        return text + f", and code it names changed since: `{changed}` in {first['commit'][:7]}{more}"
    return text
