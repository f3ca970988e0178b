"""Use cases that the CLI, the REST API and the web UI all call. They never print and never
raise HTTP errors: they return plain views or raise `SlipwayError`s."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import SecretStr

from slipway import store
from slipway.bootstrap import App
from slipway.domain.errors import (
    CheckResult,
    ExternalError,
    ForgeNotConnected,
    InvalidInput,
    SlipwayError,
)
from slipway.domain.model import EventLevel, ForgeKind, ProgressEvent, ProjectSpec, Step
from slipway.domain.names import project_slug, validate_environments, validate_owner
from slipway.forges import Account, Forge, TokenKind, build_forge
from slipway.gitops import (
    BasicAuth,
    EnvironmentSpec,
    environment_objects,
    render_yaml,
    run_preflight,
)
from slipway.templates import TemplateInfo, render_template, validate_parameters

T = TypeVar("T")

REGISTRIES = {
    ForgeKind.GITHUB: "ghcr.io",
    ForgeKind.GITLAB: "registry.gitlab.com",
}


def _forge_call(make: Callable[[], Forge], call: Callable[[Forge], Awaitable[T]]) -> T:
    """One forge call from synchronous code: the client is made, used and closed in one loop."""

    async def run() -> T:
        forge = make()
        try:
            return await call(forge)
        finally:
            await forge.aclose()

    return asyncio.run(run())


def list_templates(app: App) -> list[TemplateInfo]:
    return app.catalog.list()


# -- create ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateRequest:
    name: str
    template: str
    environments: Sequence[str] = ()
    parameters: Mapping[str, str | int | bool] = field(default_factory=dict)
    forge: ForgeKind | None = None
    owner: str | None = None
    private: bool = True


def plan_project(app: App, request: CreateRequest, *, offline: bool = False) -> ProjectSpec:
    """Validates everything that can be checked before anything is created anywhere.

    `offline` (dry runs only) plans without a forge connection: the owner is then not checked
    and the image is named after the owner or not at all."""
    envs = validate_environments(request.environments or app.settings.environments)
    slug = project_slug(request.name, envs)
    if request.template not in app.catalog:
        # A request naming a template that is not there is bad input (exit 2, HTTP 422), not a
        # lookup of a missing resource.
        available = ", ".join(app.catalog.names()) or "none"
        raise InvalidInput(
            "template",
            f"'{request.template}' is not a known template",
            hint=f"available templates: {available}; add your own with SLIPWAY_TEMPLATES_PATH",
        )
    info = app.catalog.get(request.template)
    forge = request.forge or app.settings.forge
    owner = request.owner or app.settings.forge_owner
    if owner is not None:
        validate_owner(owner, nested=forge is ForgeKind.GITLAB)
    account = None if offline else app.forge_access(forge).account
    if owner is not None and not offline:
        # An owner that does not exist, or where the token's account may not create
        # repositories, is bad input: refuse it here, before anything is recorded or created.
        named = owner
        owner = _forge_call(
            lambda: app.forge(forge, step=Step.CREATE_PROJECT.value),
            lambda client: client.check_owner(named),
        )
    parameters = dict(request.parameters)
    image_owner = owner or account
    if info.parameter("image") and "image" not in parameters and image_owner:
        registry = REGISTRIES.get(forge, "ghcr.io")
        parameters["image"] = f"{registry}/{image_owner.lower()}/{slug}"
    values = validate_parameters(info, parameters, project=slug)
    return ProjectSpec(
        name=request.name,
        slug=slug,
        template=info.name,
        environments=envs,
        forge=forge,
        owner=owner,
        private=request.private,
        parameters=values,
    )


def create_project(
    app: App, request: CreateRequest, *, submit: Callable[[int], str]
) -> ProjectView:
    """Records the project and hands it to the durable workflow (`submit` enqueues it).

    Bad input, a taken name or a missing forge connection raise before anything is created.
    If the hand-off fails, the record is removed again, so a retry starts clean.
    """
    spec = plan_project(app, request)
    project_id = record_project(app, spec)
    try:
        workflow_id = submit(project_id)
    except Exception as exc:
        with app.session() as session:
            store.delete_project(session, name=spec.name)
        raise ExternalError(
            f"could not queue the initialization workflow ({type(exc).__name__})",
            step=Step.CREATE_PROJECT.value,
            system="workflow database",
            hint="check SLIPWAY_DATABASE_URL and that the data directory is writable",
        ) from None
    with app.session() as session:
        store.set_project_workflow(session, project_id=project_id, workflow_id=workflow_id)
    return show_project(app, spec.name)


def record_project(app: App, spec: ProjectSpec) -> int:
    """The project row and its first (0 %) event, in one transaction; Conflict if taken."""
    with app.session() as session:
        project = store.create_project(
            session,
            name=spec.name,
            slug=spec.slug,
            template=spec.template,
            environments=spec.environments,
            forge=spec.forge,
            owner=spec.owner,
            private=spec.private,
            parameters=spec.parameters,
        )
        store.append_event(
            session,
            project_id=project.id,
            step=Step.CREATE_PROJECT,
            percent=0,
            message=f"project {spec.name} queued (template {spec.template})",
        )
        return project.id


def dry_run(app: App, request: CreateRequest) -> DryRun:
    """What `create` would push and apply, with secrets redacted; creates nothing. Without a
    forge connection it still renders, and says what it could not check."""
    try:
        spec, unchecked = plan_project(app, request), None
    except ForgeNotConnected as exc:
        spec = plan_project(app, request, offline=True)
        unchecked = f"{exc.message}: the token and the owner were not checked ({exc.hint})"
    info = app.catalog.get(spec.template)
    rendered = render_template(
        info, project=spec.slug, environments=spec.environments, parameters=spec.parameters
    )
    placeholder = BasicAuth(username="git", password=SecretStr("redacted"))
    url = f"https://<{spec.forge.value}>/{spec.owner or '<account>'}/{spec.slug}.git"
    objects = [
        obj
        for env in spec.environments
        for obj in environment_objects(
            EnvironmentSpec(
                project=spec.slug, environment=env, repository_url=url, credentials=placeholder
            )
        )
    ]
    return DryRun(
        spec=spec,
        files=sorted(rendered.files),
        manifests=render_yaml(objects),
        unchecked=unchecked,
    )


@dataclass(frozen=True)
class DryRun:
    spec: ProjectSpec
    files: list[str]
    manifests: str
    unchecked: str | None = None  # what could not be verified, e.g. no forge connection

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": asdict(self.spec),
            "files": self.files,
            "manifests": self.manifests,
            "unchecked": self.unchecked,
        }


# -- read ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceView:
    environment: str
    kind: str
    name: str
    namespace: str | None
    status: str
    reason: str | None
    message: str | None
    revision: str | None
    updated_at: datetime


@dataclass(frozen=True)
class EnvironmentView:
    name: str
    namespace: str
    status: str


@dataclass(frozen=True)
class ProjectView:
    name: str
    slug: str
    status: str
    template: str
    forge: str
    owner: str | None
    failed_step: str | None
    error_message: str | None
    environments: list[EnvironmentView]
    repository: dict[str, Any] | None
    resources: list[ResourceView]
    progress: int
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def show_project(app: App, name: str) -> ProjectView:
    with app.session() as session:
        project = store.require_project(session, name=name)
        envs = store.list_environments(session, project_id=project.id)
        env_names = {e.id: e.name for e in envs}
        repo = store.get_repository(session, project_id=project.id)
        resources = store.list_gitops_resources(session, project_id=project.id)
        latest = store.latest_event(session, project_id=project.id)
        return ProjectView(
            name=project.name,
            slug=project.slug,
            status=project.status.value,
            template=project.template,
            forge=project.forge.value,
            owner=project.owner,
            failed_step=project.failed_step,
            error_message=project.error_message,
            environments=[EnvironmentView(e.name, e.namespace, e.status.value) for e in envs],
            repository=None
            if repo is None
            else {
                "provider": repo.provider.value,
                "owner": repo.owner,
                "name": repo.name,
                "clone_url": repo.clone_url,
                "web_url": repo.web_url,
                "default_branch": repo.default_branch,
                "initial_commit_sha": repo.initial_commit_sha,
            },
            resources=[
                ResourceView(
                    environment=env_names.get(r.environment_id, "?"),
                    kind=r.type.value,
                    name=r.name,
                    namespace=r.namespace,
                    status=r.status.value,
                    reason=r.ready_reason,
                    message=r.error_message or r.ready_message,
                    revision=r.last_applied_revision,
                    updated_at=r.updated_at,
                )
                for r in resources
            ],
            progress=latest.percent if latest else 0,
            created_at=project.created_at,
            updated_at=project.updated_at,
        )


def list_projects(app: App) -> list[ProjectView]:
    with app.session() as session:
        names = [p.name for p in store.list_projects(session)]
    return [show_project(app, name) for name in names]


def project_events(app: App, name: str, *, after: int = 0) -> list[ProgressEvent]:
    """Events after sequence `after`, oldest first: a late viewer replays from 0."""
    with app.session() as session:
        project = store.require_project(session, name=name)
        rows = store.events_after(session, project_id=project.id, after_sequence=after)
        return [row.to_progress_event(project.name) for row in rows]


# -- forges ----------------------------------------------------------------------------------


_STORED_KIND = {
    TokenKind.PERSONAL: "pat",
    TokenKind.FINE_GRAINED: "pat",
    TokenKind.UNKNOWN: "pat",
    TokenKind.OAUTH: "oauth",
    TokenKind.APP: "app",
}


def connect_forge(app: App, kind: ForgeKind, token: SecretStr, *, url: str | None) -> Account:
    """Validates the token against the forge, then stores it encrypted with its account."""
    if not token.get_secret_value().strip():
        raise InvalidInput("token", "must not be empty", hint="pipe it in: --token-stdin")
    base_url = (url or app.forge_url(kind)).rstrip("/")
    token = SecretStr(token.get_secret_value().strip())

    account = _forge_call(
        lambda: build_forge(kind, base_url=base_url, token=token, step="forge connect"),
        lambda forge: forge.validate_token(),
    )
    with app.session() as session:
        store.save_forge_connection(
            session,
            provider=kind,
            server_url=base_url,
            account_name=account.login,
            token=token,
            cipher=app.cipher,
            token_kind=_STORED_KIND[account.token_kind],
            scopes=account.scopes or (),
        )
    return account


# -- doctor ----------------------------------------------------------------------------------


def doctor(app: App) -> list[CheckResult]:
    """Cluster preflight plus the default forge's token; never raises for a failed check."""

    async def cluster_checks() -> list[CheckResult]:
        try:
            client = app.cluster()
        except SlipwayError as exc:
            return [CheckResult("Kubernetes API", False, exc.message, exc.hint)]
        async with client:
            return await run_preflight(client)

    checks = asyncio.run(cluster_checks())
    checks.append(_forge_check(app, app.settings.forge))
    return checks


def _forge_check(app: App, kind: ForgeKind) -> CheckResult:
    name = f"forge {kind.value}"
    try:
        access = app.forge_access(kind)
        account = _forge_call(
            lambda: build_forge(kind, base_url=access.base_url, token=access.token),
            lambda forge: forge.validate_token(),
        )
    except SlipwayError as exc:
        return CheckResult(name, False, exc.message, exc.hint)
    if account.missing_scopes:
        missing = ", ".join(account.missing_scopes)
        return CheckResult(
            name,
            False,
            f"token of {account.login} lacks scopes: {missing}",
            f"create a token with the {missing} scope(s) and run `slipway forge connect "
            f"{kind.value} --token-stdin`",
        )
    return CheckResult(name, True, f"token valid for {account.login} at {access.base_url}")


__all__ = [
    "CreateRequest",
    "DryRun",
    "EventLevel",
    "ProjectView",
    "connect_forge",
    "create_project",
    "doctor",
    "dry_run",
    "list_projects",
    "list_templates",
    "plan_project",
    "project_events",
    "show_project",
]
