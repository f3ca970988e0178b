"""`App.refresh_if_expiring` remembers a connection it read as far from expiry, so a step's
forge client reads nothing for it; whatever this process writes to the connection's row
(a refresh, connecting again, removing it) is read again at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from slipway import store
from slipway.bootstrap import App, bootstrap
from slipway.config import Settings
from slipway.domain.errors import NotFound


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    instance = bootstrap(Settings(data_dir=tmp_path / "data"))
    yield instance
    instance.close()


@contextmanager
def _statements(app: App) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    sa.event.listen(app.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(app.engine, "before_cursor_execute", record)


def _connect(app: App, expires_in: timedelta) -> int:
    with app.session() as session:
        connection = store.save_forge_connection(
            session,
            provider="gitlab",
            server_url="https://gitlab.example.test",
            account_name="alice",
            token=SecretStr("glpat-alice"),
            cipher=app.cipher,
            token_kind="oauth",
            refresh_token=SecretStr("refresh"),
            expires_at=datetime.now(UTC) + expires_in,
        )
        session.flush()
        return connection.id


def _refreshes(app: App, connection_id: int) -> tuple[bool, int]:
    """What refresh_if_expiring said, and how many statements it ran."""
    with _statements(app) as seen:
        changed = asyncio.run(app.refresh_if_expiring(connection_id))
    return changed, len(seen)


def test_a_far_expiry_is_read_once_and_read_again_after_any_write(app: App) -> None:
    connection_id = _connect(app, timedelta(hours=2))
    changed, reads = _refreshes(app, connection_id)
    assert not changed and reads > 0
    # Far from expiry: the next uses read nothing.
    assert _refreshes(app, connection_id) == (False, 0)
    assert _refreshes(app, connection_id) == (False, 0)

    # The token now expires within the margin (written through this process): read again. No
    # OAuth application is configured, and it still works, so it is used as it is.
    with app.session() as session:
        store.update_forge_tokens(
            session,
            connection_id=connection_id,
            token=SecretStr("glpat-alice"),
            refresh_token=SecretStr("refresh"),
            expires_at=datetime.now(UTC) + timedelta(minutes=1),
            cipher=app.cipher,
        )
    changed, reads = _refreshes(app, connection_id)
    assert not changed and reads > 0
    changed, reads = _refreshes(app, connection_id)
    assert not changed and reads > 0  # near expiry: read every time

    # Connected again with a new token far from expiry: remembered again.
    assert _connect(app, timedelta(hours=2)) == connection_id
    assert _refreshes(app, connection_id)[1] > 0
    assert _refreshes(app, connection_id) == (False, 0)

    # Removed: the next use reads, and finds it gone.
    with app.session() as session:
        assert store.delete_forge_connection(session, connection_id=connection_id)
    with pytest.raises(NotFound):
        asyncio.run(app.refresh_if_expiring(connection_id))
