"""Shared fixtures and the test tiers.

Tiers come from the folder: every test under tests/unit is marked `unit`, under
tests/integration `integration`, under tests/e2e `e2e`. `slow` marks what starts processes
(every e2e test, and the integration folders in `STARTS_PROCESSES`); `make test-fast` runs
`-m "not slow"`. PostgreSQL is used when it answers; in CI (.ci/run sets
SLIPWAY_TEST_REQUIRE_POSTGRES=1) an unreachable PostgreSQL is a failure, not a skip."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from tests.support.cli import InProcessCli

TESTS = Path(__file__).parent
TIERS = ("unit", "integration", "e2e")
# Integration tests that start processes, and why; with the e2e tier they are `slow`.
STARTS_PROCESSES = {
    "integration/forges": "git http-backend behind every push and clone",
    "integration/flux": "git and kubectl (kustomize) behind every reconcile",
    "integration/kube/test_kubectl.py": "the real kubectl",
    "integration/templates": "kubectl kustomize renders every overlay",
    "integration/deploy": "kubectl kustomize renders deploy/",
}

POSTGRES_URL = os.environ.get(
    "SLIPWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        relative = item.path.relative_to(TESTS)
        tier = relative.parts[0]
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))
        slow = tier == "e2e" or any(relative.is_relative_to(p) for p in STARTS_PROCESSES)
        if slow:
            item.add_marker(pytest.mark.slow)


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


def fresh_postgres_schema(server_url: str) -> Iterator[str]:
    """Yields a URL whose connections use a new, empty schema (their `search_path`), dropped
    afterwards: as isolated as a database of its own for Slipway's tables, and about 30 times
    quicker to make. DBOS keeps its own `dbos` schema, so end-to-end runs need a database."""
    name = f"slipway_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        url = make_url(server_url).update_query_dict({"options": f"-csearch_path={name}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
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


@pytest.fixture
def slipway_cli(capsys: pytest.CaptureFixture[str]) -> InProcessCli:
    """`slipway` in this process, configured by the environment the test sets."""
    from tests.support.cli import InProcessCli

    return InProcessCli(capsys)
