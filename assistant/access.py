"""Who may read which source, decided from the catalog, for every door that shows source text.

The vector store filters chunks by the ``access_groups`` payload; everything else that
shows something a source said (an unknown-``repo:`` message, a stored chat answer, a
flagged answer in the owners' queue) asks here, so a source outside the caller's
groups looks exactly like a source that does not exist. A source the catalog does not
know (removed, or never there) is readable by admins only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select

from assistant.models import PUBLIC_GROUP, User, split_doc_id

REDACTED_ANSWER = ("[hidden: this answer drew on a source you cannot read now "
                   "(its access groups changed, or it was removed)]")


def effective_groups(groups: Sequence[str] | None) -> list[str]:
    """A source's access groups as its points carry them; none means everyone (legacy rows)."""
    return sorted({g for g in (groups or ()) if g}) or [PUBLIC_GROUP]


def may_read(groups: Sequence[str] | None, user: User) -> bool:
    """Whether ``user`` may read a source with these access groups (admins read everything)."""
    allowed = user.access_groups()
    return allowed is None or bool(set(effective_groups(groups)) & set(allowed))


def readable_sources(source_groups: Mapping[str, Sequence[str]], user: User) -> set[str]:
    """Names of the sources ``user`` may read, from ``{name: access_groups}``."""
    return {name for name, groups in source_groups.items() if may_read(groups, user)}


def can_read_source(db: Any, name: str, user: User) -> bool:
    """Whether ``user`` may read the source called ``name`` (one the catalog does not know:
    admins only)."""
    if user.access_groups() is None:
        return True
    groups = source_groups(db)
    return name in groups and may_read(groups[name], user)


def source_groups(db: Any) -> dict[str, list[str]]:
    """``{source name: access groups}`` for every source in the catalog (one query)."""
    from assistant.catalog.schema import SourceRow

    with db.session() as s:
        return {name: list(groups or ()) for name, groups in s.execute(select(SourceRow.name,
                                                                                SourceRow.access_groups))}


def doc_sources(doc_ids: Iterable[str]) -> set[str]:
    """Source names of ``source:path`` document ids (ids without a source prefix: ``""``)."""
    return {split_doc_id(d)[0] or "" for d in doc_ids}


def interaction_sources(retrieved: Iterable[Mapping[str, Any]] | None) -> set[str]:
    """The sources an interaction drew on (its ``retrieved`` records)."""
    return doc_sources(str(p.get("doc_id") or "") for p in retrieved or ())


def hidden_interactions(db: Any, user: User, interaction_ids: Iterable[int]) -> set[int]:
    """Of ``interaction_ids``, those whose answer drew on a source ``user`` may not read now.

    An answer is shown in full only while its reader may still read every source it
    retrieved: narrowing a source's groups or removing it hides stored answers at once,
    without rewriting them (restoring the groups shows them again).
    """
    from assistant.catalog.schema import InteractionRow

    ids = sorted({int(i) for i in interaction_ids if isinstance(i, int) and not isinstance(i, bool)})
    if not ids or user.access_groups() is None:
        return set()
    readable = readable_sources(source_groups(db), user)
    hidden: set[int] = set()
    with db.session() as s:
        for start in range(0, len(ids), 500):
            rows = s.execute(select(InteractionRow.id, InteractionRow.retrieved)
                             .where(InteractionRow.id.in_(ids[start:start + 500])))
            hidden |= {iid for iid, retrieved in rows if not interaction_sources(retrieved) <= readable}
    return hidden


def access_epoch(db: Any) -> str:
    """Changes whenever who-may-read-what or what an answer shows changes without an index
    run: a source's groups, classification or status, an owner's deprecation, restoration
    or reassignment, a flag raised, fixed or dismissed, a staleness finding dismissed
    (the stale-source notes answers carry). Part of the answer cache's index version."""
    import hashlib
    import json

    from assistant.catalog.schema import DocOverrideRow, FlagRow, SourceRow
    from assistant.catalog.staleness_schema import FindingRow

    with db.session() as s:
        sources = [[name, sorted(groups or ()), cls, status] for name, groups, cls, status in s.execute(
            select(SourceRow.name, SourceRow.access_groups, SourceRow.classification, SourceRow.status)
            .order_by(SourceRow.name))]
        count, last = s.execute(select(func.count(), func.max(DocOverrideRow.updated_at))
                                .select_from(DocOverrideRow)).one()
        flags = s.execute(select(func.count(), func.max(FlagRow.id), func.max(FlagRow.resolved_at))
                          .select_from(FlagRow)).one()
        findings = s.execute(select(func.count(), func.max(FindingRow.updated_at)).select_from(FindingRow)).one()
    digest = hashlib.sha256(json.dumps([sources, list(flags), list(findings)], default=str).encode()).hexdigest()[:16]
    return f"a{digest}:o{count}:{last.isoformat() if last is not None else '-'}"
