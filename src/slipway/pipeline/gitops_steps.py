"""The cluster half of initialization: GitOps resources (70-90 %) and finalize (90-100 %).

Both are idempotent: objects are applied with server-side apply and rows are upserted, so a
re-run after a crash converges on the same objects and rows. Git credentials are read from
the forge connection inside the step; they never become a step argument or result.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from slipway import store
from slipway.bootstrap import App, ProcessLoop
from slipway.domain.errors import NotFound, SlipwayError
from slipway.domain.model import EventLevel, GitAuthMethod, ProjectStatus, ResourceStatus, Step
from slipway.domain.names import ResourceKind, ResourceNames
from slipway.domain.text import Text, join, t
from slipway.gitops import (
    BasicAuth,
    EnvironmentResult,
    GitCredentials,
    ObjectStatus,
    SettledEnvironment,
    environment_refs,
    kind_info,
    require_preflight,
    settle_environment,
)
from slipway.pipeline import access_steps
from slipway.pipeline.progress import report
from slipway.pipeline.steps import environment_specs, is_repair, load_project
from slipway.store.models import Project

# -- GitOps resources 70-90 ------------------------------------------------------------------


def gitops_resources(app: App, project_id: int) -> dict[str, str | None]:
    """Preflight, then every environment applied in parallel; returns env -> error or None.

    A preflight failure (cluster unreachable, Flux missing, RBAC) is raised: the repository
    work stays, and the workflow marks the project degraded with the reason and the fix.
    """
    project = load_project(app, project_id)
    report(app, project_id, Step.GITOPS_RESOURCES, 0.0, t("checking the cluster (preflight)"))
    with app.session() as session:
        repository = store.get_repository(session, project_id=project_id)
        environments = {
            e.name: e.id for e in store.list_environments(session, project_id=project_id)
        }
    if repository is None:
        raise NotFound(
            t("project {name} has no recorded repository", name=project.name), system="database"
        )
    try:
        installation, branch = app.installation, repository.default_branch
        credentials: GitCredentials | None = None  # the token, read inside the loop
        url = repository.clone_url
        if project.git_auth is GitAuthMethod.SSH:
            credentials, url = access_steps.ssh_credentials(app, project), repository.ssh_url or ""
        results = app.loop.run(
            lambda loop: _apply(loop, project, installation, url, branch, credentials)
        )
    except SlipwayError as exc:
        _record_unapplied(app, project, environments, str(exc))
        raise
    outage = next((r.error for r in results.values() if r.error and r.error.transient), None)
    if outage is not None:  # the whole step again, later: applying is idempotent
        raise outage
    outcome: dict[str, str | None] = {}
    for index, env in enumerate(project.environments):
        result = results[env]
        _record_result(app, project, environments[env], result)
        error = result.error
        outcome[env] = str(error) if error else None
        message = (
            t("{env}: {count} objects applied", env=env, count=len(result.objects))
            if error is None
            else t(
                "{env}: failed: {error}",
                env=env,
                error=error.text() if isinstance(error, SlipwayError) else str(error),
            )
        )
        report(
            app,
            project_id,
            Step.GITOPS_RESOURCES,
            (index + 1) / len(project.environments),
            message,
            level=EventLevel.INFO if error is None else EventLevel.ERROR,
        )
    return outcome


async def _apply(
    loop: ProcessLoop,
    project: Project,
    installation: str,
    clone_url: str,
    branch: str,
    credentials: GitCredentials | None,
) -> dict[str, EnvironmentResult]:
    """`credentials` None: the forge token over HTTPS (`--git-auth token`)."""
    if credentials is None:
        forge = await loop.forge(
            project.forge,
            connection_id=project.forge_connection_id,
            step=Step.GITOPS_RESOURCES.value,
        )
        token = forge.git_credentials()
        credentials = BasicAuth(username=token.username, password=token.password)
    specs = environment_specs(project, installation, clone_url, branch, credentials)
    step = Step.GITOPS_RESOURCES.value
    await require_preflight(loop.cluster, step=step)
    # A repair takes back fields another manager changed (drift); creation reports them.
    results = await loop.cluster.apply_environments(
        specs, force=is_repair(project), adopt=project.adopt, step=step
    )
    if project.adopt:
        # Adopted sources were Ready at the other installation's commit and keep their
        # generation: have Flux fetch now, so finalize can wait for the kept commit.
        await asyncio.gather(
            *(
                loop.cluster.request_reconcile(
                    ResourceKind.GIT_REPOSITORY, spec.names.git_repository, spec.names.namespace
                )
                for spec in specs
                if results[spec.environment].ok
            )
        )
    return results


def _record_unapplied(
    app: App, project: Project, environments: dict[str, int], reason: str
) -> None:
    with app.session() as session:
        for env, env_id in environments.items():
            for ref in environment_refs(ResourceNames(project.slug, env)):
                store.upsert_gitops_resource(
                    session,
                    project_id=project.id,
                    environment_id=env_id,
                    type=ref.kind,
                    name=ref.name,
                    namespace=ref.namespace,
                    api_version=kind_info(ref.kind).api_version,
                    status=ResourceStatus.PENDING,
                    error_message=reason,
                )
            store.set_environment_status(
                session, environment_id=env_id, status=ResourceStatus.FAILED
            )


def _record_result(app: App, project: Project, env_id: int, result: EnvironmentResult) -> None:
    with app.session() as session:
        for item in result.objects:
            kind = kind_info(item.ref.kind)
            if item.ok:
                # A kind with a Ready condition is Ready only once its controller says so.
                status = ResourceStatus.RECONCILING if kind.has_ready else ResourceStatus.READY
            else:
                status = ResourceStatus.PENDING if item.skipped else ResourceStatus.FAILED
            store.upsert_gitops_resource(
                session,
                project_id=project.id,
                environment_id=env_id,
                type=kind.kind,
                name=item.ref.name,
                namespace=item.ref.namespace,
                api_version=kind.api_version,
                status=status,
                error_message=str(item.error) if item.error else None,
                observed_generation=None,
            )
        store.set_environment_status(
            session,
            environment_id=env_id,
            status=ResourceStatus.RECONCILING if result.ok else ResourceStatus.FAILED,
        )


# -- finalize 90-100 -------------------------------------------------------------------------


def finalize(app: App, project_id: int, applied: dict[str, str | None]) -> str:
    """Waits (bounded) for Flux to report Ready, records what it said, and settles the status.

    Each environment is recorded and reported as soon as it settles, so the progress bar moves
    while Flux works. `degraded` when an environment's objects failed to apply or Flux says
    one failed, naming the environments and their reasons; otherwise `active`, with any
    environment Flux has not finished within `SLIPWAY_READY_TIMEOUT` left `reconciling`.
    """
    project = load_project(app, project_id)
    settled = settled_status(app, project_id)
    if settled is not None:  # a re-run after a crash that followed the final event
        return settled
    healthy = [env for env, error in applied.items() if error is None]
    report(
        app,
        project_id,
        Step.FINALIZE,
        0.0,
        t("waiting for Flux to reconcile {names}", names=", ".join(healthy))
        if healthy
        else t("waiting for Flux to reconcile nothing"),
    )
    problems = {env: error for env, error in applied.items() if error is not None}
    with app.session() as session:
        environments = {
            e.name: e.id for e in store.list_environments(session, project_id=project_id)
        }
    done = 0
    still_reconciling: list[str] = []
    lock = threading.Lock()  # environments settle in threads of their own

    def on_settled(env: str, settled: SettledEnvironment) -> None:
        nonlocal done
        with lock:
            done += 1
            _record_settled(app, project, environments[env], settled)
            why = settled.not_ready
            if settled.status is ResourceStatus.FAILED:
                problems[env] = why or "failed"
                message, level = t("{env}: not Ready: {why}", env=env, why=why), EventLevel.WARNING
            elif why:  # still working when time ran out: not a failure, the sync follows it
                still_reconciling.append(env)
                message = t("{env}: still reconciling: {why}", env=env, why=why)
                level = EventLevel.INFO
            else:
                message = (
                    t("{env}: Ready at {revision}", env=env, revision=settled.revision)
                    if settled.revision
                    else t("{env}: Ready at unknown", env=env)
                )
                level = EventLevel.INFO
            report(app, project_id, Step.FINALIZE, done / (len(healthy) + 1), message, level=level)

    revision = None
    if project.adopt and not is_repair(project):  # Ready at the other's commit is not yet
        with app.session() as session:
            repository = store.get_repository(session, project_id=project_id)
        revision = repository.initial_commit_sha if repository else None
    if healthy:
        app.loop.run(lambda loop: _wait_all(loop, app, project, healthy, on_settled, revision))
    ready = len(healthy) - len(still_reconciling) - sum(env in problems for env in healthy)
    return _conclude(app, project, problems, ready=ready, reconciling=still_reconciling)


def _record_settled(app: App, project: Project, env_id: int, settled: SettledEnvironment) -> None:
    with app.session() as session:
        for status in settled.objects:
            record_status(session, project.id, env_id, status)
        store.set_environment_status(session, environment_id=env_id, status=settled.status)


def _conclude(
    app: App, project: Project, problems: dict[str, str], *, ready: int, reconciling: list[str]
) -> str:
    """The project's final status, recorded, and its final progress event. Environments Flux
    is still reconciling when time runs out leave the project active: the status sync
    records when they turn Ready (or fail)."""
    with app.session() as session:
        if problems:
            summary = join(
                " | ", [t("{env}: {why}", env=env, why=why) for env, why in problems.items()]
            )
            store.set_project_status(
                session,
                project_id=project.id,
                status=ProjectStatus.DEGRADED,
                failed_step=Step.FINALIZE.value,
                error_message=summary,
            )
        else:
            store.set_project_status(session, project_id=project.id, status=ProjectStatus.ACTIVE)
    if problems:
        report(
            app,
            project.id,
            Step.FINALIZE,
            1.0,
            t(
                "project {name} is degraded: {problems_count} of {environments} not Ready",
                name=project.name,
                problems_count=len(problems),
                environments=_environments(len(project.environments)),
            ),
            level=EventLevel.WARNING,
            final="degraded",
        )
        return ProjectStatus.DEGRADED.value
    report(
        app,
        project.id,
        Step.FINALIZE,
        1.0,
        t(
            "project {name} is active: {environments} Ready, {reconciling} still reconciling",
            name=project.name,
            environments=_environments(ready),
            reconciling=", ".join(reconciling),
        )
        if reconciling
        else t(
            "project {name} is active: {environments} Ready",
            name=project.name,
            environments=_environments(ready),
        ),
        final="completed",
    )
    return ProjectStatus.ACTIVE.value


def _environments(count: int) -> Text:
    if count == 1:
        return t("{count} environment", count=count)
    return t("{count} environments", count=count)


def settled_status(app: App, project_id: int) -> str | None:
    """The project's status if the current run's final event is already recorded, else None."""
    with app.session() as session:
        latest = store.latest_event(session, project_id=project_id)
        project = store.get_project_by_id(session, project_id=project_id)
        if latest is None or latest.final is None or project is None:
            return None
        return project.status.value if latest.run == project.run else None


async def _wait_all(
    loop: ProcessLoop,
    app: App,
    project: Project,
    envs: list[str],
    on_settled: Callable[[str, SettledEnvironment], None],
    revision: str | None,
) -> None:
    """Waits for every environment at once, on the cluster client's shared status watch;
    `on_settled` hears of each as soon as it settles."""
    timeout = app.settings.ready_timeout

    async def wait(env: str) -> None:
        names = ResourceNames(project.slug, env)
        settled = await settle_environment(loop.cluster, names, timeout, revision=revision)
        # Recording is a few database writes: off the loop, which serves every project.
        await asyncio.to_thread(on_settled, env, settled)

    await asyncio.gather(*(wait(env) for env in envs))


def record_status(
    session: Session, project_id: int, environment_id: int, status: ObjectStatus
) -> None:
    """Writes what the cluster said about one Flux object into its row."""
    store.upsert_gitops_resource(
        session,
        project_id=project_id,
        environment_id=environment_id,
        type=status.ref.kind,
        name=status.ref.name,
        namespace=status.ref.namespace,
        api_version=kind_info(status.ref.kind).api_version,
        status=status.status,
        error_message=status.message if status.status is ResourceStatus.FAILED else None,
        ready_reason=status.ready.reason if status.ready else None,
        ready_message=status.message or None,
        last_applied_revision=status.revision,
        observed_generation=status.observed_generation,
        last_synced_at=datetime.now(UTC),
    )
