"""Alembic environment. `slipway.store.migrate` passes an open connection in
`config.attributes["connection"]`; a URL in `sqlalchemy.url` works too (and offline `--sql`)."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

from slipway.store.engine import create_engine_for
from slipway.store.models import Base

config = context.config
target_metadata = Base.metadata


def include_name(name: str | None, type_: str, _parent_names: Any) -> bool:
    """Only Slipway's own tables: a shared database (DBOS, other apps) is not our schema."""
    if type_ == "table":
        return name in target_metadata.tables
    return True


def render_item(type_: str, obj: Any, _context: AutogenContext) -> str | Literal[False]:
    """Autogenerate writes plain SQL types: a migration must not import Slipway's code."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        include_name=include_name,
        compare_type=True,
        render_item=render_item,
        **kwargs,
    )


def run_with(connection: Connection) -> None:
    # SQLite cannot ALTER most things: later migrations rebuild tables ("batch" mode) there.
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    connection = config.attributes.get("connection")
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        _configure(url=url, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    elif connection is not None:
        run_with(connection)
    else:
        if not url:
            raise RuntimeError("set sqlalchemy.url or pass a connection to run migrations")
        engine = create_engine_for(url)
        try:
            with engine.begin() as opened:
                run_with(opened)
        finally:
            engine.dispose()


run()
