"""Promise 5: the audit log is append-only and hash-chained; verify names the first row that
was edited, deleted, inserted or reordered; concurrent writers (threads, another process)
keep one chain; rows from before the upgrade are chained by the migration."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from assistant.audit import GENESIS, AuditLog, canonical, chain_hash, verify_file
from assistant.catalog.db import MIGRATIONS_DIR, Database, make_engine

ROOT = Path(__file__).resolve().parents[2]


def _log(tmp_path: Path, n: int = 0) -> AuditLog:
    log = AuditLog(Database(f"sqlite:///{tmp_path}/catalog.db"))
    for i in range(n):
        log.record(f"user{i % 3}", "source.add", f"src{i}", {"i": i, "groups": ("b", "a")})
    return log


def _sql(log: AuditLog, statement: str, **params: object) -> None:
    with log.db.engine.begin() as conn:
        conn.execute(text(statement), params)


def test_each_row_hashes_its_predecessor_and_its_canonical_contents(tmp_path: Path) -> None:
    log = _log(tmp_path, 3)
    rows = list(log.iter_chain())
    assert [r.id for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == GENESIS
    for prev, row in zip([None, *rows], rows, strict=False):
        assert row.prev_hash == (prev.hash if prev else GENESIS)
        body = json.dumps({"id": row.id, "at": row.at.astimezone(UTC).isoformat(timespec="microseconds"),
                           "actor": row.actor, "action": row.action, "target": row.target,
                           "details": row.details}, sort_keys=True, separators=(",", ":"))
        assert canonical(row.id, row.at, row.actor, row.action, row.target, row.details) == body.encode()
        assert row.hash == hashlib.sha256((row.prev_hash + body).encode()).hexdigest()
    assert rows[0].details == {"groups": ["b", "a"], "i": 0}  # what the JSON column gives back is hashed
    report = log.verify()
    assert report.ok and report.rows == 3 and report.last_id == 3 and report.last_hash == rows[-1].hash
    assert log.head().last_id == 3


def test_verify_detects_an_edited_row(tmp_path: Path) -> None:
    log = _log(tmp_path, 5)
    _sql(log, "UPDATE audit_log SET actor = 'mallory' WHERE id = 3")
    report = log.verify()
    assert not report.ok and report.broken_at == 3
    assert "row 3 was edited" in report.problem
    assert report.rows == 2  # rows 1-2 checked out


def test_verify_detects_an_edited_timestamp_or_details(tmp_path: Path) -> None:
    log = _log(tmp_path, 4)
    _sql(log, "UPDATE audit_log SET details = :d WHERE id = 2", d=json.dumps({"i": 99, "groups": ["b", "a"]}))
    assert log.verify().broken_at == 2
    log2 = _log(tmp_path / "b", 4)
    _sql(log2, "UPDATE audit_log SET at = '2020-01-01 00:00:00.000000' WHERE id = 4")
    assert log2.verify().broken_at == 4


def test_verify_detects_a_deleted_row(tmp_path: Path) -> None:
    log = _log(tmp_path, 6)
    _sql(log, "DELETE FROM audit_log WHERE id = 4")
    report = log.verify()
    assert not report.ok and report.broken_at == 5 and "row(s) 4 were deleted" in report.problem


def test_verify_detects_deleted_first_and_last_rows(tmp_path: Path) -> None:
    first = _log(tmp_path / "first", 3)
    _sql(first, "DELETE FROM audit_log WHERE id = 1")
    report = first.verify()
    assert report.broken_at == 2 and "row(s) 1-1 were deleted" in report.problem
    last = _log(tmp_path / "last", 5)
    _sql(last, "DELETE FROM audit_log WHERE id >= 4")
    report = last.verify()
    assert not report.ok and report.broken_at == 4 and "row(s) 4-5 were deleted" in report.problem


def test_verify_detects_an_inserted_row(tmp_path: Path) -> None:
    """A forger who computes a valid hash and appends still misses the chain head."""
    log = _log(tmp_path, 3)
    last = list(log.iter_chain())[-1]
    at = datetime(2026, 1, 1, tzinfo=UTC)
    forged = chain_hash(last.hash, 4, at, "root", "user.add", "mallory", {})
    _sql(log, "INSERT INTO audit_log (id, at, actor, action, target, details, prev_hash, hash) "
              "VALUES (4, '2026-01-01 00:00:00.000000', 'root', 'user.add', 'mallory', '{}', :p, :h)",
         p=last.hash, h=forged)
    report = log.verify()
    assert not report.ok and report.broken_at == 4 and "inserted outside the audit log" in report.problem


def test_verify_detects_a_row_inserted_in_the_middle(tmp_path: Path) -> None:
    """Renumbering later rows to make room breaks their hashes (the id is hashed)."""
    log = _log(tmp_path, 4)
    _sql(log, "UPDATE audit_log SET id = id + 10 WHERE id >= 3")
    _sql(log, "UPDATE audit_log SET id = id - 9 WHERE id >= 13")
    rows = list(log.iter_chain())
    second = rows[1]
    forged = chain_hash(second.hash, 3, second.at, "root", "user.add", "mallory", {})
    _sql(log, "INSERT INTO audit_log (id, at, actor, action, target, details, prev_hash, hash) "
              "VALUES (3, '2026-01-01 00:00:00.000000', 'root', 'user.add', 'mallory', '{}', :p, :h)",
         p=second.hash, h=forged)
    report = log.verify()
    assert not report.ok and report.broken_at == 3  # the forged row's own hash does not cover its time
    _sql(log, "UPDATE audit_log SET hash = :h WHERE id = 3",
         h=chain_hash(second.hash, 3, datetime(2026, 1, 1, tzinfo=UTC), "root", "user.add", "mallory", {}))
    report = log.verify()
    assert not report.ok and report.broken_at == 4 and "was row 3" in report.problem and "inserted" in report.problem


def test_verify_detects_a_row_chained_to_an_older_one(tmp_path: Path) -> None:
    log = _log(tmp_path, 3)
    first = list(log.iter_chain())[0]
    at = datetime(2026, 1, 1, tzinfo=UTC)
    # a fork: a row that chains to row 1, written over row 3 with a valid hash of its own
    _sql(log, "UPDATE audit_log SET prev_hash = :p, hash = :h, at = '2026-01-01 00:00:00.000000' WHERE id = 3",
         p=first.hash, h=chain_hash(first.hash, 3, at, "user2", "source.add", "src2", {"i": 2, "groups": ["b", "a"]}))
    report = log.verify()
    assert not report.ok and report.broken_at == 3 and "chains to row 1, not to row 2" in report.problem


def test_verify_detects_a_reordered_pair(tmp_path: Path) -> None:
    log = _log(tmp_path, 5)
    cols = "at, actor, action, target, details, prev_hash, hash"
    with log.db.engine.begin() as conn:
        a = conn.execute(text(f"SELECT {cols} FROM audit_log WHERE id = 3")).one()
        b = conn.execute(text(f"SELECT {cols} FROM audit_log WHERE id = 4")).one()
        sets = ", ".join(f"{c} = :{c}" for c in cols.split(", "))
        conn.execute(text(f"UPDATE audit_log SET {sets} WHERE id = 3"), dict(b._mapping))
        conn.execute(text(f"UPDATE audit_log SET {sets} WHERE id = 4"), dict(a._mapping))
    report = log.verify()
    assert not report.ok and report.broken_at == 3 and "rows 3 and 4 are swapped" in report.problem


def test_concurrent_threads_keep_one_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/catalog.db"
    Database(url).close()  # migrate once
    logs = [AuditLog(Database(url, run_migrations=False)) for _ in range(3)]  # 3 engines, pooled connections
    errors: list[BaseException] = []

    def write(t: int) -> None:
        try:
            for i in range(25):
                logs[t % 3].record(f"thread{t}", "question.answer", f"interaction:{t}-{i}", {"i": i})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    report = logs[0].verify()
    assert report.ok, report.summary()
    assert report.rows == 200 and report.last_id == 200


WRITER = """
import sys
from assistant.audit import AuditLog
from assistant.catalog.db import Database
log = AuditLog(Database(sys.argv[1], run_migrations=False))
print("ready", flush=True)
sys.stdin.readline()
for i in range(int(sys.argv[2])):
    log.record("cli:other", "user.update", f"p{i}", {"i": i})
"""


def test_a_second_process_and_threads_keep_one_chain(tmp_path: Path) -> None:
    """A CLI process writing to the same SQLite (WAL) file at the same time as the server."""
    url = f"sqlite:///{tmp_path}/catalog.db"
    log = AuditLog(Database(url))
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, "60"], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"})
             for _ in range(2)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()

    def write() -> None:
        for i in range(30):
            log.record("server", "question.answer", f"t{i}", {"i": i})

    threads = [threading.Thread(target=write) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for p in procs:
        assert p.wait(timeout=300) == 0
    report = log.verify()
    assert report.ok, report.summary()
    assert report.rows == 2 * 60 + 2 * 30
    actors = {e.actor for e in log.iter_chain()}
    assert actors == {"server", "cli:other"}


def test_upgrade_chains_rows_written_before_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/catalog.db"
    engine = make_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006")
    with engine.begin() as conn:
        for i, at in enumerate(["2025-01-01 10:00:00.000000", "2025-01-02 11:30:00.250000", "2025-02-01 09:00:00"], 1):
            conn.execute(text("INSERT INTO audit_log (id, at, actor, action, target, details) "
                              "VALUES (:i, :at, 'root', 'source.add', :t, :d)"),
                         {"i": i, "at": at, "t": f"s{i}", "d": json.dumps({"kind": "git", "n": i})})
    engine.dispose()
    log = AuditLog(Database(url))  # migrates to head: 0007 chains the three rows
    report = log.verify()
    assert report.ok and report.rows == 3 and report.legacy_through_id == 3
    assert "rows 1-3 existed before the upgrade and were chained then" in report.summary()
    assert log.record("root", "user.add", "dana") == 4
    assert log.verify().ok and log.verify().rows == 4
    _sql(log, "UPDATE audit_log SET target = 'sX' WHERE id = 2")
    assert log.verify().broken_at == 2


def test_empty_catalog_upgrade_starts_at_genesis(tmp_path: Path) -> None:
    log = _log(tmp_path)
    head = log.head()
    assert (head.last_id, head.last_hash, head.legacy_through_id) == (0, GENESIS, None)
    assert log.verify().ok and log.verify().rows == 0


def test_export_file_verifies_on_its_own_and_shows_an_edit(tmp_path: Path) -> None:
    log = _log(tmp_path, 4)
    path = tmp_path / "audit.jsonl"
    with path.open("w") as out:
        assert log.export(out) == 4
    lines = path.read_text().splitlines()
    assert [json.loads(x)["id"] for x in lines] == [1, 2, 3, 4]
    assert all(re.fullmatch(r"[0-9a-f]{64}", json.loads(x)["hash"]) for x in lines)
    assert verify_file(path).ok
    edited = json.loads(lines[1])
    edited["target"] = "something else"
    lines[1] = json.dumps(edited)
    path.write_text("\n".join(lines) + "\n")
    report = verify_file(path)
    assert not report.ok and report.broken_at == 2 and "edited" in report.problem
    path.write_text("\n".join(lines[:1] + lines[2:]) + "\n")  # a line dropped
    assert verify_file(path).broken_at == 3


def test_no_code_path_updates_or_deletes_audit_rows() -> None:
    """Only ``assistant/audit.py`` (insert) and migration 0007 (chaining old rows) write
    ``audit_log``; no other module names the table for writing."""
    offenders = []
    pattern = re.compile(r"(update|delete)\(\s*(AuditRow|AuditHeadRow|audit_log)|(UPDATE|DELETE FROM)\s+audit_|"
                         r"\.delete\([^)]*AuditRow|(?<!class )\bAuditRow\(|AuditRow\.__table__|audit_head")
    for pkg in ("assistant", "indexers", "ui", "sourcewise", "eval"):
        for path in (ROOT / pkg).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel in ("assistant/audit.py", "assistant/catalog/schema.py") or rel.endswith("0007_audit_chain.py"):
                continue
            if pattern.search(path.read_text(encoding="utf-8")):
                offenders.append(rel)
    assert offenders == []
    body = (ROOT / "assistant" / "audit.py").read_text()
    assert "insert(audit_t)" in body and "update(audit_t" not in body and "delete(" not in body


@pytest.mark.parametrize("tamper", ["UPDATE audit_log SET action = 'x' WHERE id = 2",
                                    "DELETE FROM audit_log WHERE id = 2"])
def test_cli_verify_exits_1_naming_the_row(tmp_path: Path, tamper: str) -> None:
    from tests.integration.cli import run_cli

    home = tmp_path / "home"
    log = AuditLog(Database(f"sqlite:///{home}/catalog.db"))
    for i in range(3):
        log.record("root", "user.add", f"u{i}")
    ok = run_cli(home, "audit", "verify")
    assert "audit chain intact: 3 row(s)" in " ".join(ok.stdout.split())
    export = tmp_path / "before.jsonl"
    run_cli(home, "audit", "export", "--jsonl", str(export))
    _sql(log, tamper)
    bad = run_cli(home, "audit", "verify", check=False)
    said = " ".join(bad.stderr.split())
    assert bad.returncode == 1 and "broken at row" in said and ("row 2" in said or "row(s) 2" in said), said
    assert run_cli(home, "audit", "verify", "--file", str(export)).returncode == 0  # the copy kept elsewhere
    as_json = json.loads(run_cli(home, "audit", "verify", "--json", check=False).stdout)
    assert as_json["ok"] is False and as_json["broken_at"] in (2, 3)


def test_anchor_exposes_a_rewritten_chain(tmp_path: Path) -> None:
    """Someone with write access recomputes every hash and the head: only an anchor kept
    outside the catalog (an export's last row) shows it."""
    from tests.integration.cli import run_cli

    home = tmp_path / "home"
    log = AuditLog(Database(f"sqlite:///{home}/catalog.db"))
    for i in range(3):
        log.record("root", "user.add", f"u{i}")
    head = log.head()
    anchor = f"{head.last_id}:{head.last_hash}"
    assert run_cli(home, "audit", "verify", "--anchor", anchor).returncode == 0
    prev = GENESIS
    for e in list(log.iter_chain()):
        target = "mallory" if e.id == 2 else e.target
        h = chain_hash(prev, e.id, e.at, e.actor, e.action, target, e.details)
        _sql(log, "UPDATE audit_log SET target = :t, prev_hash = :p, hash = :h WHERE id = :i",
             t=target, p=prev, h=h, i=e.id)
        prev = h
    _sql(log, "UPDATE audit_head SET last_hash = :h", h=prev)
    assert log.verify().ok  # consistent forgery
    bad = run_cli(home, "audit", "verify", "--anchor", anchor, check=False)
    assert bad.returncode == 1 and "was rewritten" in " ".join(bad.stderr.split())
