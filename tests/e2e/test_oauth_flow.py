"""Connecting a forge by OAuth, end to end against the sandbox: the service begins, a browser
(httpx here) follows the forge emulator's sign-in page and its redirect, the service
completes; the connection is the user's own, listed with its account and scopes, and a
project is created with it. A GitLab token about to expire is refreshed before it is used
and the new pair stored encrypted, and the git Secrets of `--git-auth token` projects get the
new token at once; the status sync's leader refreshes a token near expiry that nothing uses; a
callback whose state is not the session's is refused with nothing stored."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from pydantic import SecretStr
from tests.e2e.conftest import sandbox_settings
from tests.e2e.test_pipeline import wait_final
from tests.support.waiting import wait_until
from tests.support.web import forge_sign_in, oauth_settings, tokenless_account

from slipway import service, store
from slipway.bootstrap import App
from slipway.domain.actors import Actor
from slipway.domain.errors import ForgeError, InvalidInput
from slipway.domain.model import ForgeKind, GitAuthMethod
from slipway.domain.names import ResourceNames
from slipway.pipeline.runtime import Worker
from slipway.sandbox.forge import ForgeEmulator, RequestRecorder
from slipway.sandbox.runner import Sandbox
from slipway.service.oauth import OAuthStart, begin_oauth, complete_oauth
from slipway.service.sync import running_sync

REDIRECT = "http://127.0.0.1:8000/settings/connections/callback"
GRANTED = {
    ForgeKind.GITHUB: ("repo", "read:org", "delete_repo"),
    ForgeKind.GITLAB: ("api",),
    ForgeKind.GITEA: ("write:repository", "read:organization", "read:user"),
}


def _emulator(sandbox: Sandbox) -> ForgeEmulator:
    assert sandbox.forge is not None
    return sandbox.forge


@pytest.fixture
def oauth_app(sandbox: Sandbox, tmp_path: Path) -> Iterator[App]:
    """Slipway with all three forges at the sandbox and their OAuth applications set."""
    settings = sandbox_settings(sandbox, tmp_path / "data", **oauth_settings(_emulator(sandbox)))
    # Opened as the faces open it, so a refresh is followed by the Secrets it feeds.
    with service.application(settings) as instance:
        yield instance


@pytest.fixture
def user(oauth_app: App) -> Actor:
    created = service.create_user(oauth_app, f"u-{secrets.token_hex(3)}", admin=False)
    return service.authenticate(oauth_app, created.token)


def _sign_in(start: OAuthStart, login: str) -> dict[str, str]:
    """Signing in on the forge's page and authorizing; returns the callback's query."""
    location = forge_sign_in(start.authorize_url, login)
    assert location.startswith(REDIRECT + "?")
    return dict(parse_qsl(urlsplit(location).query))


def _connect(app: App, kind: ForgeKind, login: str, actor: Actor) -> service.ConnectionView:
    start = begin_oauth(app, kind, redirect_uri=REDIRECT)
    back = _sign_in(start, login)
    return asyncio.run(
        complete_oauth(
            app,
            kind,
            code=back["code"],
            state=back["state"],
            expected_state=start.state,
            code_verifier=start.code_verifier,
            redirect_uri=REDIRECT,
            actor=actor,
        )
    )


def _connect_expiring(app: App, sandbox: Sandbox, actor: Actor) -> str:
    """A new GitLab account connected by OAuth with a token that expires within the 5 minute
    refresh margin; returns its login."""
    forge = _emulator(sandbox)
    login = tokenless_account(forge)
    forge.set_oauth_token_lifetime("gitlab", 60)
    try:
        _connect(app, ForgeKind.GITLAB, login, actor)
    finally:
        forge.set_oauth_token_lifetime("gitlab", 7200)
    return login


def _stored(app: App, kind: ForgeKind, login: str) -> store.ForgeConnection:
    with app.session() as session:
        connection = store.get_forge_connection(
            session, provider=kind, server_url=app.forge_url(kind), account_name=login
        )
        assert connection is not None
        session.expunge(connection)
        return connection


def _token(app: App, connection_id: int) -> SecretStr:
    with app.session() as session:
        return store.load_forge_token(session, connection_id=connection_id, cipher=app.cipher)


def _database(app: App) -> bytes:
    return b"".join(p.read_bytes() for p in app.settings.data_dir.glob("slipway.db*"))


@pytest.mark.parametrize("kind", list(ForgeKind), ids=lambda k: k.value)
def test_a_user_connects_a_forge_by_signing_in(
    oauth_app: App, sandbox: Sandbox, user: Actor, kind: ForgeKind
) -> None:
    login = tokenless_account(_emulator(sandbox))
    view = _connect(oauth_app, kind, login, user)
    assert (view.forge, view.account, view.token_kind) == (kind.value, login, "oauth")
    assert view.scopes == GRANTED[kind]
    assert view.missing_scopes == ()
    listed = service.list_connections(oauth_app, actor=user)
    assert [(c.forge, c.account, c.scopes) for c in listed] == [(kind.value, login, GRANTED[kind])]
    stored = _stored(oauth_app, kind, login)
    assert stored.user_id == user.user_id
    # Only GitLab's and Gitea's tokens expire, and only they come with a refresh token.
    assert (stored.expires_at is None) == (kind is ForgeKind.GITHUB)
    assert (stored.encrypted_refresh_token is None) == (kind is ForgeKind.GITHUB)
    token = _token(oauth_app, stored.id).get_secret_value()
    assert token.encode() not in _database(oauth_app)
    assert token not in repr(stored)


def test_a_gitlab_token_about_to_expire_is_refreshed_before_use_and_creates_the_project(
    oauth_app: App, sandbox: Sandbox, user: Actor
) -> None:
    forge = _emulator(sandbox)
    login = _connect_expiring(oauth_app, sandbox, user)
    before = _stored(oauth_app, ForgeKind.GITLAB, login)
    old_token = _token(oauth_app, before.id).get_secret_value()
    assert before.expires_at is not None
    assert before.expires_at - datetime.now(UTC) < timedelta(minutes=5)

    name = f"oa-{secrets.token_hex(3)}"
    request = service.CreateRequest(
        name=name, template="static-site", environments=("dev",), forge=ForgeKind.GITLAB
    )
    worker = Worker(oauth_app).start()
    try:
        asyncio.run(service.create_project(oauth_app, request, worker=worker, actor=user))
        assert wait_final(oauth_app, name) == "completed"
    finally:
        worker.stop()
    view = service.show_project(oauth_app, name, actor=user)
    assert view.repository is not None and view.repository.owner == login
    assert forge.state.repo(login, view.slug) is not None

    after = _stored(oauth_app, ForgeKind.GITLAB, login)
    assert after.id == before.id
    assert after.expires_at is not None
    assert after.expires_at - datetime.now(UTC) > timedelta(hours=1)
    assert after.encrypted_refresh_token != before.encrypted_refresh_token
    new_token = _token(oauth_app, after.id).get_secret_value()
    assert new_token != old_token
    # The old token was revoked by the refresh; the new one acts as the account.
    assert forge.state.token(old_token) is None
    refreshed = forge.state.token(new_token)
    assert refreshed is not None and refreshed.login == login
    database = _database(oauth_app)
    assert new_token.encode() not in database and old_token.encode() not in database


def test_a_callback_with_another_state_is_refused_and_nothing_is_stored(
    oauth_app: App, sandbox: Sandbox, user: Actor, forge_requests: RequestRecorder
) -> None:
    login = tokenless_account(_emulator(sandbox))
    start = begin_oauth(oauth_app, ForgeKind.GITLAB, redirect_uri=REDIRECT)
    back = _sign_in(start, login)
    forged = begin_oauth(oauth_app, ForgeKind.GITLAB, redirect_uri=REDIRECT)
    with pytest.raises(InvalidInput) as refused:
        asyncio.run(
            complete_oauth(
                oauth_app,
                ForgeKind.GITLAB,
                code=back["code"],
                state=back["state"],
                expected_state=forged.state,
                code_verifier=start.code_verifier,
                redirect_uri=REDIRECT,
                actor=user,
            )
        )
    assert refused.value.field == "state"
    assert "does not match" in str(refused.value)
    assert back["code"] not in str(refused.value)
    assert service.list_connections(oauth_app, actor=user) == []
    assert not [r for r in forge_requests.requests() if r.path == "/oauth/token"]


def test_a_forge_without_an_oauth_application_names_the_settings(
    app: App,
) -> None:
    with pytest.raises(InvalidInput) as refused:
        begin_oauth(app, ForgeKind.GITEA, redirect_uri=REDIRECT)
    assert "SLIPWAY_GITEA_OAUTH_CLIENT_ID" in str(refused.value)
    assert "SLIPWAY_GITEA_OAUTH_CLIENT_SECRET" in str(refused.value)


def test_a_refused_refresh_keeps_a_working_token_and_names_the_fix_once_it_expired(
    oauth_app: App, sandbox: Sandbox, user: Actor
) -> None:
    forge = _emulator(sandbox)
    login = _connect_expiring(oauth_app, sandbox, user)
    stored = _stored(oauth_app, ForgeKind.GITLAB, login)
    token = _token(oauth_app, stored.id)
    with oauth_app.session() as session:
        pair = store.load_forge_refresh(session, connection_id=stored.id, cipher=oauth_app.cipher)
    assert pair is not None
    # The person revoked Slipway's access on the forge: the refresh token is gone.
    assert forge.state.oauth.take_refresh(pair.refresh_token.get_secret_value()) is not None

    assert asyncio.run(oauth_app.refresh_if_expiring(stored.id)) is False
    assert _token(oauth_app, stored.id).get_secret_value() == token.get_secret_value()

    with oauth_app.session() as session:
        store.update_forge_tokens(
            session,
            connection_id=stored.id,
            token=token,
            refresh_token=pair.refresh_token,
            expires_at=datetime.now(UTC) - timedelta(seconds=1),
            cipher=oauth_app.cipher,
        )
    with pytest.raises(ForgeError) as refused:
        asyncio.run(oauth_app.refresh_if_expiring(stored.id))
    assert "invalid_grant" in str(refused.value)
    assert "connect the forge again" in str(refused.value)
    assert pair.refresh_token.get_secret_value() not in str(refused.value)


def _token_project(app: App, sandbox: Sandbox, user: Actor) -> tuple[int, Callable[[], str]]:
    """A GitLab connection by OAuth and a `--git-auth token` project created with it; returns
    the connection's ID and a reader of the token in the project's git Secret."""
    kube = sandbox.kube
    assert kube is not None
    login = tokenless_account(_emulator(sandbox))
    _connect(app, ForgeKind.GITLAB, login, user)
    stored = _stored(app, ForgeKind.GITLAB, login)
    name = f"ot-{secrets.token_hex(3)}"
    request = service.CreateRequest(
        name=name,
        template="static-site",
        environments=("dev",),
        forge=ForgeKind.GITLAB,
        git_auth=GitAuthMethod.TOKEN,
    )
    worker = Worker(app).start()
    try:
        asyncio.run(service.create_project(app, request, worker=worker, actor=user))
        assert wait_final(app, name) == "completed"
    finally:
        worker.stop()
    names = ResourceNames(service.show_project(app, name, actor=user).slug, "dev")

    def in_secret() -> str:
        secret = kube.get("v1", "Secret", names.git_secret, names.namespace)
        assert secret is not None
        return base64.b64decode(secret["data"]["password"]).decode()

    assert in_secret() == _token(app, stored.id).get_secret_value()
    return stored.id, in_secret


def test_a_git_auth_token_secret_holds_the_new_token_right_after_a_refresh(
    oauth_app: App, sandbox: Sandbox, user: Actor
) -> None:
    """A refresh revokes the old token: a `--git-auth token` project's Secret is applied
    again with the new one, with no repair."""
    connection_id, in_secret = _token_project(oauth_app, sandbox, user)
    first = _token(oauth_app, connection_id).get_secret_value()
    _expire_soon(oauth_app, connection_id)
    assert asyncio.run(oauth_app.refresh_if_expiring(connection_id)) is True
    second = _token(oauth_app, connection_id).get_secret_value()
    assert _emulator(sandbox).state.token(first) is None  # revoked by the refresh
    assert in_secret() == second


def test_a_secret_a_refresh_did_not_reach_is_caught_up_by_the_leader(
    oauth_app: App, sandbox: Sandbox, user: Actor
) -> None:
    """A refresh in a process that could not apply the Secret (here: none told of it): the
    status sync's leader applies the current token at its next pass."""
    connection_id, in_secret = _token_project(oauth_app, sandbox, user)
    first = _token(oauth_app, connection_id).get_secret_value()
    oauth_app.token_listeners.clear()
    _expire_soon(oauth_app, connection_id)
    assert asyncio.run(oauth_app.refresh_if_expiring(connection_id)) is True
    second = _token(oauth_app, connection_id).get_secret_value()
    assert in_secret() == first  # stale: nothing carried the refresh on
    with running_sync(oauth_app, refresh_every=0.2):
        wait_until(lambda: in_secret() == second, message="the Secret caught up", timeout=60)


def test_the_leader_refreshes_a_token_near_expiry_that_nothing_uses(
    oauth_app: App, sandbox: Sandbox, user: Actor
) -> None:
    forge = _emulator(sandbox)
    login = _connect_expiring(oauth_app, sandbox, user)
    stored = _stored(oauth_app, ForgeKind.GITLAB, login)
    first = _token(oauth_app, stored.id).get_secret_value()

    with running_sync(oauth_app, refresh_every=0.2):

        def refreshed() -> str | None:
            token = _token(oauth_app, stored.id).get_secret_value()
            return token if token != first else None

        second = wait_until(refreshed, message="the token refreshed", timeout=60)
    after = _stored(oauth_app, ForgeKind.GITLAB, login)
    assert after.expires_at is not None
    assert after.expires_at - datetime.now(UTC) > timedelta(hours=1)
    assert forge.state.token(first) is None
    acting = forge.state.token(second)
    assert acting is not None and acting.login == login


def _expire_soon(app: App, connection_id: int) -> None:
    """The stored token expires within the refresh margin (its pair left as it is)."""
    with app.session() as session:
        pair = store.load_forge_refresh(session, connection_id=connection_id, cipher=app.cipher)
        assert pair is not None
        store.update_forge_tokens(
            session,
            connection_id=connection_id,
            token=store.load_forge_token(session, connection_id=connection_id, cipher=app.cipher),
            refresh_token=pair.refresh_token,
            expires_at=datetime.now(UTC) + timedelta(seconds=60),
            cipher=app.cipher,
        )


def test_uses_at_once_refresh_once(
    oauth_app: App, sandbox: Sandbox, user: Actor, forge_requests: RequestRecorder
) -> None:
    """A refresh token works once: uses racing to refresh share the one refresh."""
    login = tokenless_account(_emulator(sandbox))
    _connect(oauth_app, ForgeKind.GITLAB, login, user)
    stored = _stored(oauth_app, ForgeKind.GITLAB, login)
    _expire_soon(oauth_app, stored.id)
    before = len([r for r in forge_requests.requests() if r.path == "/oauth/token"])

    async def at_once() -> list[bool]:
        return list(
            await asyncio.gather(*(oauth_app.refresh_if_expiring(stored.id) for _ in range(4)))
        )

    assert asyncio.run(at_once()) == [True] * 4
    posts = [r for r in forge_requests.requests() if r.path == "/oauth/token"]
    assert len(posts) - before == 1
    token = _emulator(sandbox).state.token(_token(oauth_app, stored.id).get_secret_value())
    assert token is not None and token.login == login
