"""The audit chain on PostgreSQL: ``SELECT ... FOR UPDATE`` on the chain head keeps one
chain under threads of one process and other processes at once. The throwaway server of
``tests/fixtures/postgres.py`` (skipped, with the reason, where there are no binaries)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from assistant.audit import AuditLog
from assistant.catalog.db import Database
from tests.fixtures.postgres import pg_server, pg_url  # noqa: F401 - fixtures
from tests.security.test_audit_chain import WRITER  # the same second-process writer as on SQLite

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.postgres


def test_threads_and_processes_keep_one_chain_on_postgresql(pg_url: str) -> None:
    first = Database(pg_url)  # migrates 0001..head on PostgreSQL
    logs = [AuditLog(first)] + [AuditLog(Database(pg_url, run_migrations=False)) for _ in range(2)]
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, pg_url, "40"], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
             for _ in range(2)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    errors: list[BaseException] = []

    def write(t: int) -> None:
        try:
            for i in range(20):
                logs[t % 3].record(f"thread{t}", "question.answer", f"interaction:{t}-{i}", {"i": i})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(6)]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for p in procs:
        assert p.wait(timeout=300) == 0
    assert not errors, errors
    report = logs[0].verify()
    assert report.ok, report.summary()
    assert report.rows == 6 * 20 + 2 * 40 and report.last_id == report.rows
    with first.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = 7"))
    broken = logs[0].verify()
    assert not broken.ok and broken.broken_at == 7 and "edited" in broken.problem
    for log in logs:
        log.db.close()
