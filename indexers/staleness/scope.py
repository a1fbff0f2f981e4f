"""Scoped detection: after an incremental index run, re-check only the documents the run
could have changed the findings of, with the same open findings as a full detection.

A document's dead and drift findings depend on its text (its references), on the
definitions its references resolve to (now and at the commit it was written against),
on the paths it links, and on the history of those files. So after a run that moved a
code source from commit ``old`` to ``new``, a document needs checking again when

* the run wrote, relabelled, deleted or backfilled it (``RunScope.touched``);
* one of its references names a key that an old or new version of a changed file
  defines (any word of a code version never parsed, which may be parsed on demand), or
  a module that is a changed file (re-exports), or links a changed path or a directory
  holding one;
* an open finding of it cites a changed file in its evidence (traces, "changed in").

Every other checkable document keeps its open dead/drift findings as they are, and its
age finding is recomputed from the stored evidence (age depends on the clock, not the
change). A full detection runs instead when the previous state is unknown or unclean:
no previous run, ``index --full``, other detector rules or settings or ``.sourcewise-stale-ignore``,
a deferred or unusable code source last time, history rewritten, or the last full pass
of the source older than ``FULL_EVERY``.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from assistant.catalog.db import Database
from assistant.catalog.schema import IndexRunRow
from assistant.catalog.staleness_schema import FindingRow, SymbolBlobRow, SymbolRow
from indexers.staleness.age import age_summary
from indexers.staleness.findings import Candidate
from indexers.staleness.history import GitReader
from indexers.staleness.resolve import is_code_path, path_candidates, ref_key, ref_parts
from indexers.staleness.symbols import module_names

# Bump when a change to the detector or its rules can change findings: every source's
# next detection is then a full one.
DETECTOR_VERSION = "2"
# A full detection at least this often per docs source: it re-reads what no run touches
# (an owner deprecating or restoring a document) and bounds any drift of the scoped one.
FULL_EVERY = timedelta(hours=24)
STATE_KEY = "staleness_state"
_TOKEN = re.compile(r"--?[a-z0-9_][\w-]*|[a-z_]\w*")
MAX_TOKEN_TEXT = 2_000_000  # a changed file larger than this: every key counts as changed


@dataclass(frozen=True)
class RunScope:
    """What an index run changed, as the detector after it needs to know."""

    touched: frozenset[str] = frozenset()
    full: bool = False


def rules_hash(cfg: Any, ignore_entries: Iterable[str]) -> str:
    """The detector version, staleness settings and ``.sourcewise-stale-ignore`` entries a target's
    findings were computed with (another value: a full detection)."""
    dump = cfg.model_dump_json() if hasattr(cfg, "model_dump_json") else repr(cfg)
    text = "\0".join((DETECTOR_VERSION, dump, *sorted(ignore_entries)))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def marker(run: IndexRunRow | None) -> dict[str, Any]:
    state = (run.counts or {}).get(STATE_KEY) if run is not None else None
    return state if isinstance(state, dict) else {}


def previous_run(db: Database, source_id: int, before: int) -> IndexRunRow | None:
    with db.session() as s:
        return s.scalar(select(IndexRunRow).where(IndexRunRow.source_id == source_id, IndexRunRow.id < before)
                        .order_by(IndexRunRow.id.desc()).limit(1))


def clean_for(run: IndexRunRow | None, target: str, rules: str) -> bool:
    """Whether ``run``'s detection left ``target``'s findings complete under ``rules``."""
    return run is not None and run.status == "ok" and (marker(run).get("targets") or {}).get(target) == rules


def full_pass_due(run: IndexRunRow | None, target: str, now: datetime) -> bool:
    raw = (marker(run).get("full_at") or {}).get(target)
    try:
        return raw is None or now - datetime.fromisoformat(raw) > FULL_EVERY
    except (TypeError, ValueError):
        return True


@dataclass
class CodeChange:
    """The files one code source's run changed, and what they define or mention."""

    paths: set[str] = field(default_factory=set)
    dirs: set[str] = field(default_factory=set)  # every directory above a changed path
    keys: set[str] = field(default_factory=set)
    modules: set[str] = field(default_factory=set)
    everything: bool = False  # too large to tell: every reference counts as hit

    def hits(self, kind: str, text: str, doc_path: str) -> bool:
        if self.everything:
            return True
        if kind == "path":
            return any(c.rstrip("/") in self.paths or c.rstrip("/") in self.dirs
                       for c in path_candidates(text, doc_path))
        key = ref_key(kind, text)
        if key is not None and key in self.keys:
            return True
        parts = ref_parts(text)
        return any(".".join(parts[:k]) in self.modules for k in range(1, len(parts)))


def code_change(db: Database, source_id: int, reader: GitReader, old: str, new: str) -> CodeChange | None:
    """What changed in a code source between two indexed commits (``None``: unknown, as
    when the history was rewritten and ``old`` is no ancestor of ``new``)."""
    change = CodeChange()
    if old == new:
        return change
    try:
        if not reader.is_ancestor(old, new):
            return None
        # every file a commit in the range touched (a change undone later in the range
        # still moved the file's history), old and new names of renames
        out = reader.repo.git.log("--no-renames", "--name-only", "--format=", "-z", f"{old}..{new}")
        before, after = reader.tree(old), reader.tree(new)
    except Exception:  # noqa: BLE001 - git refused: judge everything
        return None
    change.paths = {p.strip("\n") for p in out.split("\0") if p.strip("\n")}
    for path in change.paths:
        parent = posixpath.dirname(path)
        while parent:
            change.dirs.add(parent)
            parent = posixpath.dirname(parent)
        if path.endswith((".py", ".pyi")):
            change.modules.update(module_names(path))
    # definitions stored for any version of these files (names a parser derives, such as
    # settings' environment keys, need not appear in the text)
    paths = sorted(change.paths)
    parsed: set[tuple[str, str]] = set()
    with db.session() as s:
        for start in range(0, len(paths), 400):
            part = paths[start : start + 400]
            change.keys.update(s.scalars(select(SymbolRow.key).distinct().where(
                SymbolRow.source_id == source_id, SymbolRow.path.in_(part))))
            parsed.update((p, b) for p, b in s.execute(select(SymbolBlobRow.path, SymbolBlobRow.blob).where(
                SymbolBlobRow.source_id == source_id, SymbolBlobRow.path.in_(part))))
    # a code version never parsed (excluded from the index) may be parsed on demand:
    # every word it has counts
    size = 0
    for path in paths:
        if not is_code_path(path):
            continue
        for blob in {before.get(path), after.get(path)} - {None}:
            if (path, blob) in parsed:
                continue
            text = reader.text(blob) or ""  # type: ignore[arg-type]
            size += len(text)
            if size > MAX_TOKEN_TEXT:
                change.everything = True
                return change
            change.keys.update(_TOKEN.findall(text.lower()))
    return change


def evidence_paths(value: Any) -> set[str]:
    """Every file path a finding's evidence cites (definitions, trace steps, changes)."""
    out: set[str] = set()
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, Mapping):
            for k, x in v.items():
                if k in ("path", "new_path", "old_path") and isinstance(x, str):
                    out.add(x)
                else:
                    todo.append(x)
        elif isinstance(v, list | tuple):
            todo.extend(v)
    return out


def affected(docs: Iterable[Any], refs: Mapping[str, tuple[str, list[Any]]], rows: Iterable[FindingRow],
             touched: Iterable[str], changes: Iterable[CodeChange]) -> set[str]:
    """The documents whose findings the run may have changed."""
    out = set(touched)
    changes = [c for c in changes if c.everything or c.paths]
    if not changes:
        return out
    paths = {d.doc_id: d.path for d in docs}
    for doc_id, (_blob, recs) in refs.items():
        doc_path = paths.get(doc_id)
        if doc_id in out or doc_path is None:
            continue
        if any(c.hits(r.kind, r.text, doc_path) for r in recs for c in changes):
            out.add(doc_id)
    for row in rows:
        if row.doc_id not in out:
            cited = evidence_paths(row.evidence)
            if any(c.everything or cited & c.paths for c in changes):
                out.add(row.doc_id)
    return out


def carried(row: FindingRow) -> Candidate:
    """An open dead/drift finding of a document the run cannot have changed, as it is."""
    ev = dict(row.evidence or {})
    public = ev.pop("public_summary", None) or row.summary
    target = str(ev.pop("target", ""))
    return Candidate(row.kind, row.doc_id, row.path, row.reference, target, row.line, row.summary, public, ev,
                     row.suggestion, row.code_source)


def age_from_stored(check: Any, policy: int | None, now: datetime, reviewed_at: datetime | None,
                    rows: Iterable[FindingRow]) -> tuple[bool, Candidate | None]:
    """(known, candidate): the age finding of an unchanged document, its ``code_changed``
    taken from the stored finding with the same fingerprint; ``known`` is False when the
    doc is overdue and no such finding exists (only a full check can tell then)."""
    cand = check.age(policy, now, reviewed_at)
    if cand is None:
        return True, None
    stored = next((r for r in rows if r.kind == "age" and r.status in ("open", "dismissed")
                   and (r.evidence or {}).get("target") == cand.target), None)
    if stored is None:
        return False, None
    ev = stored.evidence or {}
    check.changed_code = list(ev.get("code_changed") or [])
    cand = check.age(policy, now, reviewed_at)
    if cand is not None and ev.get("code_changed_count") is not None:
        cand.evidence["code_changed_count"] = ev["code_changed_count"]
        cand.summary = age_summary(cand.path, cand.evidence)
        cand.public_summary = age_summary(cand.path, cand.evidence, public=True)
    return True, cand
