"""`store.token_secrets`: what the OAuth token refresher reads each pass, filtered in SQL.
Only `--git-auth token` projects with a connection and a repository whose Secret was applied
come back, in one statement and without the cipher; the connections to refresh are those with
a refresh token that expire within the margin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from slipway.domain.model import ForgeKind, GitAuthMethod, ProjectStatus, ResourceStatus
from slipway.domain.names import ResourceKind
from slipway.store import (
    Project,
    SessionFactory,
    TokenCipher,
    list_environments,
    load_or_create_key,
    record_repository,
    save_forge_connection,
    unit_of_work,
    update_forge_tokens,
    upsert_gitops_resource,
)
from slipway.store.token_secrets import expiring_connection_ids, token_secret_projects

NewProject = Callable[..., Project]


def _connection(session: Session, cipher: TokenCipher, account: str, **fields: Any) -> int:
    connection = save_forge_connection(
        session,
        provider="gitlab",
        server_url="https://gitlab.example.test",
        account_name=account,
        token=SecretStr(f"glpat-{account}"),
        cipher=cipher,
        **fields,
    )
    session.flush()
    return connection.id


def _project(
    session: Session,
    new_project: NewProject,
    name: str,
    *,
    connection: int | None,
    status: ProjectStatus,
    git_auth: GitAuthMethod = GitAuthMethod.TOKEN,
    repository: bool = True,
    secret: ResourceStatus | None = None,
) -> Project:
    project = new_project(
        session,
        name,
        forge=ForgeKind.GITLAB,
        environments=["dev"],
        status=status,
        git_auth=git_auth,
        forge_connection_id=connection,
    )
    session.flush()
    if repository:
        record_repository(
            session,
            project_id=project.id,
            provider="gitlab",
            owner="acme",
            name=name,
            clone_url=f"https://gitlab.example.test/acme/{name}.git",
            web_url=f"https://gitlab.example.test/acme/{name}",
            default_branch="main",
        )
    if secret is not None:
        [env] = list_environments(session, project_id=project.id)
        upsert_gitops_resource(
            session,
            project_id=project.id,
            environment_id=env.id,
            type=ResourceKind.SECRET,
            name=f"{name}-git",
            namespace=env.namespace,
            status=secret,
        )
    return project


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_only_token_projects_whose_secret_was_applied_in_one_statement(
    engine: Engine, factory: SessionFactory, new_project: NewProject, tmp_path: Path
) -> None:
    cipher = load_or_create_key(tmp_path, None)
    active, initializing = ProjectStatus.ACTIVE, ProjectStatus.INITIALIZING
    with unit_of_work(factory) as session:
        alice = _connection(session, cipher, "alice")
        bob = _connection(session, cipher, "bob")

        def make(name: str, **fields: Any) -> None:
            _project(session, new_project, name, **fields)

        make("shop", connection=alice, status=active)
        make("blog", connection=bob, status=ProjectStatus.DEGRADED)
        make("wiki", connection=alice, status=initializing, secret=ResourceStatus.READY)
        # Not the refresher's: SSH, no connection, no repository, not applied (yet, or any more).
        make("keys", connection=alice, status=active, git_auth=GitAuthMethod.SSH)
        make("plain", connection=None, status=active)
        make("bare", connection=alice, status=active, repository=False)
        make("early", connection=alice, status=initializing, secret=ResourceStatus.PENDING)
        make("earlier", connection=alice, status=initializing)
        make("broken", connection=alice, status=ProjectStatus.FAILED)
        make("queued", connection=alice, status=ProjectStatus.PENDING)

    with unit_of_work(factory) as session, _statements(engine) as statements:
        found = token_secret_projects(session)
    assert len(statements) == 1, statements
    shown = {(p.project.name, p.connection_id, p.clone_url, p.branch, p.running) for p in found}
    assert shown == {
        ("shop", alice, "https://gitlab.example.test/acme/shop.git", "main", False),
        ("blog", bob, "https://gitlab.example.test/acme/blog.git", "main", False),
        ("wiki", alice, "https://gitlab.example.test/acme/wiki.git", "main", True),
    }
    versions = {p.project.name: p.token_version for p in found}
    assert versions["shop"] == versions["wiki"] != versions["blog"]
    assert "glpat" not in repr(found)

    with unit_of_work(factory) as session:
        assert {p.project.name for p in token_secret_projects(session, connection_id=bob)} == {
            "blog"
        }
        update_forge_tokens(
            session,
            connection_id=alice,
            token=SecretStr("glpat-alice-2"),
            refresh_token=None,
            expires_at=None,
            cipher=cipher,
        )
    with unit_of_work(factory) as session:
        again = {p.project.name: p.token_version for p in token_secret_projects(session)}
    # A new token is a new version; another connection's stays as it was.
    assert again["shop"] == again["wiki"] != versions["shop"]
    assert again["blog"] == versions["blog"]


def test_the_connections_to_refresh_are_refreshable_and_expire_within_the_margin(
    factory: SessionFactory, tmp_path: Path
) -> None:
    cipher = load_or_create_key(tmp_path, None)
    now = datetime.now(UTC)
    refresh = SecretStr("refresh")
    with unit_of_work(factory) as session:
        soon = _connection(
            session, cipher, "soon", expires_at=now + timedelta(minutes=2), refresh_token=refresh
        )
        gone = _connection(
            session, cipher, "gone", expires_at=now - timedelta(hours=1), refresh_token=refresh
        )
        _connection(
            session, cipher, "later", expires_at=now + timedelta(hours=2), refresh_token=refresh
        )
        _connection(session, cipher, "stuck", expires_at=now + timedelta(minutes=1))
        _connection(session, cipher, "pat")
    with unit_of_work(factory) as session:
        assert expiring_connection_ids(session, before=now + timedelta(minutes=5)) == sorted(
            [soon, gone]
        )
        assert expiring_connection_ids(session, before=now - timedelta(days=1)) == []
