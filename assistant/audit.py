"""The audit log: append-only and hash-chained, so an edited, deleted or inserted row shows.

Every row stores ``prev_hash`` (the previous row's hash) and ``hash = sha256(prev_hash ||
canonical JSON of (id, at, actor, action, target, details))``. Appending takes the chain
head (``audit_head``, one row) under a write lock first: ``BEGIN IMMEDIATE`` on SQLite,
``SELECT ... FOR UPDATE`` elsewhere. So threads of the server, a CLI process on the
same SQLite file and the workers of a PostgreSQL deployment all append to one chain and
never fork it. Nothing here updates or deletes a row; ``verify`` walks the chain and
names the first row that breaks it, and ``export`` writes rows with their hashes as
JSON lines that ``verify_file`` checks on their own (an anchor kept outside the catalog).

Without a secret key the chain proves order and integrity against edits made without
recomputing hashes; someone who can rewrite the whole table and the head can forge a
consistent chain, which an export kept elsewhere (``--anchor``) still exposes.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import insert, select, update

from assistant.catalog.db import Database
from assistant.catalog.schema import AuditHeadRow, AuditRow
from assistant.errors import ConfigError, StoreError

GENESIS = "0" * 64  # prev_hash of the first row
_ACTOR_MAX, _ACTION_MAX = 200, 60  # the columns' lengths: hash what is stored
_REMEMBERED = 10_000  # recent hashes verify keeps to say which row a broken link points to


def canonical(entry_id: int, at: datetime, actor: str, action: str, target: str, details: dict[str, Any]) -> bytes:
    """The bytes a row's hash covers: sorted-key compact JSON, ``at`` in UTC with microseconds."""
    doc = {"id": int(entry_id), "at": at.astimezone(UTC).isoformat(timespec="microseconds"), "actor": actor,
           "action": action, "target": target, "details": details}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def chain_hash(prev_hash: str, entry_id: int, at: datetime, actor: str, action: str, target: str,
               details: dict[str, Any]) -> str:
    """``sha256(prev_hash || canonical(...))`` as hex."""
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(canonical(entry_id, at, actor, action, target, details))
    return digest.hexdigest()


def normalize_details(details: dict[str, Any] | None) -> dict[str, Any]:
    """What the JSON column gives back (tuples as lists, dates as text): hash what is stored."""
    return json.loads(json.dumps(details or {}, default=str, sort_keys=True))


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    prev_hash: str = ""
    hash: str = ""

    def computed_hash(self, entry_id: int | None = None) -> str:
        return chain_hash(self.prev_hash or "", self.id if entry_id is None else entry_id, self.at, self.actor,
                          self.action, self.target, self.details)

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"at": self.at.astimezone(UTC).isoformat(timespec="microseconds")}


@dataclass(frozen=True)
class ChainHead:
    last_id: int
    last_hash: str
    legacy_through_id: int | None  # rows up to this id were chained at upgrade time (migration 0007)


@dataclass(frozen=True)
class ChainReport:
    """What ``verify`` found: ``ok``, or the first row that breaks the chain and how."""

    ok: bool
    rows: int
    last_id: int | None
    last_hash: str
    broken_at: int | None = None
    problem: str | None = None
    legacy_through_id: int | None = None

    def summary(self) -> str:
        if not self.ok:
            return f"audit chain broken at row {self.broken_at}: {self.problem}"
        text = f"audit chain intact: {self.rows} row(s), head row {self.last_id or 0} hash {self.last_hash}"
        if self.legacy_through_id:
            text += (f"; rows 1-{self.legacy_through_id} existed before the upgrade and were chained then "
                     "(their hashes prove they are unchanged since the upgrade, not before)")
        return text


class AuditLog:
    """Append and read the audit log; the only writer of ``audit_log`` and ``audit_head``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, actor: str, action: str, target: str, details: dict[str, Any] | None = None) -> int:
        """Append one row to the chain and return its id (one transaction, head locked)."""
        actor, action, target = str(actor or "?")[:_ACTOR_MAX], str(action)[:_ACTION_MAX], str(target)
        details = normalize_details(details)
        engine = self.db.engine
        head_t, audit_t = AuditHeadRow.__table__, AuditRow.__table__
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock before reading the head
            head = conn.execute(select(head_t.c.last_id, head_t.c.last_hash).where(head_t.c.id == 1)
                                .with_for_update()).one_or_none()
            if head is None:
                raise StoreError("the audit chain head is missing (catalog not migrated to 0007?): "
                                 "run any sourcewise command to migrate, then `sourcewise audit verify`")
            entry_id, at = head.last_id + 1, datetime.now(UTC)
            digest = chain_hash(head.last_hash, entry_id, at, actor, action, target, details)
            conn.execute(insert(audit_t).values(id=entry_id, at=at, actor=actor, action=action, target=target,
                                                details=details, prev_hash=head.last_hash, hash=digest))
            conn.execute(update(head_t).where(head_t.c.id == 1).values(last_id=entry_id, last_hash=digest))
            conn.commit()
        return entry_id

    def entries(self, limit: int = 100, actor: str | None = None, action: str | None = None) -> list[AuditEntry]:
        """Newest first, optionally one actor's or one action's (a ``question.`` prefix matches all)."""
        q = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if actor:
            q = q.where(AuditRow.actor == actor)
        if action:
            q = q.where(AuditRow.action.startswith(action) if action.endswith(".") else AuditRow.action == action)
        with self.db.session() as s:
            return [_entry(r) for r in s.scalars(q)]

    def iter_chain(self, batch: int = 1000) -> Iterator[AuditEntry]:
        """Every row, oldest first, read in id-ordered pages."""
        after = None
        while True:
            q = select(AuditRow).order_by(AuditRow.id).limit(batch)
            if after is not None:
                q = q.where(AuditRow.id > after)
            with self.db.session() as s:
                rows = [_entry(r) for r in s.scalars(q)]
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1].id

    def head(self) -> ChainHead | None:
        with self.db.session() as s:
            row = s.get(AuditHeadRow, 1)
            return ChainHead(row.last_id, row.last_hash, row.legacy_through_id) if row else None

    def verify(self) -> ChainReport:
        """Walk the whole chain and compare its end with the head."""
        return verify_entries(self.iter_chain(), self.head())

    def export(self, out: IO[str]) -> int:
        """Write every row with its hashes as JSON lines; returns the number of rows."""
        n = 0
        for entry in self.iter_chain():
            out.write(json.dumps(entry.as_json(), sort_keys=True, ensure_ascii=False) + "\n")
            n += 1
        return n


def _entry(r: AuditRow) -> AuditEntry:
    return AuditEntry(r.id, r.at, r.actor, r.action, r.target, dict(r.details or {}), r.prev_hash or "", r.hash or "")


def read_export(path: Path) -> Iterator[AuditEntry]:
    """Entries of an ``audit export`` file; a line that is not an entry is a ``ConfigError``."""
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                yield AuditEntry(int(d["id"]), datetime.fromisoformat(d["at"]), d["actor"], d["action"], d["target"],
                                 dict(d.get("details") or {}), d.get("prev_hash") or "", d.get("hash") or "")
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError(f"{path}:{n} is not an audit export line ({type(exc).__name__}: {exc})") from None


def verify_file(path: Path) -> ChainReport:
    """Check an export on its own: every row's hash and link, from the first row on."""
    return verify_entries(read_export(path), None)


def verify_entries(entries: Iterable[AuditEntry], head: ChainHead | None) -> ChainReport:
    """The first row (in id order) whose hash or link is wrong, and what most likely happened."""
    expected, prev = GENESIS, None
    seen: dict[str, int] = {}
    order: deque[str] = deque()
    rows = 0
    it = iter(entries)
    cur = next(it, None)
    legacy = head.legacy_through_id if head else None

    def broken(row_id: int | None, problem: str) -> ChainReport:
        return ChainReport(False, rows, prev.id if prev else None, expected, row_id, problem, legacy)

    while cur is not None:
        nxt = next(it, None)
        if prev is not None and cur.id <= prev.id:
            return broken(cur.id, f"row {cur.id} comes after row {prev.id}: ids are out of order")
        if not cur.hash or not cur.prev_hash:
            return broken(cur.id, f"row {cur.id} has no hash: it was inserted outside the audit log")
        if cur.computed_hash() != cur.hash:
            if nxt is not None and cur.prev_hash == nxt.hash:
                return broken(cur.id, f"rows {cur.id} and {nxt.id} are swapped: row {cur.id} holds the entry "
                                      f"that was written after row {nxt.id}'s")
            if cur.computed_hash(cur.id - 1) == cur.hash:
                return broken(cur.id, f"row {cur.id} was row {cur.id - 1}: it was renumbered, so a row was "
                                      f"inserted before it")
            if cur.computed_hash(cur.id + 1) == cur.hash:
                return broken(cur.id, f"row {cur.id} was row {cur.id + 1}: it was renumbered, so a row before "
                                      f"it was deleted")
            return broken(cur.id, f"row {cur.id} was edited: its contents no longer match its hash")
        if cur.prev_hash != expected:
            if cur.prev_hash in seen:
                return broken(cur.id, f"row {cur.id} chains to row {seen[cur.prev_hash]}, not to row "
                                      f"{prev.id if prev else 0}: row(s) after {seen[cur.prev_hash]} were inserted")
            if prev is None and cur.id > 1:
                return broken(cur.id, f"row(s) 1-{cur.id - 1} were deleted: the first row does not start the chain")
            if prev is not None and cur.id > prev.id + 1:
                gap = f"{prev.id + 1}" if cur.id == prev.id + 2 else f"{prev.id + 1}-{cur.id - 1}"
                return broken(cur.id, f"row(s) {gap} were deleted: row {cur.id} does not chain to row {prev.id}")
            return broken(cur.id, f"row {cur.id} does not chain to row {prev.id if prev else 0}: a row was "
                                  "replaced, or this row was inserted")
        seen[cur.hash] = cur.id
        order.append(cur.hash)
        if len(order) > _REMEMBERED:
            seen.pop(order.popleft(), None)
        expected, prev, rows, cur = cur.hash, cur, rows + 1, nxt
    last_id = prev.id if prev else 0
    if head is not None:
        if head.last_id > last_id:
            gap = f"{last_id + 1}" if head.last_id == last_id + 1 else f"{last_id + 1}-{head.last_id}"
            return broken(last_id + 1, f"row(s) {gap} were deleted: the chain head says row {head.last_id} is last")
        if head.last_id < last_id:
            return broken(head.last_id + 1, f"row(s) after {head.last_id} were inserted outside the audit log: "
                                            f"the chain head says row {head.last_id} is last")
        if head.last_hash != expected:
            return broken(last_id, f"row {last_id} was replaced: its hash differs from the chain head's")
    return ChainReport(True, rows, prev.id if prev else None, expected, legacy_through_id=legacy)


def check_anchor(report: ChainReport, log: AuditLog, anchor: str) -> ChainReport:
    """``ID:HASH`` kept outside the catalog (an old export's last row) must still be in the chain."""
    try:
        raw_id, want = anchor.split(":", 1)
        anchor_id = int(raw_id)
    except ValueError:
        raise ConfigError(f"--anchor {anchor!r}: give ID:HASH, e.g. the last line of an earlier export") from None
    if not report.ok:
        return report
    with log.db.session() as s:
        row = s.get(AuditRow, anchor_id)
        found = row.hash if row else None
    if found != want.strip():
        problem = (f"row {anchor_id} is gone" if found is None else
                   f"row {anchor_id}'s hash is {found}, not the anchored {want.strip()}: the chain was rewritten")
        return ChainReport(False, report.rows, report.last_id, report.last_hash, anchor_id, problem,
                           report.legacy_through_id)
    return report
