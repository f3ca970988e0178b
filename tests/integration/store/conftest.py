"""Store fixtures: every test runs on SQLite (a file in tmp_path) and, when it answers, on
PostgreSQL in a schema of its own (created fresh, dropped after), so tests running in
parallel against the same server never see each other's rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from tests.conftest import fresh_postgres_schema

from slipway.domain.model import ForgeKind
from slipway.store import (
    Project,
    SessionFactory,
    create_engine_for,
    create_project,
    migrate,
    session_factory,
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database (not migrated)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'slipway.db'}"
        return
    server_url: str = request.getfixturevalue("postgres_url")
    yield from fresh_postgres_schema(server_url)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a migrated database."""
    migrate(database_url)
    engine = create_engine_for(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(engine: Engine) -> SessionFactory:
    return session_factory(engine)


NewProject = Callable[..., Project]


@pytest.fixture
def new_project() -> NewProject:
    """`new_project(session, "name", **overrides)`: a project with sensible defaults."""

    def make(session: Session, name: str = "shop", **overrides: Any) -> Project:
        fields: dict[str, Any] = {
            "name": name,
            "slug": name,
            "template": "static-site",
            "environments": ["development", "staging", "production"],
            "forge": ForgeKind.GITHUB,
            "owner": "acme",
        }
        fields.update(overrides)
        return create_project(session, **fields)

    return make
