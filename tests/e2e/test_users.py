"""Users and authorization through the service layer: each user creates a project with their
own forge connection and sees only their own projects and connections (another user's answers
exactly as a missing one), an admin sees all, and an API token is printed once and stored
only as its hash."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from tests.e2e.test_pipeline import wait_final
from tests.support.cli import InProcessCli

from slipway import service
from slipway.bootstrap import App
from slipway.domain.actors import Actor
from slipway.domain.errors import Conflict, ForgeNotConnected, NotFound, Unauthenticated
from slipway.domain.model import ForgeKind
from slipway.pipeline.runtime import Worker
from slipway.sandbox.runner import SANDBOX_SCOPES, Sandbox
from slipway.service import web_sessions
from slipway.service.deletion import delete_project
from slipway.service.users import token_hash


@pytest.fixture
def worker(app: App) -> Iterator[Worker]:
    running = Worker(app).start()
    yield running
    running.stop()


def _user(sandbox_cli: InProcessCli, name: str, *extra: str) -> str:
    """Creates the user on the command line; returns the token it printed (once)."""
    done = sandbox_cli("--json", "user", "create", name, *extra)
    assert done.returncode == 0, done.stderr
    document = done.json()
    assert (document["name"], document["admin"]) == (name, "--admin" in extra)
    token: str = document["token"]
    assert token.startswith("slw_")
    return token


def _forge_account(app: App, sandbox: Sandbox, actor: Actor, login: str) -> SecretStr:
    """A forge account of the sandbox, connected as `actor`'s own connection; its token."""
    assert sandbox.forge is not None
    forge_token = f"sandbox_{secrets.token_hex(16)}"
    sandbox.forge.add_user(login, forge_token, scopes=SANDBOX_SCOPES)
    connect = service.connect_forge(
        app, ForgeKind.GITHUB, SecretStr(forge_token), url=None, actor=actor
    )
    assert asyncio.run(connect).account == login
    return SecretStr(forge_token)


def _refusal(call: Callable[[], Any]) -> dict[str, object]:
    with pytest.raises(NotFound) as caught:
        call()
    return caught.value.to_dict()


async def _first_event(app: App, name: str, actor: Actor) -> None:
    async for _ in service.follow_events(app, name, actor=actor):
        return


def test_each_user_sees_only_their_own_projects_and_creates_with_their_own_connection(
    app: App,
    worker: Worker,
    sandbox: Sandbox,
    sandbox_cli: InProcessCli,
    tmp_path: Path,
) -> None:
    suffix = secrets.token_hex(3)
    tokens = {name: _user(sandbox_cli, name) for name in ("alice", "bob")}
    tokens["root"] = _user(sandbox_cli, "root", "--admin")
    listed, listed_json = sandbox_cli("user", "list"), sandbox_cli("--json", "user", "list")
    printed = listed.stdout + listed.stderr + listed_json.stdout + listed_json.stderr
    assert not [token for token in tokens.values() if token in printed]
    assert [(u["name"], u["admin"]) for u in listed_json.json()] == [
        ("alice", False),
        ("bob", False),
        ("root", True),
    ]
    alice, bob, root = (service.authenticate(app, tokens[n]) for n in ("alice", "bob", "root"))
    assert (alice.name, alice.is_admin, root.is_admin) == ("alice", False, True)

    # Only the hash is stored: the token's bytes are nowhere in the database's files (the
    # write-ahead log included).
    database = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("slipway.db*"))
    for token in tokens.values():
        assert token.encode() not in database
        assert token_hash(token).encode() in database
    with pytest.raises(Unauthenticated, match="unknown API token"):
        service.authenticate(app, tokens["alice"] + "x")
    with pytest.raises(Unauthenticated):
        service.authenticate(app, "")

    logins = {alice: f"alice-{suffix}", bob: f"bob-{suffix}"}
    forge_tokens = {
        actor: _forge_account(app, sandbox, actor, login) for actor, login in logins.items()
    }
    # Bob cannot take over Alice's forge account by connecting its token.
    with pytest.raises(Conflict, match="connected by another user"):
        asyncio.run(
            service.connect_forge(app, ForgeKind.GITHUB, forge_tokens[alice], url=None, actor=bob)
        )
    assert [c.account for c in service.list_connections(app, actor=alice)] == [logins[alice]]
    assert {c.account for c in service.list_connections(app, actor=root)} == set(logins.values())

    # A user without a connection of their own never acts as the operator's configured token.
    lone = service.CreateRequest(name=f"r-{suffix}", template="static-site", environments=("dev",))
    with pytest.raises(ForgeNotConnected):
        asyncio.run(service.create_project(app, lone, worker=worker, actor=root))

    names = {alice: f"a-{suffix}", bob: f"b-{suffix}"}
    for actor, name in names.items():
        request = service.CreateRequest(name=name, template="static-site", environments=("dev",))
        asyncio.run(service.create_project(app, request, worker=worker, actor=actor))
    for actor, name in names.items():
        assert wait_final(app, name) == "completed"
        # The repository was created by, and belongs to, the requesting user's forge account.
        view = service.show_project(app, name, actor=actor)
        assert sandbox.forge is not None
        assert sandbox.forge.state.repo(logins[actor], view.slug) is not None
        assert view.repository is not None and view.repository.owner == logins[actor]

    mine, theirs = names[alice], names[bob]
    assert [p.name for p in service.list_projects(app, actor=alice)] == [mine]
    assert [p.name for p in service.list_projects(app, actor=bob)] == [theirs]
    assert {p.name for p in service.list_projects(app, actor=root)} == {mine, theirs}
    assert {p.name for p in service.list_projects(app)} == {mine, theirs}  # the command line
    assert service.show_project(app, theirs, actor=root).name == theirs
    assert [e.project for e in service.project_events(app, mine, actor=alice)][:1] == [mine]

    # Bob's project answers Alice exactly as a project that does not exist.
    missing = f"c-{suffix}"

    def same_as_missing(use: Callable[[str], Any]) -> None:
        refused = _refusal(lambda: use(theirs))
        absent = _refusal(lambda: use(missing))
        assert {k: str(v).replace(theirs, "NAME") for k, v in refused.items()} == {
            k: str(v).replace(missing, "NAME") for k, v in absent.items()
        }

    same_as_missing(lambda n: service.show_project(app, n, actor=alice))
    same_as_missing(lambda n: service.project_events(app, n, actor=alice))
    same_as_missing(lambda n: service.last_sequence(app, n, actor=alice))
    same_as_missing(lambda n: service.repair_project(app, n, actor=alice))
    same_as_missing(lambda n: asyncio.run(_first_event(app, n, alice)))
    same_as_missing(lambda n: asyncio.run(service.rotate_credentials(app, n, actor=alice)))
    same_as_missing(
        lambda n: asyncio.run(delete_project(app, n, delete_repo=False, worker=worker, actor=alice))
    )
    # Nor may Alice remove Bob's forge connection.
    with pytest.raises(NotFound, match="no github connection"):
        service.disconnect_forge(app, ForgeKind.GITHUB, account=logins[bob], actor=alice)
    assert {c.account for c in service.list_connections(app)} == set(logins.values())


def test_a_new_token_revokes_the_old_one_and_its_web_sessions(
    app: App, sandbox_cli: InProcessCli
) -> None:
    old = _user(sandbox_cli, "carol")
    cookie = web_sessions.sign_in(app, old).cookie.get_secret_value()
    assert web_sessions.session_of(app, cookie).actor.name == "carol"

    done = sandbox_cli("--json", "user", "token", "carol")
    assert done.returncode == 0, done.stderr
    new = done.json()["token"]
    assert new.startswith("slw_") and new != old
    with pytest.raises(Unauthenticated):
        service.authenticate(app, old)
    assert service.authenticate(app, new).name == "carol"
    with pytest.raises(Unauthenticated):  # signed out of the web UI too
        web_sessions.session_of(app, cookie)

    missing = sandbox_cli("--json", "user", "token", "nobody")
    assert missing.returncode == 3
    assert json.loads(missing.stdout)["error"]["type"] == "NotFound"


def test_a_user_is_deleted_only_once_their_projects_are_gone(
    app: App, worker: Worker, sandbox: Sandbox, sandbox_cli: InProcessCli
) -> None:
    token = _user(sandbox_cli, "dave")
    dave = service.authenticate(app, token)
    _forge_account(app, sandbox, dave, "dave-gh")
    request = service.CreateRequest(name="daves", template="static-site", environments=("dev",))
    asyncio.run(service.create_project(app, request, worker=worker, actor=dave))
    assert wait_final(app, "daves") == "completed"

    refused = sandbox_cli("--json", "user", "delete", "dave")
    assert refused.returncode == 4
    assert "daves" in json.loads(refused.stdout)["error"]["message"]
    assert service.authenticate(app, token).name == "dave"  # nothing was deleted

    deletion = delete_project(app, "daves", delete_repo=True, worker=worker, actor=dave)
    assert asyncio.run(deletion).outcome == "deleted"
    done = sandbox_cli("user", "delete", "dave")
    assert done.returncode == 0, done.stderr
    assert "user dave deleted" in done.stdout
    with pytest.raises(Unauthenticated):
        service.authenticate(app, token)
    assert [c.account for c in service.list_connections(app)] == []  # their forge token too
    assert "dave" not in [u.name for u in service.list_users(app)]
