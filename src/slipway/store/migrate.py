"""Schema migrations, run from code: the Alembic scripts ship inside the package, so a user's
machine needs no alembic.ini. Safe to call on every start: it is a no-op at head, and
concurrent callers (CLI, `serve`, workers) take turns instead of racing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from slipway.store.engine import create_engine_for, normalize_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# pg_advisory_xact_lock key: any constant unique to Slipway ("slipway" in ASCII, as a bigint).
_POSTGRES_LOCK_KEY = 0x736C6970776179


def alembic_config(url: str | None = None, *, connection: Connection | None = None) -> Config:
    """An Alembic Config built in code; developers can pass it to `alembic.command.revision`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        rendered = normalize_url(url).render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def migrate(url: str) -> None:
    """Upgrades the database at `url` to the newest schema, creating it if it is empty."""
    engine = _migration_engine(url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Held until commit: a second migrator waits, then finds the schema at head.
                connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_LOCK_KEY}
                )
            command.upgrade(alembic_config(connection=connection), "head")
    finally:
        engine.dispose()


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None when it was never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest schema revision this version of Slipway ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _migration_engine(url: str) -> Engine:
    engine = create_engine_for(url, poolclass=NullPool)
    if engine.dialect.name != "sqlite":
        return engine

    # pysqlite's default transaction handling would run DDL outside any transaction. Take the
    # write lock up front instead: the migration is atomic, and concurrent migrators queue.
    @sa.event.listens_for(engine, "connect")
    def _manual_transactions(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin_immediate(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
