"""The schema comes from the packaged Alembic migrations, on both engines, and matches the
models exactly."""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from slipway.store import Base, alembic_config, create_engine_for, current_revision, migrate

TABLES = {
    "users",
    "api_tokens",
    "forge_connections",
    "projects",
    "environments",
    "repositories",
    "gitops_resources",
    "project_events",
    "executor_leases",
}

HEAD = "0009"  # the newest migration; every start brings a database up to it

SEED_RUNBOOK_QUERY = (
    "SELECT id, project_id, environment_id, type, name, namespace, status, error_message, "
    "created_at, updated_at FROM gitops_resources"
)


def _diff(engine: Engine, metadata: sa.MetaData) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_migrate_creates_the_schema_on_an_empty_database_and_is_idempotent(
    database_url: str,
) -> None:
    engine = create_engine_for(database_url)
    try:
        assert current_revision(engine) is None
        migrate(database_url)
        assert current_revision(engine) == HEAD
        assert set(sa.inspect(engine).get_table_names()) >= TABLES

        migrate(database_url)  # a second start changes nothing and does not fail

        assert current_revision(engine) == HEAD
        with engine.connect() as connection:
            versions = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            assert versions.scalars().all() == [HEAD]
    finally:
        engine.dispose()


def test_models_and_migrations_agree(engine: Engine) -> None:
    assert _diff(engine, Base.metadata) == []

    # The comparison is live: a column the migrations lack is reported.
    drifted = sa.MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["projects"].append_column(sa.Column("extra", sa.String(10)))
    assert [d[0] for d in _diff(engine, drifted)] == ["add_column"]


def test_the_seed_runbook_query_still_works(engine: Engine) -> None:
    with engine.connect() as connection:
        result = connection.execute(sa.text(SEED_RUNBOOK_QUERY))
        assert list(result.keys()) == [
            "id",
            "project_id",
            "environment_id",
            "type",
            "name",
            "namespace",
            "status",
            "error_message",
            "created_at",
            "updated_at",
        ]
        assert result.all() == []


def test_concurrent_first_starts_migrate_once(database_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def start() -> None:
        barrier.wait()
        try:
            migrate(database_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    engine = create_engine_for(database_url)
    try:
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()


def test_a_database_at_the_initial_schema_upgrades_keeping_its_projects(database_url: str) -> None:
    """An installation from before 0002 keeps its projects; they act as the configured token."""
    config = alembic_config(database_url)
    command.upgrade(config, "0001")
    engine = create_engine_for(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO projects (name, slug, status, template, parameters, environments,"
                    " forge, private, created_at, updated_at) VALUES ('old', 'old', 'active',"
                    " 'static-site', '{}', '[]', 'github', true, :now, :now)"
                ),
                {"now": "2026-11-01 00:00:00"},
            )
        migrate(database_url)
        assert current_revision(engine) == HEAD
        with engine.connect() as connection:
            row = connection.execute(
                sa.text("SELECT name, forge_connection_id FROM projects")
            ).one()
        assert tuple(row) == ("old", None)
    finally:
        engine.dispose()


def test_every_migration_downgrades_cleanly(database_url: str) -> None:
    migrate(database_url)
    command.downgrade(alembic_config(database_url), "base")

    engine = create_engine_for(database_url)
    try:
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
        assert current_revision(engine) is None
    finally:
        engine.dispose()
    migrate(database_url)
