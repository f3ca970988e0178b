"""A project remembers the forge connection it was created with; removing the connection
leaves the project (its runs then need the configured token or a new connection)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

from slipway.store import (
    Project,
    SessionFactory,
    delete_forge_connection,
    get_project,
    load_forge_credentials,
    load_or_create_key,
    save_forge_connection,
    unit_of_work,
)

NewProject = Callable[..., Project]


def test_a_project_keeps_its_connection_until_the_connection_is_removed(
    factory: SessionFactory, new_project: NewProject, tmp_path: Path
) -> None:
    cipher = load_or_create_key(tmp_path, None)
    with unit_of_work(factory) as session:
        connection = save_forge_connection(
            session,
            provider="github",
            server_url="https://ghe.example.test/api/v3/",
            account_name="alice",
            token=SecretStr("ghp_alice"),
            cipher=cipher,
        )
        new_project(session, "shop", forge_connection_id=connection.id)
        connection_id = connection.id
    with unit_of_work(factory) as session:
        project = get_project(session, name="shop")
        assert project is not None and project.forge_connection_id == connection_id
        stored = load_forge_credentials(session, connection_id=connection_id, cipher=cipher)
        assert (stored.url, stored.token.get_secret_value(), stored.login) == (
            "https://ghe.example.test/api/v3",
            "ghp_alice",
            "alice",
        )
        assert delete_forge_connection(session, connection_id=connection_id)
    with unit_of_work(factory) as session:
        project = get_project(session, name="shop")
        assert project is not None and project.forge_connection_id is None
