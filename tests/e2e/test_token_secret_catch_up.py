"""The leader's token pass and a project still in a run: a `--git-auth token` project whose
GitOps step applied its Secret but whose run has not ended (`initializing`) may yet have the
token its step read written over a newer one, so each pass applies its Secret again; once
the run ends the Secret is applied once more and then only when the token changes."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from tests.e2e.conftest import sandbox_settings
from tests.e2e.test_pipeline import create, wait_final

from slipway import service, store
from slipway.bootstrap import App, bootstrap
from slipway.domain.model import ForgeKind, GitAuthMethod, ProjectStatus
from slipway.domain.names import ResourceNames
from slipway.pipeline.runtime import Worker
from slipway.sandbox.runner import SANDBOX_SCOPES, Sandbox
from slipway.service.token_refresh import TokenRefresher

REVOKED = "revoked-token"


@pytest.fixture
def app(sandbox: Sandbox, tmp_path: Path) -> Iterator[App]:
    instance = bootstrap(sandbox_settings(sandbox, tmp_path / "data"))
    yield instance
    instance.close()


def _token_project(app: App, sandbox: Sandbox) -> tuple[str, str, ResourceNames]:
    """A stored connection of a new sandbox account and a `--git-auth token` project made
    with it: the project's name, the token, and the names of its `dev` objects."""
    assert sandbox.forge is not None
    login, token = f"tsc-{secrets.token_hex(3)}", f"sandbox_{secrets.token_hex(16)}"
    sandbox.forge.add_user(login, token, scopes=SANDBOX_SCOPES)
    asyncio.run(service.connect_forge(app, ForgeKind.GITHUB, SecretStr(token), url=None))
    name = f"tsc-{secrets.token_hex(3)}"
    request = service.CreateRequest(
        name=name, template="static-site", environments=("dev",), git_auth=GitAuthMethod.TOKEN
    )
    worker = Worker(app).start()
    try:
        create(app, request, worker)
        assert wait_final(app, name) == "completed"
    finally:
        worker.stop()
    return name, token, ResourceNames(service.show_project(app, name).slug, "dev")


def _set_status(app: App, name: str, status: ProjectStatus) -> None:
    with app.session() as session:
        project = store.require_project(session, name=name)
        store.set_project_status(session, project_id=project.id, status=status)


def test_a_running_projects_secret_is_applied_every_pass_a_finished_ones_once(
    app: App, sandbox: Sandbox
) -> None:
    kube = sandbox.kube
    assert kube is not None
    name, token, names = _token_project(app, sandbox)

    def in_secret() -> str:
        secret = kube.get("v1", "Secret", names.git_secret, names.namespace)
        assert secret is not None
        return base64.b64decode(secret["data"]["password"]).decode()

    def step_writes_the_token_it_read() -> None:
        """What a run's GitOps step does that read the token just before a refresh."""
        secret = kube.get("v1", "Secret", names.git_secret, names.namespace)
        assert secret is not None
        password = base64.b64encode(REVOKED.encode()).decode()
        kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": names.git_secret, "namespace": names.namespace},
                "data": {**secret["data"], "password": password},
            },
            manager="slipway",
        )
        assert in_secret() == REVOKED

    refresher = TokenRefresher(app, leading=lambda: True)

    def one_pass() -> None:
        async def run() -> None:
            async with app.cluster() as cluster:
                await refresher.run_pass(cluster)

        asyncio.run(run())

    assert in_secret() == token

    # A repair (or creation) run that already applied the Secret: every pass applies it.
    _set_status(app, name, ProjectStatus.INITIALIZING)
    for _ in range(2):
        step_writes_the_token_it_read()
        one_pass()
        assert in_secret() == token

    # The run ended: applied once more, then left alone while the token stays the same.
    _set_status(app, name, ProjectStatus.ACTIVE)
    step_writes_the_token_it_read()
    one_pass()
    assert in_secret() == token
    step_writes_the_token_it_read()
    one_pass()
    assert in_secret() == REVOKED
    assert refresher.passes == 4
