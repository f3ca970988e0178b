"""The initialization steps, as plain functions of (app, project id).

Each is idempotent: it reads what it needs from the database, does its work through the
adapters (which reuse what exists), and records the result with upserts, so running it twice,
or again after a crash, yields the same end state. Step outputs hold no secrets: tokens are
loaded and decrypted inside the step that uses them. Network work runs on the process's one
event loop (`app.loop`), over the clients kept there.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from slipway import store
from slipway.bootstrap import App, ProcessLoop
from slipway.domain.errors import Conflict, NotFound
from slipway.domain.model import (
    ForgeKind,
    ProjectStatus,
    ResourceStatus,
    Step,
)
from slipway.domain.names import ResourceNames
from slipway.domain.text import t
from slipway.forges import Commit, Repository
from slipway.gitops import EnvironmentSpec, GitCredentials
from slipway.pipeline.progress import report
from slipway.store.models import Project
from slipway.store.models import Repository as RepositoryRow
from slipway.templates import RenderedTemplate, render_template


def load_project(app: App, project_id: int) -> Project:
    with app.session() as session:
        project = store.get_project_by_id(session, project_id=project_id)
    if project is None:
        raise NotFound(
            t("project {project_id} no longer exists", project_id=project_id), system="database"
        )
    return project


class _RenderedCache:
    """The templates this process rendered, by project, so a project renders once: the load
    step renders, the push step takes the result. Bounded; after a crash or in another
    process the push step renders again, which gives the same files (rendering is
    deterministic)."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[int, RenderedTemplate] = OrderedDict()

    def put(self, project_id: int, rendered: RenderedTemplate) -> None:
        with self._lock:
            self._entries[project_id] = rendered
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def take(self, project_id: int) -> RenderedTemplate | None:
        with self._lock:
            return self._entries.pop(project_id, None)


_rendered = _RenderedCache()


def render(app: App, project: Project) -> RenderedTemplate:
    """Renders the project's template (deterministic: the same files every time)."""
    info = app.catalog.get(project.template)
    return render_template(
        info,
        project=project.slug,
        environments=project.environments,
        parameters=store.project_parameters(project, app.cipher),
    )


# -- create project 0-10 ---------------------------------------------------------------------


def start(app: App, project_id: int) -> None:
    with app.session() as session:
        project = store.get_project_by_id(session, project_id=project_id)
        if project is None:
            raise NotFound(
                t("project {project_id} no longer exists", project_id=project_id), system="database"
            )
        if project.status is ProjectStatus.PENDING:
            store.set_project_status(
                session, project_id=project_id, status=ProjectStatus.INITIALIZING
            )
    said = (
        t(
            "repairing project {name} (run {run}): what exists is kept, "
            "what is missing or failed is done again",
            name=project.name,
            run=project.run,
        )
        if is_repair(project)
        else t("project {name} recorded", name=project.name)
    )
    report(app, project_id, Step.CREATE_PROJECT, 1.0, said)


def is_repair(project: Project) -> bool:
    """Run 1 creates the project; a later run of the same steps repairs it."""
    return project.run > 1


# -- load template 10-20 ---------------------------------------------------------------------


def load_template(app: App, project_id: int) -> dict[str, Any]:
    project = load_project(app, project_id)
    report(
        app,
        project_id,
        Step.LOAD_TEMPLATE,
        0.0,
        t("rendering template {template}", template=project.template),
    )
    rendered = render(app, project)
    _rendered.put(project_id, rendered)
    report(
        app,
        project_id,
        Step.LOAD_TEMPLATE,
        1.0,
        t(
            "template {template} rendered: {files_count} files",
            template=project.template,
            files_count=len(rendered.files),
        ),
    )
    return {"files": len(rendered.files), "digest": rendered.digest}


# -- create environments 20-30 ---------------------------------------------------------------


def create_environments(app: App, project_id: int) -> list[str]:
    project = load_project(app, project_id)
    with app.session() as session:
        for position, env in enumerate(project.environments):
            existing = store.get_environment(session, project_id=project_id, name=env)
            store.upsert_environment(
                session,
                project_id=project_id,
                name=env,
                namespace=ResourceNames(project.slug, env).namespace,
                position=position,
                status=existing.status if existing else ResourceStatus.PENDING,
            )
    names = ", ".join(project.environments)
    report(
        app,
        project_id,
        Step.CREATE_ENVIRONMENTS,
        1.0,
        t("environments recorded: {names}", names=names),
    )
    return list(project.environments)


# -- create repository 30-40 -----------------------------------------------------------------


def create_repository(app: App, project_id: int) -> dict[str, Any]:
    project = load_project(app, project_id)
    where = f"{project.owner}/{project.slug}" if project.owner else project.slug
    report(
        app,
        project_id,
        Step.CREATE_REPOSITORY,
        0.0,
        t("creating repository {where} on {forge}", where=where, forge=project.forge.value),
    )

    installation = app.installation

    async def run(loop: ProcessLoop) -> Repository:
        forge = await loop.forge(
            project.forge,
            connection_id=project.forge_connection_id,
            step=Step.CREATE_REPOSITORY.value,
        )
        return await forge.ensure_repository(
            owner=project.owner,
            name=project.slug,
            project=project.name,
            private=project.private,
            description=f"{project.name}: created by Slipway from template {project.template}",
            installation=installation,
            adopt=project.adopt,
        )

    repo = app.loop.run(run)
    report(
        app,
        project_id,
        Step.CREATE_REPOSITORY,
        1.0,
        t("repository ready: {web_url}", web_url=repo.web_url),
    )
    return asdict(repo)


# -- push template 40-60 ---------------------------------------------------------------------


def push_template(
    app: App,
    project_id: int,
    repo: dict[str, Any],
    *,
    beside: Callable[[ProcessLoop], Awaitable[None]] | None = None,
) -> dict[str, str]:
    """The first commit; `beside`: other work that needs only the repository (the deploy
    key's grant), run at the same time so it adds no round trip."""
    project = load_project(app, project_id)
    rendered = _rendered.take(project_id) or render(app, project)
    repository = repository_from(repo)
    report(
        app,
        project_id,
        Step.PUSH_TEMPLATE,
        0.0,
        t(
            "pushing {files_count} files to {full_name} in one commit",
            files_count=len(rendered.files),
            full_name=repository.full_name,
        ),
    )

    async def run(loop: ProcessLoop) -> dict[str, str]:
        forge = await loop.forge(
            project.forge,
            connection_id=project.forge_connection_id,
            step=Step.PUSH_TEMPLATE.value,
        )
        # The commit's date is the project's creation time: fixed before the first attempt
        # and stored, so every attempt builds the same commit (same sha) and a re-run finds
        # it already pushed.
        pushing = _push_kept_by_repair(
            forge.push_files(
                repository,
                rendered.files,
                message=f"Initial commit from Slipway template {project.template}",
                project=project.name,
                committed_at=project.created_at,
                # A repair keeps the branch whatever it holds now: the team's commits since.
                adopt=project.adopt or is_repair(project),
            ),
            project.name,
            repository,
        )
        if beside is None:
            commit = await pushing
        else:
            commit, _ = await asyncio.gather(pushing, beside(loop))
        return {
            "sha": commit.sha,
            "tree_sha": commit.tree_sha,
            "kept": "yes" if commit.kept else "",
        }

    commit = app.loop.run(run)
    done = (
        t(
            "kept the branch as it is at {sha}: it holds commits Slipway "
            "did not write (--adopt), so the template was not pushed",
            sha=commit["sha"][:12],
        )
        if commit.get("kept") and not is_repair(project)
        else t("the branch holds commits ({sha}): kept as it is", sha=commit["sha"][:12])
        if commit.get("kept")
        else t("pushed commit {sha}", sha=commit["sha"][:12])
    )
    report(app, project_id, Step.PUSH_TEMPLATE, 1.0, done)
    return commit


async def _push_kept_by_repair(pushing: Awaitable[Commit], name: str, repo: Repository) -> Commit:
    """The push; refused for commits Slipway did not write (the team pushed after the
    preflight looked), it says what reaches a recorded project: create's --adopt does not,
    its repair keeps the branch."""
    try:
        return await pushing
    except Conflict as exc:
        exc.hint = t(
            "`slipway project repair {name}` keeps the branch {branch} as it is, or push "
            "the template to {full_name} yourself",
            name=name,
            branch=repo.default_branch,
            full_name=repo.full_name,
        )
        raise


def environment_specs(
    project: Project, installation: str, url: str, branch: str, credentials: GitCredentials
) -> list[EnvironmentSpec]:
    """Every environment of the project as the cluster gets it, Flux reading `url` at
    `branch` with `credentials` (creation, repair and key rotation build them alike)."""
    return [
        EnvironmentSpec(
            project=project.slug,
            environment=env,
            installation=installation,
            repository_url=url,
            branch=branch,
            credentials=credentials,
        )
        for env in project.environments
    ]


def recorded_repository(project: Project, row: RepositoryRow) -> Repository:
    """The forge's `Repository` back from its database row (key rotation and deletion)."""
    return Repository(
        provider=row.provider,
        owner=row.owner,
        name=row.name,
        clone_url=row.clone_url,
        web_url=row.web_url,
        default_branch=row.default_branch,
        private=project.private,
        description="",
        project=project.name,
        ssh_url=row.ssh_url or "",
    )


def repository_from(data: dict[str, Any]) -> Repository:
    """The forge's `Repository` back from its step result (a plain dict)."""
    values = dict(data)
    values["provider"] = ForgeKind(values["provider"])
    values["topics"] = tuple(values.get("topics") or ())
    return Repository(**values)


# -- record repository 60-70 -----------------------------------------------------------------


def record_repository(
    app: App, project_id: int, repo: dict[str, Any], commit: dict[str, str]
) -> None:
    repository = repository_from(repo)
    with app.session() as session:
        recorded = store.get_repository(session, project_id=project_id)
        first = commit["sha"]
        if commit.get("kept") and recorded is not None and recorded.initial_commit_sha:
            first = recorded.initial_commit_sha  # a repair found later commits: still the first
        store.record_repository(
            session,
            project_id=project_id,
            provider=repository.provider,
            owner=repository.owner,
            name=repository.name,
            clone_url=repository.clone_url,
            ssh_url=repository.ssh_url or None,
            web_url=repository.web_url,
            default_branch=repository.default_branch,
            initial_commit_sha=first,
        )
    report(app, project_id, Step.RECORD_REPOSITORY, 1.0, t("repository recorded"))
