"""Read access for Flux (65-70 %): a read-only ed25519 deploy key per project, added to the
repository through the forge's deploy-key API, and the forge's SSH host keys; the cluster's
git Secret is built from them, so the user's own token never leaves Slipway.

Idempotent: the key pair is generated once and stored (its private half encrypted) before it
is sent; the forge's "already there" is success; a re-run only fills in what is missing. The
private key is never a step argument or result. A rotation (`pipeline.rotate`) runs
`grant_new_key`, `apply_new_key` and `remove_old_keys`, which reuse `grant`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slipway import store
from slipway.bootstrap import App, ProcessLoop
from slipway.domain.errors import ClusterError, ForgeError, InvalidInput, NotFound, SlipwayError
from slipway.domain.model import GitAuthMethod, ResourceStatus, Step
from slipway.domain.names import ResourceKind
from slipway.domain.text import t
from slipway.forges import Repository, generate_deploy_key
from slipway.gitops import ObjectStatus, SSHAuth
from slipway.pipeline.progress import report
from slipway.pipeline.steps import (
    environment_specs,
    load_project,
    recorded_repository,
    repository_from,
)
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
            t("Flux will read the repository over HTTPS with the forge token (--git-auth token)"),
        )
        return {"method": GitAuthMethod.TOKEN.value}
    repository = repository_from(repo)
    key = current_or_new_key(app, project)
    forge_key_id = key.forge_key_id
    if forge_key_id is None or not key.granted:  # not granted beside the push: now
        report(
            app,
            project_id,
            Step.DEPLOY_KEY,
            0.0,
            t("adding a read-only deploy key to {full_name}", full_name=repository.full_name),
        )
        forge_key_id = grant(app, project, repository, key)
    report(
        app,
        project_id,
        Step.DEPLOY_KEY,
        1.0,
        t(
            "read-only deploy key {forge_key_id} on {full_name}: Flux reads over SSH",
            forge_key_id=forge_key_id,
            full_name=repository.full_name,
        ),
    )
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
    return app.loop.run(lambda loop: _grant(loop, app, project, repository, key))


def granting(
    app: App, project_id: int, repo: dict[str, Any]
) -> Callable[[ProcessLoop], Awaitable[None]] | None:
    """The deploy key's grant as work to run beside the first push (it needs only the
    repository, so it costs no round trip of its own); None when there is nothing to do:
    `--git-auth token`, or granted already. The `deploy_key` step grants what this missed."""
    project = load_project(app, project_id)
    if project.git_auth is GitAuthMethod.TOKEN or not repo.get("ssh_url"):
        return None
    key = current_or_new_key(app, project)
    if key.granted:
        return None
    repository = repository_from(repo)

    async def run(loop: ProcessLoop) -> None:
        try:
            await _grant(loop, app, project, repository, key)
        except SlipwayError:
            return  # the deploy_key step tries again, and reports what went wrong there

    return run


async def _grant(
    loop: ProcessLoop, app: App, project: Project, repository: Repository, key: DeployKey
) -> str:
    if not repository.ssh_url:
        raise ForgeError(
            t(
                "{forge} reported no SSH clone URL for {full_name}",
                forge=project.forge.value,
                full_name=repository.full_name,
            ),
            step=Step.DEPLOY_KEY.value,
            system=project.forge.value,
            hint=t("enable SSH on the forge, or create the project with --git-auth token"),
        )
    forge = await loop.forge(
        project.forge, connection_id=project.forge_connection_id, step=Step.DEPLOY_KEY.value
    )
    added, known_hosts = await asyncio.gather(
        forge.add_deploy_key(
            repository, title=_title(project, key, app.installation), public_key=key.public_key
        ),
        forge.ssh_known_hosts(repository),
    )
    if project.adopt:  # the other installation's key backs no Secret any more: it goes
        for other in await forge.list_deploy_keys(repository):
            owner = _installation_of(project, other.title)
            if owner is not None and owner != app.installation:
                await forge.remove_deploy_key(repository, other.id)
    await asyncio.to_thread(_record_grant, app, key.id, added.id, known_hosts)
    return added.id


def _record_grant(app: App, key_id: int, forge_key_id: str, known_hosts: str) -> None:
    with app.session() as session:
        store.update_deploy_key(
            session, key_id=key_id, forge_key_id=forge_key_id, known_hosts=known_hosts
        )


# One title per key: Gitea refuses a title twice on one repository (a rotation adds a second
# key before the first goes); the installation in it tells whose key it is after an adoption.
_TITLE = "Slipway {project} key {key} (read-only, installation {installation})"
_TITLE_PATTERN = r"Slipway {project} key [0-9]+ \(read-only, installation ([0-9a-f]+)\)"


def _title(project: Project, key: DeployKey, installation: str) -> str:
    return _TITLE.format(project=project.name, key=key.id, installation=installation)


def _installation_of(project: Project, title: str) -> str | None:
    """The installation a deploy key of this project belongs to, read from its title; None
    for a key Slipway did not add (it is left alone)."""
    found = re.fullmatch(_TITLE_PATTERN.format(project=re.escape(project.name)), title)
    return found.group(1) if found else None


def flux_key(app: App, project: Project) -> DeployKey:
    """The key the cluster's Secret carries: the current one, granted and with host keys."""
    with app.session() as session:
        key = store.current_deploy_key(session, project_id=project.id)
    if key is None or not key.granted:
        raise NotFound(
            t("project {name} has no deploy key on its repository yet", name=project.name),
            step=Step.GITOPS_RESOURCES.value,
            system="database",
            hint=t("the deploy key step has not finished: a worker resumes it (`slipway worker`)"),
        )
    return key


def ssh_credentials(app: App, project: Project) -> SSHAuth:
    """The project's current deploy key and the forge's host keys, for its git Secret."""
    key = flux_key(app, project)
    return SSHAuth(
        identity=store.private_key(key, app.cipher),
        known_hosts=key.known_hosts or "",
        identity_pub=key.public_key,
    )


def rotation_start(app: App, project_id: int) -> list[int]:
    """Checks that the project has a deploy key to rotate and returns the IDs of the keys on
    the forge now: the ones the rotation removes once Flux is Ready with the new key."""
    project = load_project(app, project_id)
    if project.git_auth is GitAuthMethod.TOKEN:
        raise InvalidInput(
            "project",
            t(
                "{name} reads its repository with the forge token "
                "(--git-auth token); there is no deploy key to rotate",
                name=project.name,
            ),
        )
    _rotated_repository(app, project)
    with app.session() as session:
        keys = store.deploy_keys(session, project_id=project_id)
    return [k.id for k in keys if k.forge_key_id is not None]


def _rotated_repository(app: App, project: Project) -> tuple[Repository, str, str]:
    """The repository whose key is rotated, with its SSH URL and branch for the Secrets."""
    with app.session() as session:
        row = store.get_repository(session, project_id=project.id)
    if row is None or not row.ssh_url:
        raise NotFound(
            t("project {name} has no repository with an SSH URL yet", name=project.name),
            system="database",
            hint=t("wait until its creation has finished"),
        )
    return recorded_repository(project, row), row.ssh_url, row.default_branch


def grant_new_key(app: App, project_id: int, old_key_ids: list[int]) -> dict[str, Any]:
    """Rotation, first step: a new key (the one an interrupted attempt stored, else a fresh
    pair) added to the repository beside the old ones. Returns its IDs (no key material)."""
    project = load_project(app, project_id)
    repository, _, _ = _rotated_repository(app, project)
    step = Step.GRANT_NEW_KEY
    with app.session() as session:
        fresh = [
            k for k in store.deploy_keys(session, project_id=project_id) if k.id not in old_key_ids
        ]
    new = fresh[-1] if fresh else current_or_new_key(app, project, new=True)
    report(
        app,
        project_id,
        step,
        0.0,
        t("adding a new read-only deploy key to {full_name}", full_name=repository.full_name),
    )
    forge_key_id = grant(app, project, repository, new)
    report(
        app,
        project_id,
        step,
        1.0,
        t(
            "new deploy key {forge_key_id} on {full_name}; the old one still works",
            forge_key_id=forge_key_id,
            full_name=repository.full_name,
        ),
    )
    return {"key_id": new.id, "forge_key_id": forge_key_id}


def apply_new_key(app: App, project_id: int, *, within: float) -> int:
    """Rotation, second step: every environment's Secret carries the new key and each
    GitRepository is Ready with it. Returns how many environments."""
    project = load_project(app, project_id)
    _, url, branch = _rotated_repository(app, project)
    step = Step.APPLY_NEW_KEY
    report(
        app,
        project_id,
        step,
        0.0,
        t(
            "putting the new key in the Secrets of {environments} and waiting for Flux",
            environments=", ".join(project.environments),
        ),
    )
    _apply_and_reconcile(app, project, url, branch, within=within)
    report(app, project_id, step, 1.0, t("every GitRepository is Ready with the new key"))
    return len(project.environments)


def remove_old_keys(app: App, project_id: int, old_key_ids: list[int]) -> int:
    """Rotation, last step: the keys that were on the forge before it began removed (one
    already gone is fine). Returns how many were still recorded."""
    project = load_project(app, project_id)
    repository, _, _ = _rotated_repository(app, project)
    with app.session() as session:
        keys = store.deploy_keys(session, project_id=project_id)
    old = [k for k in keys if k.id in old_key_ids and k.forge_key_id is not None]
    step = Step.REMOVE_OLD_KEYS
    report(
        app,
        project_id,
        step,
        0.0,
        t("removing the old deploy key from {full_name}", full_name=repository.full_name),
    )
    _remove(app, project, repository, old)
    report(app, project_id, step, 1.0, t("the old deploy key is gone from the forge"))
    return len(old)


def _apply_and_reconcile(
    app: App, project: Project, url: str, branch: str, *, within: float
) -> None:
    """Every environment's objects applied with the current key, then each GitRepository
    reconciled now; raises unless each is Ready again (the old key still works meanwhile)."""
    specs = environment_specs(project, app.installation, url, branch, ssh_credentials(app, project))

    async def run(loop: ProcessLoop) -> list[ObjectStatus]:
        results = await loop.cluster.apply_environments(specs, step=Step.APPLY_NEW_KEY.value)
        for result in results.values():
            if result.error is not None:
                raise result.error
        return await asyncio.gather(
            *(
                loop.cluster.reconcile_now(
                    ResourceKind.GIT_REPOSITORY,
                    spec.names.git_repository,
                    spec.names.namespace,
                    within=within,
                )
                for spec in specs
            )
        )

    for status in app.loop.run(run):
        if status.status is not ResourceStatus.READY:
            raise ClusterError(
                t(
                    "GitRepository {namespace}/{name} is not Ready with the new "
                    "deploy key: {message}",
                    namespace=status.ref.namespace,
                    name=status.ref.name,
                    message=status.message,
                ),
                step=Step.APPLY_NEW_KEY.value,
                system="Flux",
                hint=t("the old key stays on the repository; fix the cause and rotate again"),
            )


def _remove(app: App, project: Project, repository: Repository, old: list[DeployKey]) -> None:
    """The old keys off the forge (a key already gone is fine), then out of the database."""

    async def run(loop: ProcessLoop) -> None:
        forge = await loop.forge(
            project.forge,
            connection_id=project.forge_connection_id,
            step=Step.REMOVE_OLD_KEYS.value,
        )
        for key in old:
            assert key.forge_key_id is not None
            await forge.remove_deploy_key(repository, key.forge_key_id)

    app.loop.run(run)
    with app.session() as session:
        for key in old:
            store.delete_deploy_key(session, key_id=key.id)
