"""The SQLite files hold encrypted tokens and keys, project data and events: only their owner
may read them, whatever the umask, and a file an older version left readable is narrowed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import sqlalchemy as sa

from slipway.store import create_engine_for, migrate


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_and_its_wal_are_owner_only(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        url = f"sqlite:///{tmp_path / 'data' / 'slipway.db'}"
        migrate(url)
        engine = create_engine_for(url)
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
            connection.execute(sa.text("INSERT INTO probe VALUES (1)"))
            files = sorted((tmp_path / "data").iterdir())
            assert {f.name for f in files} >= {"slipway.db", "slipway.db-wal"}
            assert {f.name: _mode(f) for f in files} == dict.fromkeys(
                (f.name for f in files), 0o600
            )
        engine.dispose()
    finally:
        os.umask(old_umask)


def test_an_existing_readable_database_is_narrowed(tmp_path: Path) -> None:
    path = tmp_path / "slipway.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    engine = create_engine_for(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
    engine.dispose()
    assert _mode(path) == 0o600
