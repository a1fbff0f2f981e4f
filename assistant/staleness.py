"""A document's staleness score: its open findings and user flags in one number.

``1 - prod(1 - w)`` over the open dead/drift/age findings and open user flags, with the
weights from ``StalenessSettings``: one dead reference alone is 0.6, two are 0.84, an old
review alone stays low. Retrieval multiplies a passage's score by ``1 - stale_penalty x
staleness``; answers citing a document above ``warn_threshold`` repeat its reason.

The reason is one sentence naming what is wrong. It travels in the points' payload, so
every reader of the document sees it: when the evidence lives in a code source that
some readers of the document may not read, the reason is the finding's
``public_summary``, which names only what the document itself says.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from assistant.catalog.db import Database
from assistant.catalog.schema import DocumentRow, FlagRow, SourceRow
from assistant.catalog.staleness_schema import FindingRow
from assistant.models import PUBLIC_GROUP
from assistant.store.base import VectorStore

SEVERITY = {"dead": 3, "drift": 2, "age": 1}
FLAG_KINDS = ("outdated", "wrong")
WITHHELD = "evidence in a source you cannot read"


@dataclass(frozen=True)
class Weights:
    dead: float = 0.6
    drift: float = 0.4
    age: float = 0.15
    age_code_changed: float = 0.3
    flag: float = 0.3

    @classmethod
    def from_settings(cls, cfg: Any) -> Weights:
        return cls(cfg.weight_dead, cfg.weight_drift, cfg.weight_age, cfg.weight_age_code_changed,
                   cfg.weight_flag)

    def of(self, kind: str, evidence: Mapping[str, Any] | None = None) -> float:
        if kind == "age":
            return self.age_code_changed if (evidence or {}).get("code_changed") else self.age
        return {"dead": self.dead, "drift": self.drift, "flag": self.flag}.get(kind, 0.0)


def combine(weights: Iterable[float]) -> float:
    """``1 - prod(1 - w)``: each signal takes its share of what freshness is left."""
    keep = 1.0
    for w in weights:
        keep *= 1.0 - min(max(float(w), 0.0), 1.0)
    return round(1.0 - keep, 6)


def effective(groups: Sequence[str] | None) -> set[str]:
    return set(groups or ()) or {PUBLIC_GROUP}


def readers_may_see(doc_groups: Sequence[str] | None, code_groups: Sequence[str] | None) -> bool:
    """Whether everyone who may read the document may also read the code source (so a
    reason quoting the code is safe to put where the document's readers see it)."""
    code = effective(code_groups)
    return PUBLIC_GROUP in code or effective(doc_groups) <= code


def visible_summary(finding: FindingRow, doc_groups: Sequence[str] | None,
                    groups_of: Callable[[str], Sequence[str] | None]) -> str:
    """The finding's summary, or its public one when the code behind it is restricted."""
    public = (finding.evidence or {}).get("public_summary") or finding.summary
    for name in code_sources_of(finding):
        if not readers_may_see(doc_groups, groups_of(name)):
            return public
    return finding.summary


def code_sources_of(finding: FindingRow) -> list[str]:
    """Every code source a finding's evidence comes from (age findings may name several)."""
    names = [finding.code_source] if finding.code_source else []
    for item in (finding.evidence or {}).get("code_changed") or ():
        src = item.get("source") if isinstance(item, dict) else None
        if src and src not in names:
            names.append(src)
    return names


def flag_reason(flag: FlagRow) -> str:
    """A user flag as a reason; the comment is someone's free text, so it loses markup
    (links, code, emphasis) before answers repeat it."""
    path = " ".join(flag.path.replace("`", "'").split())
    text = f"`{path}` was flagged as {flag.kind} by {flag.user_name}"
    comment = " ".join(re.sub(r"[`<>\[\]()*_|\\]", "", flag.comment or "").split())[:160]
    return text + (f": {comment}" if comment else "")


def score_document(findings: Sequence[FindingRow], flags: Sequence[FlagRow], weights: Weights,
                   summary: Callable[[FindingRow], str]) -> tuple[float, str | None]:
    """(staleness, reason) from a document's open findings and open user flags."""
    parts: list[tuple[float, int, str]] = []
    for f in findings:
        parts.append((weights.of(f.kind, f.evidence), SEVERITY.get(f.kind, 0), summary(f)))
    for fl in flags:
        parts.append((weights.flag, 0, flag_reason(fl)))
    if not parts:
        return 0.0, None
    score = combine(w for w, _, _ in parts)
    parts.sort(key=lambda p: (-p[0], -p[1], p[2]))
    reason = parts[0][2].rstrip(".")
    if len(parts) > 1:
        reason += f" (and {len(parts) - 1} more finding{'s' if len(parts) > 2 else ''})"
    return score, reason


def refresh_scores(db: Database, store: VectorStore | None, doc_ids: Iterable[str],
                   weights: Weights) -> int:
    """Recompute and write the staleness of these documents (catalog row and, when it
    changed, their points' payload); returns how many changed."""
    ids = sorted(set(doc_ids))
    if not ids:
        return 0
    changed: dict[str, tuple[float, str | None]] = {}
    with db.session() as s:
        groups = {r.name: r.access_groups for r in s.scalars(select(SourceRow))}
        by_id = {r.id: r for r in s.scalars(select(SourceRow))}
        for start in range(0, len(ids), 400):
            part = ids[start : start + 400]
            docs = {d.doc_id: d for d in s.scalars(select(DocumentRow).where(DocumentRow.doc_id.in_(part)))}
            open_findings: dict[str, list[FindingRow]] = {}
            for f in s.scalars(select(FindingRow).where(FindingRow.doc_id.in_(part), FindingRow.status == "open")
                               .order_by(FindingRow.id)):
                open_findings.setdefault(f.doc_id, []).append(f)
            open_flags: dict[str, list[FlagRow]] = {}
            for fl in s.scalars(select(FlagRow).where(FlagRow.doc_id.in_(part), FlagRow.status == "open",
                                                     FlagRow.origin == "user", FlagRow.kind.in_(FLAG_KINDS))
                                .order_by(FlagRow.id)):
                open_flags.setdefault(fl.doc_id, []).append(fl)
            for doc_id, doc in docs.items():
                src = by_id.get(doc.source_id)
                doc_groups = src.access_groups if src else None
                score, reason = score_document(
                    open_findings.get(doc_id, []), open_flags.get(doc_id, []), weights,
                    lambda f, g=doc_groups: visible_summary(f, g, groups.get))
                if (doc.staleness or 0.0) != score or doc.stale_reason != reason:
                    doc.staleness, doc.stale_reason = score, reason
                    changed[doc_id] = (score, reason)
    if store is not None and changed:
        for doc_id, (score, reason) in changed.items():
            store.set_doc_payload(doc_id, {"staleness": score, "stale_reason": reason})
        store.flush()
    return len(changed)


def doc_staleness(db: Database, source_id: int) -> dict[str, tuple[float, str | None]]:
    """doc_id -> (staleness, reason) of a source's stale documents: the pipeline puts them
    back into the payload of documents it re-embeds."""
    with db.session() as s:
        rows = s.execute(select(DocumentRow.doc_id, DocumentRow.staleness, DocumentRow.stale_reason)
                         .where(DocumentRow.source_id == source_id, DocumentRow.staleness > 0))
        return {r[0]: (float(r[1]), r[2]) for r in rows}
