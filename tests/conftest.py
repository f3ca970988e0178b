"""Shared fixtures. PostgreSQL is used when it answers; in CI (.ci/run sets
SLIPWAY_TEST_REQUIRE_POSTGRES=1) an unreachable PostgreSQL is a failure, not a skip."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

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
