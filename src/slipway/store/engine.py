"""Engines and sessions. SQLite is the embedded default, PostgreSQL the production engine;
callers work in units of work (`unit_of_work`) that commit on success and roll back on error."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from slipway.domain.errors import InvalidInput
from slipway.domain.text import t

# How long a SQLite writer waits for another one before "database is locked".
SQLITE_BUSY_TIMEOUT_SECONDS = 15.0
# How long connecting to PostgreSQL may take before giving up.
POSTGRES_CONNECT_TIMEOUT_SECONDS = 10

SessionFactory = sessionmaker[Session]


def normalize_url(url: str) -> URL:
    """Parses a database URL; `postgres://` and `postgresql://` mean the psycopg 3 driver,
    the only PostgreSQL driver Slipway ships."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise InvalidInput(
            "SLIPWAY_DATABASE_URL",
            t("is not a database URL"),
            hint=t("use sqlite:///path/to/slipway.db or postgresql+psycopg://user@host/db"),
        ) from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise InvalidInput(
            "SLIPWAY_DATABASE_URL",
            t(
                "the '{get_backend_name}' database is not supported",
                get_backend_name=parsed.get_backend_name(),
            ),
            hint=t("use SQLite (sqlite:///...) or PostgreSQL (postgresql+psycopg://...)"),
        )
    return parsed


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def create_engine_for(url: str, **kwargs: Any) -> Engine:
    """An engine tuned for its backend. Nothing connects until first use.

    SQLite: the parent directory is created, foreign keys are enforced, the journal is WAL (so
    readers do not block the writer) and a writer waits for a busy database instead of failing.
    PostgreSQL: connections are checked before use, so a restarted server is survived.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, **kwargs)
    connect_args = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS}
    connect_args.update(kwargs.pop("connect_args", {}))
    return sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    connect_args: dict[str, Any] = {
        "check_same_thread": False,
        "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
    }
    connect_args.update(kwargs.pop("connect_args", {}))
    if _is_memory(url):
        # One shared connection, or every session would see its own empty database.
        kwargs.setdefault("poolclass", StaticPool)
    else:
        private_database_file(Path(str(url.database)).expanduser())
    engine = sa.create_engine(url, connect_args=connect_args, **kwargs)
    wal = not _is_memory(url)
    busy_ms = int(float(connect_args["timeout"]) * 1000)

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            if wal:
                _switch_to_wal(cursor, deadline=time.monotonic() + busy_ms / 1000)
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "savepoint")
    def _outer_transaction(connection: sa.Connection, _name: str | None) -> None:
        # pysqlite starts a transaction only before a write, so a SAVEPOINT issued first would
        # itself open the transaction, and releasing it would COMMIT the caller's unit of work.
        # Open the real transaction first; IMMEDIATE because a savepoint here precedes a write.
        if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def private_database_file(path: Path) -> None:
    """Creates the SQLite file readable by its owner only (0600), before SQLite does: it holds
    encrypted tokens and keys, project data and events. SQLite gives its -wal and -shm files
    the database file's mode. A file from an older version is narrowed the same way."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
        path.chmod(0o600)


def _switch_to_wal(cursor: Any, deadline: float) -> None:
    """Puts the database file in WAL mode (it stays so). SQLite answers "database is locked" at
    once, without its busy handler, when another connection holds a lock during the switch, so
    concurrent first starts wait here instead, up to the busy timeout."""
    delay = 0.005
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def session_factory(engine: Engine) -> SessionFactory:
    """Sessions whose objects stay readable after commit (results outlive their unit of work)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: SessionFactory) -> Iterator[Session]:
    """One transaction: committed when the block ends normally, rolled back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
