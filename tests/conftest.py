"""Shared fixtures. PostgreSQL is used when it answers; in CI (.ci/run sets
SLIPWAY_TEST_REQUIRE_POSTGRES=1) an unreachable PostgreSQL is a failure, not a skip."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get(
    "SLIPWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable(url: str) -> bool:
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> str:
    if _postgres_reachable(POSTGRES_URL):
        return POSTGRES_URL
    if os.environ.get("SLIPWAY_TEST_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is required here but did not answer")
    pytest.skip(f"PostgreSQL at {POSTGRES_URL} did not answer")


def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """Yields the URL of a new, empty database on `server_url`, dropped afterwards, so tests
    running at the same time against one server never see each other's rows."""
    name = f"slipway_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    yield from fresh_postgres_database(postgres_url)


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test gets its own working directory, so ./.slipway never leaks between tests."""
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("SLIPWAY_") and not key.startswith("SLIPWAY_TEST_"):
            monkeypatch.delenv(key)
    for key in ("KUBECONFIG", "K3S_KUBECONFIG_PATH"):
        monkeypatch.delenv(key, raising=False)
    yield
