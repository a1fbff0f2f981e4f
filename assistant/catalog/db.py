"""Engine, sessions and migrations for the catalog (SQLite WAL by default, PostgreSQL tested)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from assistant.errors import ConfigError, StoreError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
T = TypeVar("T")
MIGRATION_LOCK_KEY = 0x5357_0001  # PostgreSQL advisory lock held while the schema is upgraded ("SW", 1)


class PoolOptions(Protocol):
    """The pool fields of ``CatalogSettings`` (a protocol: settings import nothing from here)."""

    pool_size: int
    max_overflow: int
    pool_timeout_s: float


def make_engine(url: str, pool: PoolOptions | None = None) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout, a server gets a
    checked pool (``pool_pre_ping``: a connection the server dropped is replaced, not used).

    A malformed URL or a missing driver is a ``ConfigError`` that never shows the password."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError("catalog.url is not a database URL; expected e.g. "
                          "postgresql+psycopg://USER:PASSWORD@HOST:5432/DBNAME (SOURCEWISE_CATALOG__URL)") from exc
    options: dict[str, Any] = {"pool_pre_ping": True}
    if pool is not None and parsed.get_backend_name() != "sqlite":
        options.update(pool_size=pool.pool_size, max_overflow=pool.max_overflow, pool_timeout=pool.pool_timeout_s)
    try:
        return create_engine(parsed, **options)
    except (NoSuchModuleError, ImportError) as exc:
        hint = " (pip install 'sourcewise[postgres]' for psycopg)" if parsed.get_backend_name() == "postgresql" else ""
        raise ConfigError(f"no database driver for catalog URL {describe(parsed)}: {exc}{hint}") from exc


def describe(url: Any) -> str:
    """A URL as messages show it: driver, user, host and database, never the password."""
    url = make_url(url) if isinstance(url, str) else url
    host = url.host or (url.query.get("host") if url.query else None) or "localhost"
    port = f":{url.port}" if url.port else ""
    return f"{url.drivername}://{url.username + '@' if url.username else ''}{host}{port}/{url.database or ''}"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    where = describe(engine.url) if engine.dialect.name != "sqlite" else str(engine.url)
    try:
        conn = engine.connect()
    except DBAPIError as exc:
        lines = str(exc.orig or exc).strip().splitlines()
        why = lines[0] if lines else type(exc).__name__
        raise StoreError(f"cannot connect to the catalog database {where}: {why}. Check "
                         "SOURCEWISE_CATALOG__URL (host, port, user, password, database name) and that the "
                         "server is up and accepts connections from here") from exc
    with conn:
        try:
            with conn.begin():
                # Processes starting at once (replicas, workers, CLI runs) migrate one after the
                # other: the first holds the lock while it upgrades, the others then find the
                # schema current. A per-dialect lock, taken before Alembic reads the version.
                if engine.dialect.name == "sqlite":
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                elif engine.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except SQLAlchemyError as exc:
            raise StoreError(f"could not migrate the catalog at {where}: {exc}") from exc


class Database:
    """Owns the engine and hands out transactional sessions."""

    def __init__(self, url: str, *, run_migrations: bool = True, pool: PoolOptions | None = None) -> None:
        self.engine = make_engine(url, pool)
        if run_migrations:
            migrate(self.engine)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on error."""
        session = self._factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def write_retrying(self, work: Callable[[Session], T], attempts: int = 3) -> T:
        """Run a read-then-insert unit of work, again from a fresh read when a concurrent writer
        inserted the same unique key first (two requests at once; PostgreSQL runs them in
        parallel, and SQLite's deferred transactions read before they lock)."""
        for attempt in range(attempts):
            try:
                with self.session() as s:
                    return work(s)
            except IntegrityError:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.engine.dispose()
