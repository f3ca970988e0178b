"""Read access for Flux (65-70 %): a read-only ed25519 deploy key per project, added to the
repository through the forge's deploy-key API, and the forge's SSH host keys; the cluster's
git Secret is built from them, so the user's own token never leaves Slipway.

Idempotent: the key pair is generated once and stored (its private half encrypted) before it
is sent; the forge's "already there" is success; a re-run only fills in what is missing. The
private key is never a step argument or result. `rotate_credentials` (service) reuses `grant`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from slipway import store
from slipway.bootstrap import App, ProcessLoop
from slipway.domain.errors import ForgeError, NotFound
from slipway.domain.model import GitAuthMethod, Step
from slipway.forges import Repository, generate_deploy_key
from slipway.pipeline.progress import report
from slipway.pipeline.steps import load_project, repository_from
from slipway.store.models import DeployKey, Project


def deploy_key(app: App, project_id: int, repo: dict[str, Any]) -> dict[str, str]:
    """Ensures the project's current deploy key is on the repository and the host keys are
    known; `--git-auth token` projects skip it. Returns plain facts (no key material)."""
    project = load_project(app, project_id)
    if project.git_auth is GitAuthMethod.TOKEN:
        report(
            app,
            project_id,
            Step.DEPLOY_KEY,
            1.0,
            "Flux will read the repository over HTTPS with the forge token (--git-auth token)",
        )
        return {"method": GitAuthMethod.TOKEN.value}
    repository = repository_from(repo)
    key = current_or_new_key(app, project)
    report(
        app,
        project_id,
        Step.DEPLOY_KEY,
        0.0,
        f"adding a read-only deploy key to {repository.full_name}",
    )
    forge_key_id = grant(app, project, repository, key)
    report(app, project_id, Step.DEPLOY_KEY, 1.0, f"read-only deploy key {forge_key_id} added")
    return {"method": GitAuthMethod.SSH.value, "forge_key_id": forge_key_id}


def current_or_new_key(app: App, project: Project, *, new: bool = False) -> DeployKey:
    """The project's current key, or (when it has none, or `new`) a fresh pair, stored
    encrypted before anything is sent anywhere."""
    with app.session() as session:
        key = None if new else store.current_deploy_key(session, project_id=project.id)
        if key is None:
            pair = generate_deploy_key(f"slipway-{project.slug}@{app.installation}")
            key = store.add_deploy_key(
                session,
                project_id=project.id,
                public_key=pair.public_key,
                private_key=pair.private_key,
                cipher=app.cipher,
            )
        return key


def grant(app: App, project: Project, repository: Repository, key: DeployKey) -> str:
    """Adds `key` to the repository (read-only) and scans the forge's SSH host keys, both at
    once; records what the forge answered. Returns the forge's key ID."""
    if not repository.ssh_url:
        raise ForgeError(
            f"{project.forge.value} reported no SSH clone URL for {repository.full_name}",
            step=Step.DEPLOY_KEY.value,
            system=project.forge.value,
            hint="enable SSH on the forge, or create the project with --git-auth token",
        )
    title = f"Slipway {project.name} (read-only, installation {app.installation})"

    async def run(loop: ProcessLoop) -> tuple[str, str]:
        forge = await loop.forge(
            project.forge, connection_id=project.forge_connection_id, step=Step.DEPLOY_KEY.value
        )
        added, known_hosts = await asyncio.gather(
            forge.add_deploy_key(repository, title=title, public_key=key.public_key),
            forge.ssh_known_hosts(repository),
        )
        return added.id, known_hosts

    forge_key_id, known_hosts = app.loop.run(run)
    with app.session() as session:
        store.update_deploy_key(
            session, key_id=key.id, forge_key_id=forge_key_id, known_hosts=known_hosts
        )
    return forge_key_id


def flux_key(app: App, project: Project) -> DeployKey:
    """The key the cluster's Secret carries: the current one, granted and with host keys."""
    with app.session() as session:
        key = store.current_deploy_key(session, project_id=project.id)
    if key is None or key.forge_key_id is None or not key.known_hosts:
        raise NotFound(
            f"project {project.name} has no deploy key on its repository yet",
            step=Step.GITOPS_RESOURCES.value,
            system="database",
            hint="the deploy key step has not finished: a worker resumes it (`slipway worker`)",
        )
    return key
