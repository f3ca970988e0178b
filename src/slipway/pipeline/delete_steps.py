"""The delete steps, as plain functions of (app, project id): each idempotent (an object,
key or repository already gone is success), each reporting its progress. Cluster work is
`gitops.teardown`'s: only what Slipway labelled for this project and installation goes, and
nothing goes while an object that is nobody's Slipway knows sits in the project's namespace."""

from __future__ import annotations

from slipway import store
from slipway.bootstrap import App, ProcessLoop
from slipway.domain.errors import NotFound
from slipway.domain.model import GitAuthMethod, Step
from slipway.domain.text import t
from slipway.gitops import EnvironmentClaim
from slipway.gitops.teardown import (
    check_teardown,
    delete_environment_objects,
    delete_kustomizations,
    kustomizations_present,
    wait_gone,
)
from slipway.pipeline.access_steps import _installation_of
from slipway.pipeline.progress import report
from slipway.pipeline.steps import load_project, recorded_repository
from slipway.store.models import Project


def claims(app: App, project: Project) -> list[EnvironmentClaim]:
    """What each environment holds on the cluster: its names, for this installation."""
    return [
        EnvironmentClaim(project=project.slug, environment=env, installation=app.installation)
        for env in project.environments
    ]


# -- delete workloads 0-40 -------------------------------------------------------------------


def delete_workloads(app: App, project_id: int) -> list[str]:
    """Each environment's Kustomization deleted, and gone: Flux's finalizer pruned what it
    deployed. Returns the Kustomizations it deleted."""
    project = load_project(app, project_id)
    step = Step.DELETE_WORKLOADS
    report(
        app,
        project_id,
        step,
        0.0,
        t("checking that {name}'s namespaces hold only its own objects", name=project.name),
    )
    environments = claims(app, project)

    async def delete(loop: ProcessLoop) -> list[str]:
        await check_teardown(loop.cluster, environments, project=project.name, step=step.value)
        return [ref.name for ref in await delete_kustomizations(loop.cluster, environments)]

    deleted = app.loop.run(delete)
    if deleted:
        report(
            app,
            project_id,
            step,
            0.25,
            t(
                "deleted Kustomization {deleted}: waiting for Flux to prune the workloads",
                deleted=", ".join(deleted),
            ),
        )
    _wait(app, environments, step)
    report(app, project_id, step, 1.0, t("Kustomizations gone: Flux pruned what they deployed"))
    return deleted


# -- delete objects 40-80 --------------------------------------------------------------------


def delete_objects(app: App, project_id: int) -> list[str]:
    """The GitRepositories, Secrets, RoleBindings, ServiceAccounts, then the environments'
    own Namespaces, deleted and gone. Returns what it deleted, as `Kind namespace/name`."""
    project = load_project(app, project_id)
    step = Step.DELETE_OBJECTS
    environments = claims(app, project)
    report(app, project_id, step, 0.0, t("deleting the sources, Secrets, RBAC and namespaces"))

    async def delete(loop: ProcessLoop) -> list[str]:
        # Again: something may have been put in a namespace since the workloads went.
        await check_teardown(loop.cluster, environments, project=project.name, step=step.value)
        refs = await delete_environment_objects(loop.cluster, environments)
        await wait_gone(loop.cluster, refs, within=app.settings.ready_timeout, step=step.value)
        return [
            f"{ref.kind} {ref.namespace + '/' if ref.namespace else ''}{ref.name}" for ref in refs
        ]

    deleted = app.loop.run(delete)
    namespaces = [c.names.namespace for c in environments]
    report(
        app,
        project_id,
        step,
        1.0,
        t("namespaces {namespaces} and their objects gone", namespaces=", ".join(namespaces)),
    )
    return deleted


def _wait(app: App, environments: list[EnvironmentClaim], step: Step) -> None:
    """Waits until each environment's Kustomization is gone (whether deleted by this run or
    by one before it that crashed); one another installation adopted is not this project's
    to wait for."""

    async def wait(loop: ProcessLoop) -> None:
        present = await kustomizations_present(loop.cluster, environments)
        await wait_gone(loop.cluster, present, within=app.settings.ready_timeout, step=step.value)

    app.loop.run(wait)


# -- delete repository 80-95 -----------------------------------------------------------------


def delete_repository(app: App, project_id: int, delete_repo: bool) -> str:
    """With `delete_repo`, the repository (only if its marker names this project and
    installation); else only the project's deploy keys, since Flux no longer reads it.
    Returns what it did: "deleted", "gone", "kept" or "none" (no repository recorded)."""
    project = load_project(app, project_id)
    step = Step.DELETE_REPOSITORY
    with app.session() as session:
        row = store.get_repository(session, project_id=project_id)
        key_ids = {
            k.forge_key_id
            for k in store.deploy_keys(session, project_id=project_id)
            if k.forge_key_id
        }
    if row is None:
        report(app, project_id, step, 1.0, t("no repository was recorded: nothing to remove"))
        return "none"
    full_name = f"{row.owner}/{row.name}"
    repository = recorded_repository(project, row)

    async def remove(loop: ProcessLoop) -> str:
        forge = await loop.forge(
            project.forge, connection_id=project.forge_connection_id, step=step.value
        )
        if delete_repo:
            deleted = await forge.delete_project_repository(
                owner=row.owner, name=row.name, project=project.name, installation=app.installation
            )
            return "deleted" if deleted else "gone"
        if project.git_auth is GitAuthMethod.TOKEN and not key_ids:
            return "kept"
        try:
            keys = await forge.list_deploy_keys(repository)
        except NotFound:
            return "gone"  # the repository went meanwhile, and its keys with it
        for key in keys:
            ours = key.id in key_ids or _installation_of(project, key.title) == app.installation
            if ours:
                await forge.remove_deploy_key(repository, key.id)
        return "kept"

    report(
        app,
        project_id,
        step,
        0.0,
        (
            t("deleting the repository {full_name}", full_name=full_name)
            if delete_repo
            else t(
                "removing the deploy key from {full_name} (the repository stays)",
                full_name=full_name,
            )
        ),
    )
    outcome = app.loop.run(remove)
    said = {
        "deleted": t("repository {full_name} deleted", full_name=full_name),
        "gone": t("repository {full_name} was gone already", full_name=full_name),
        "kept": t("repository {full_name} kept; Slipway's deploy key removed", full_name=full_name),
    }[outcome]
    report(app, project_id, step, 1.0, said)
    return outcome


# -- delete records 95-100 -------------------------------------------------------------------


def delete_records(app: App, project_id: int) -> bool:
    """The final event, then the project's rows (the store cascades to everything recorded
    under it), so the name is free again. False when the rows were gone already."""
    with app.session() as session:
        project = store.get_project_by_id(session, project_id=project_id)
        name = project.name if project is not None else None
    if name is None:
        return False
    report(
        app,
        project_id,
        Step.DELETE_RECORDS,
        1.0,
        t("project {name} deleted", name=name),
        final="deleted",
    )
    with app.session() as session:
        return store.delete_project(session, name=name)
