"""Least privilege end to end: Flux reads each repository with its own read-only deploy key
over SSH on every forge flavour, no Secret in the cluster holds the forge token, and rotating
the key keeps every environment Ready while the old key leaves the forge."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.conftest import sandbox_settings
from tests.support.waiting import wait_until

from slipway import service, store
from slipway.bootstrap import App, bootstrap
from slipway.domain.model import ForgeKind, GitAuthMethod
from slipway.domain.names import ResourceNames
from slipway.pipeline.runtime import Worker
from slipway.sandbox.runner import SANDBOX_USER, Sandbox

FLUX_SOURCE = "source.toolkit.fluxcd.io/v1"
FLUX_KUSTOMIZE = "kustomize.toolkit.fluxcd.io/v1"


@pytest.fixture(params=list(ForgeKind), ids=lambda kind: kind.value)
def forge(request: pytest.FixtureRequest) -> ForgeKind:
    return ForgeKind(request.param)


@pytest.fixture
def app(sandbox: Sandbox, tmp_path: Path, forge: ForgeKind) -> Iterator[App]:
    """The sandbox token as `forge`'s (the emulator answers as all three flavours)."""
    assert sandbox.forge is not None
    urls = dict.fromkeys(ForgeKind, sandbox.forge.url)
    settings = sandbox_settings(sandbox, tmp_path / "data", forge=forge, forge_urls=urls)
    instance = bootstrap(settings)
    yield instance
    instance.close()


@pytest.fixture
def worker(app: App) -> Iterator[Worker]:
    running = Worker(app).start()
    yield running
    running.stop()


# The projects here that ask for the token in their Secrets (`--git-auth token`) start so.
HTTPS_PROJECT = "https-token"


def _create(
    app: App,
    worker: Worker,
    name: str,
    forge: ForgeKind,
    git_auth: GitAuthMethod = GitAuthMethod.SSH,
) -> None:
    request = service.CreateRequest(
        name=name, template="static-site", forge=forge, git_auth=git_auth
    )
    asyncio.run(service.create_project(app, request, worker=worker))

    def final() -> str | None:
        events = service.project_events(app, name)
        return events[-1].final if events else None

    assert wait_until(final, message=f"{name} to finish", timeout=120) == "completed"


def _all_secrets(sandbox: Sandbox) -> list[dict[str, str]]:
    """Every Secret's decoded data, but those of the project that asked for the token."""
    assert sandbox.kube is not None
    return [
        {k: base64.b64decode(v).decode(errors="replace") for k, v in (s.get("data") or {}).items()}
        for s in sandbox.kube.list("v1", "Secret")
        if not s["metadata"].get("namespace", "").startswith(f"project-{HTTPS_PROJECT}-")
    ]


def _ready(sandbox: Sandbox, names: ResourceNames) -> bool:
    assert sandbox.kube is not None
    for api, kind, name in (
        (FLUX_SOURCE, "GitRepository", names.git_repository),
        (FLUX_KUSTOMIZE, "Kustomization", names.kustomization),
    ):
        obj = sandbox.kube.get(api, kind, name, names.namespace) or {}
        conditions = (obj.get("status") or {}).get("conditions") or []
        if not any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
            return False
    return True


def test_flux_reads_every_forge_over_ssh_and_no_secret_holds_the_token(
    app: App, worker: Worker, sandbox: Sandbox, forge: ForgeKind
) -> None:
    assert sandbox.forge is not None
    name = f"ssh-{forge.value}"
    _create(app, worker, name, forge)
    repo = sandbox.forge.state.repo(SANDBOX_USER, name)
    assert repo is not None
    keys = sandbox.forge.state.deploy_keys(repo)
    assert len(keys) == 1 and keys[0].read_only
    with app.session() as session:
        project = store.require_project(session, name=name)
        stored = store.current_deploy_key(session, project_id=project.id)
    assert stored is not None and stored.public_key.startswith(keys[0].key.text)
    for env in project.environments:
        names = ResourceNames(name, env)
        assert _ready(sandbox, names)
        assert sandbox.kube is not None
        source = sandbox.kube.get(
            FLUX_SOURCE, "GitRepository", names.git_repository, names.namespace
        )
        assert source is not None and source["spec"]["url"].startswith("ssh://git@")
    secrets = _all_secrets(sandbox)
    assert secrets, "the cluster holds Secrets"
    assert not any(sandbox.forge_token in value for s in secrets for value in s.values())


def test_the_deploy_key_reads_only_its_own_repository(
    app: App, worker: Worker, sandbox: Sandbox, tmp_path: Path, forge: ForgeKind
) -> None:
    """The key in the cluster, used with the real OpenSSH client: clone yes, push no, and no
    other repository."""
    assert sandbox.forge is not None
    own_name, other_name = f"ssh-own-{forge.value}", f"ssh-other-{forge.value}"
    _create(app, worker, own_name, forge)
    _create(app, worker, other_name, forge)
    names = ResourceNames(own_name, "development")
    assert sandbox.kube is not None
    secret = sandbox.kube.get("v1", "Secret", names.git_secret, names.namespace)
    assert secret is not None
    key = tmp_path / "identity"
    key.write_bytes(base64.b64decode(secret["data"]["identity"]))
    key.chmod(0o600)
    known = tmp_path / "known_hosts"
    known.write_bytes(base64.b64decode(secret["data"]["known_hosts"]))
    ssh = (
        f"ssh -i {key} -o IdentitiesOnly=yes -o UserKnownHostsFile={known} "
        "-o StrictHostKeyChecking=yes -o BatchMode=yes -F /dev/null"
    )
    env = {**os.environ, "GIT_SSH_COMMAND": ssh, "GIT_TERMINAL_PROMPT": "0"}

    def git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
        )

    own = sandbox.forge.ssh_clone_url(SANDBOX_USER, own_name)
    cloned = git("clone", "--quiet", own, str(tmp_path / "own"))
    assert cloned.returncode == 0, cloned.stderr
    checkout = tmp_path / "own"
    (checkout / "pwned.txt").write_text("no")
    git("-c", "user.name=x", "-c", "user.email=x@x", "add", ".", cwd=checkout)
    git("-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qm", "x", cwd=checkout)
    pushed = git("push", "origin", "HEAD", cwd=checkout)
    assert pushed.returncode != 0 and "read only" in pushed.stderr
    other = sandbox.forge.ssh_clone_url(SANDBOX_USER, other_name)
    refused = git("clone", "--quiet", other, str(tmp_path / "other"))
    assert refused.returncode != 0 and "Repository not found" in refused.stderr


def test_rotation_keeps_every_environment_ready_and_removes_the_old_key(
    app: App, worker: Worker, sandbox: Sandbox, forge: ForgeKind
) -> None:
    assert sandbox.forge is not None and sandbox.kube is not None
    name = f"ssh-rotate-{forge.value}"
    _create(app, worker, name, forge)
    repo = sandbox.forge.state.repo(SANDBOX_USER, name)
    assert repo is not None
    (old,) = sandbox.forge.state.deploy_keys(repo)
    envs = [ResourceNames(name, env) for env in ("development", "staging", "production")]

    observed: list[bool] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            observed.append(all(_ready(sandbox, names) for names in envs))
            stop.wait(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        asyncio.run(service.rotate_credentials(app, name))
    finally:
        stop.set()
        watcher.join(5)
    assert len(observed) > 5 and all(observed), "an environment left Ready during rotation"

    (new,) = sandbox.forge.state.deploy_keys(repo)
    assert new.key.text != old.key.text and new.read_only
    for names in envs:
        secret = sandbox.kube.get("v1", "Secret", names.git_secret, names.namespace)
        assert secret is not None
        public = base64.b64decode(secret["data"]["identity.pub"]).decode()
        assert public.startswith(new.key.text)
        assert _ready(sandbox, names)
    with app.session() as session:
        project = store.require_project(session, name=name)
        assert len(store.deploy_keys(session, project_id=project.id)) == 1


def test_git_auth_token_reads_over_https_with_the_token(
    app: App, worker: Worker, sandbox: Sandbox, forge: ForgeKind
) -> None:
    """For forges with deploy keys disabled: no key on the repository, Flux Ready over HTTPS
    with the token in the Secret (what the user opted into)."""
    assert sandbox.forge is not None and sandbox.kube is not None
    name = f"{HTTPS_PROJECT}-{forge.value}"
    _create(app, worker, name, forge, GitAuthMethod.TOKEN)
    repo = sandbox.forge.state.repo(SANDBOX_USER, name)
    assert repo is not None and sandbox.forge.state.deploy_keys(repo) == []
    names = ResourceNames(name, "development")
    source = sandbox.kube.get(FLUX_SOURCE, "GitRepository", names.git_repository, names.namespace)
    assert source is not None and source["spec"]["url"].startswith("http")
    secret = sandbox.kube.get("v1", "Secret", names.git_secret, names.namespace)
    assert secret is not None and set(secret["data"]) == {"username", "password"}
    assert base64.b64decode(secret["data"]["password"]).decode() == sandbox.forge_token
    assert _ready(sandbox, names)
