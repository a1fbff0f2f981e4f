"""The audit chain on PostgreSQL: ``SELECT ... FOR UPDATE`` on the chain head keeps one
chain under threads of one process and other processes at once. A throwaway server is
started from the machine's PostgreSQL binaries (as the ``postgres`` user, on a Unix
socket only); skipped where there are none, no psycopg, or no root to switch users."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from assistant.audit import AuditLog
from assistant.catalog.db import Database
from tests.security.test_audit_chain import WRITER  # the same second-process writer as on SQLite

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None) \
    if Path("/usr/lib/postgresql").is_dir() else None


def _as_postgres(*args: str) -> None:
    proc = subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    pytest.importorskip("psycopg")
    if PG_BIN is None or os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs PostgreSQL server binaries and root (to run them as the postgres user)")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user")
    base = Path(tempfile.mkdtemp(prefix="sw-pg-", dir="/tmp"))
    base.chmod(0o755)
    shutil.chown(base, "postgres", "postgres")
    with socket.socket() as s:  # a free port number for the socket's name; no TCP listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = base / "data"
    _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "sw")
    _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", f"-k {base} -p {port} -c listen_addresses=''",
                 "-l", str(base / "log"), "-w", "start")
    try:
        yield f"postgresql+psycopg://sw@/postgres?host={base}&port={port}"
    finally:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


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
