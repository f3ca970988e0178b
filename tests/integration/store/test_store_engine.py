"""Engines, sessions and units of work behave the same way on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from slipway.domain.errors import InvalidInput
from slipway.store import (
    ExecutorLease,
    Project,
    SessionFactory,
    create_engine_for,
    get_project,
    normalize_url,
    unit_of_work,
)

NewProject = Callable[..., Project]


def test_sqlite_engine_creates_its_directory_and_sets_its_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "slipway.db"
    engine = create_engine_for(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA busy_timeout").scalar() == 15000
        assert path.exists()
    finally:
        engine.dispose()


def test_sqlite_engine_is_usable_from_another_thread(tmp_path: Path) -> None:
    import threading

    engine = create_engine_for(f"sqlite:///{tmp_path / 'x.db'}", poolclass=sa.StaticPool)
    results: list[int] = []
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        thread = threading.Thread(
            target=lambda: results.append(engine.connect().exec_driver_sql("SELECT 2").scalar_one())
        )
        thread.start()
        thread.join()
    finally:
        engine.dispose()
    assert results == [2]


def test_concurrent_first_connections_to_a_new_database_all_succeed(tmp_path: Path) -> None:
    # A new file starts in rollback-journal mode. SQLite answers "database is locked" at once,
    # without waiting, to a connection switching it to WAL while another one holds a lock, so
    # processes starting together on a fresh install used to crash now and then.
    import threading

    errors: list[BaseException] = []

    def first_start(url: str, barrier: threading.Barrier) -> None:
        engine = create_engine_for(url)
        try:
            barrier.wait()
            with engine.begin() as connection:
                connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS seen (x INTEGER)")
                connection.exec_driver_sql("INSERT INTO seen VALUES (1)")
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    for attempt in range(25):
        url = f"sqlite:///{tmp_path / f'fresh-{attempt}.db'}"
        barrier = threading.Barrier(4)
        threads = [threading.Thread(target=first_start, args=(url, barrier)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == [], f"round {attempt}"


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg"])
def test_postgres_urls_use_the_psycopg_driver(scheme: str) -> None:
    assert normalize_url(f"{scheme}://u@h/db").drivername == "postgresql+psycopg"


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url"])
def test_unsupported_database_urls_are_refused_with_the_setting_name(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        create_engine_for(url)
    assert caught.value.field == "SLIPWAY_DATABASE_URL"


def test_unit_of_work_commits_on_success(factory: SessionFactory, new_project: NewProject) -> None:
    with unit_of_work(factory) as session:
        new_project(session, "kept")
    with unit_of_work(factory) as session:
        assert get_project(session, name="kept") is not None


def test_unit_of_work_rolls_back_on_error(factory: SessionFactory, new_project: NewProject) -> None:
    with pytest.raises(RuntimeError), unit_of_work(factory) as session:
        new_project(session, "dropped")
        session.flush()
        raise RuntimeError("boom")
    with unit_of_work(factory) as session:
        assert get_project(session, name="dropped") is None


def test_timestamps_come_back_aware_in_utc(
    factory: SessionFactory, new_project: NewProject
) -> None:
    plus_two = timezone(timedelta(hours=2))
    started = datetime(2026, 3, 1, 14, 30, 15, 123456, tzinfo=plus_two)
    with unit_of_work(factory) as session:
        session.add(
            ExecutorLease(
                executor_id="worker-1",
                hostname="host",
                pid=42,
                started_at=started,
                heartbeat_at=started,
                expires_at=started + timedelta(seconds=30),
            )
        )
        project = new_project(session, "clock")
        project_id = project.id
    with unit_of_work(factory) as session:
        lease = session.get_one(ExecutorLease, "worker-1")
        assert lease.started_at == started
        assert lease.started_at.tzinfo == UTC
        assert lease.started_at.hour == 12
        created = session.get_one(Project, project_id).created_at
        assert created.tzinfo == UTC
        assert abs(datetime.now(UTC) - created) < timedelta(minutes=1)


def test_naive_timestamps_are_refused(factory: SessionFactory) -> None:
    naive = datetime(2026, 3, 1, 12, 0)  # naive on purpose
    lease = ExecutorLease(
        executor_id="w", hostname="h", pid=1, started_at=naive, heartbeat_at=naive, expires_at=naive
    )
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), unit_of_work(factory) as s:
        s.add(lease)


def test_engines_reconnect_after_the_pool_is_disposed(engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    engine.dispose()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
