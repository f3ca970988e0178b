"""Creating a project: validate everything checkable before anything is created anywhere,
record it, hand it to the durable workflow; or show what it would do (`--dry-run`)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import SecretStr

from slipway import store
from slipway.bootstrap import App
from slipway.domain.actors import OPERATOR, Actor
from slipway.domain.errors import (
    CheckResult,
    Conflict,
    ExternalError,
    ForgeNotConnected,
    InputChecks,
    InvalidInput,
    failed_checks,
)
from slipway.domain.model import ForgeKind, GitAuthMethod, ProjectSpec, Step
from slipway.domain.names import project_slug, validate_environments, validate_owner
from slipway.domain.text import t
from slipway.forges import forge_info
from slipway.gitops import BasicAuth, EnvironmentSpec, SSHAuth, environment_objects, render_yaml
from slipway.pipeline.runtime import Worker
from slipway.service.forges import (
    ForgeIdentity,
    connection_identity,
    forge_identity,
    open_forge,
)
from slipway.service.preflight import preflight, raise_for_problems
from slipway.service.reading import show_project
from slipway.service.views import DryRun, ProjectView
from slipway.service.workers import submit
from slipway.templates import TemplateInfo, render_template, validate_parameters


@dataclass(frozen=True)
class CreateRequest:
    name: str
    template: str
    environments: Sequence[str] = ()
    parameters: Mapping[str, str | int | bool] = field(default_factory=dict)
    forge: ForgeKind | None = None
    owner: str | None = None
    private: bool = True
    git_auth: GitAuthMethod = GitAuthMethod.SSH
    adopt: bool = False
    # The stored forge connection (its id) the project acts as; None: the newest of the
    # actor's own at the configured URL (the operator: or the configured token).
    connection: int | None = None


async def plan_project(
    app: App, request: CreateRequest, *, offline: bool = False, actor: Actor = OPERATOR
) -> ProjectSpec:
    """Validates everything that can be checked before anything is created anywhere.

    `offline` (dry runs only) plans without a forge connection: the owner is then not checked
    and the image is named after the owner or not at all."""
    spec, _ = await _plan(app, request, offline=offline, actor=actor)
    return spec


async def _plan(
    app: App, request: CreateRequest, *, offline: bool = False, actor: Actor = OPERATOR
) -> tuple[ProjectSpec, ForgeIdentity | None]:
    """The validated spec, and the forge account the project's runs will act as: the
    connection the request names, else `actor`'s own newest (the operator: the configured
    one). A named connection sets the forge and the server the project lives on."""
    checks = InputChecks()
    envs = app.settings.environments  # checked when the settings were read
    with checks.check():
        envs = validate_environments(request.environments or envs)
    slug = request.name
    with checks.check():
        slug = project_slug(request.name, envs)
    info = None
    with checks.check():
        info = _template(app, request.template)
    if info is not None:
        # Only to name the parameters' broken rules with the rest: the values are taken below,
        # once the image's owner is known.
        with checks.check():
            validate_parameters(info, request.parameters)
    chosen = None
    with checks.check():
        if request.connection is not None:
            chosen = await asyncio.to_thread(
                connection_identity, app, request.connection, actor=actor
            )
    with checks.check():
        if chosen is not None and request.forge is not None and request.forge is not chosen[0]:
            raise InvalidInput(
                "connection",
                t(
                    "is a {kind} connection, not {forge}",
                    kind=chosen[0].value,
                    forge=request.forge.value,
                ),
                hint=t("leave the forge out: the connection sets it"),
            )
    forge = chosen[0] if chosen is not None else request.forge or app.settings.forge
    owner = request.owner or app.settings.forge_owner
    with checks.check():
        if request.owner == "":
            raise InvalidInput(
                "owner",
                t("must not be empty"),
                hint=t("leave it out to use the token's own account"),
            )
        if owner is not None:
            validate_owner(owner, nested=forge_info(forge).nested_owners)
    checks.refuse()
    assert info is not None  # refused above otherwise
    if offline:
        identity = None
    elif chosen is not None:
        identity = chosen[1]
    else:
        identity = await asyncio.to_thread(forge_identity, app, forge, actor=actor)
    if owner is not None and identity is not None:
        # An owner that does not exist, or where the token's account may not create
        # repositories, is bad input: refuse it here, before anything is recorded or created.
        async with open_forge(app, forge, identity, step=Step.CREATE_PROJECT.value) as client:
            owner = await client.check_owner(owner)
    parameters = dict(request.parameters)
    image_owner = owner or (identity.account if identity else None)
    if info.parameter("image") and "image" not in parameters and image_owner:
        registry = forge_info(forge).image_host
        parameters["image"] = f"{registry}/{image_owner.lower()}/{slug}"
    values = validate_parameters(info, parameters, project=slug)
    spec = ProjectSpec(
        name=request.name,
        slug=slug,
        template=info.name,
        environments=envs,
        forge=forge,
        owner=owner,
        private=request.private,
        parameters=values,
        secret_parameters=frozenset(p.name for p in info.parameters if p.secret),
        git_auth=request.git_auth,
        adopt=request.adopt,
    )
    return spec, identity


def _template(app: App, name: str) -> TemplateInfo:
    if not name:
        raise InvalidInput(
            "template", t("must not be empty"), hint=t("leave it out to use the default template")
        )
    if name not in app.catalog:
        # A request naming a template that is not there is bad input (exit 2, HTTP 422), not a
        # lookup of a missing resource.
        available = ", ".join(app.catalog.names()) or "none"
        raise InvalidInput(
            "template",
            t("'{template}' is not a known template", template=name),
            hint=t(
                "available templates: {available}; add your own with SLIPWAY_TEMPLATES_PATH",
                available=available,
            ),
        )
    return app.catalog.get(name)


async def create_project(
    app: App, request: CreateRequest, *, worker: Worker | None = None, actor: Actor = OPERATOR
) -> ProjectView:
    """Records the project and hands it to the durable workflow: to `worker` when this
    process runs one, else to any worker sharing the database.

    Bad input, a taken name, a missing forge connection or a failed preflight (the token and
    its scopes, the repository name, the cluster and Flux, the namespaces) raise before
    anything is recorded or created. If the hand-off fails, the record is removed again, so
    a retry starts clean. The project is `actor`'s and acts as `actor`'s forge connection.
    """
    spec, identity = await _plan(app, request, actor=actor)
    if identity is None:  # only a dry run plans offline
        raise ForgeNotConnected(spec.forge.value, app.forge_url(spec.forge))
    await asyncio.to_thread(_check_name_free, app, spec.name)
    raise_for_problems(await preflight(app, spec.forge, identity, spec, adopt=spec.adopt))
    connection_id = identity.connection_id
    project_id = await asyncio.to_thread(
        record_project, app, spec, connection_id=connection_id, actor=actor
    )
    try:
        workflow_id = await asyncio.to_thread(submit, app, project_id, worker)
    except Exception as exc:
        with app.session() as session:
            store.delete_project(session, name=spec.name)
        raise ExternalError(
            t("could not queue the initialization workflow ({name})", name=type(exc).__name__),
            step=Step.CREATE_PROJECT.value,
            system="workflow database",
            hint=t("check SLIPWAY_DATABASE_URL and that the data directory is writable"),
        ) from None
    return await asyncio.to_thread(_queued, app, spec.name, project_id, workflow_id, actor)


def _check_name_free(app: App, name: str) -> None:
    with app.session() as session:
        if store.get_project(session, name=name) is not None:
            raise _name_taken(name)


def _queued(app: App, name: str, project_id: int, workflow_id: str, actor: Actor) -> ProjectView:
    with app.session() as session:
        store.set_project_workflow(session, project_id=project_id, workflow_id=workflow_id)
    return show_project(app, name, actor=actor)


def _name_taken(name: str) -> Conflict:
    return Conflict(
        t("a project named '{name}' already exists", name=name),
        step=Step.CREATE_PROJECT.value,
        system="database",
        hint=t("choose another name, or see it with `slipway project show {name}`", name=name),
    )


def record_project(
    app: App, spec: ProjectSpec, *, connection_id: int | None, actor: Actor = OPERATOR
) -> int:
    """The project row (acting as forge connection `connection_id`; None: the configured
    token; owned by `actor`'s user) and its first (0 %) event, in one transaction; Conflict
    if taken."""
    public = {k: v for k, v in spec.parameters.items() if k not in spec.secret_parameters}
    secret = {k: v for k, v in spec.parameters.items() if k in spec.secret_parameters}
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
            parameters=public,
            secret_parameters=secret,
            cipher=app.cipher,
            forge_connection_id=connection_id,
            git_auth=spec.git_auth,
            adopt=spec.adopt,
        )
        project.user_id = actor.user_id
        store.append_event(
            session,
            project_id=project.id,
            step=Step.CREATE_PROJECT,
            percent=0,
            message=t(
                "project {name} queued (template {template})",
                name=spec.name,
                template=spec.template,
            ),
        )
        return project.id


async def dry_run(app: App, request: CreateRequest, *, actor: Actor = OPERATOR) -> DryRun:
    """What `create` would push and apply, with secrets redacted, and every problem the same
    preflight as `create` finds (a name taken, a namespace in use, a token refused, the
    cluster not ready); creates nothing. Without a forge connection it still renders, and
    reports that as a problem."""
    problems: list[CheckResult] = []
    try:
        spec, identity = await _plan(app, request, actor=actor)
    except ForgeNotConnected as exc:
        spec, identity = (await _plan(app, request, offline=True, actor=actor))[0], None
        problems.append(CheckResult(f"forge {spec.forge.value}", False, exc.message, exc.hint))
    if identity is not None:
        checks = await preflight(app, spec.forge, identity, spec, adopt=spec.adopt)
        problems.extend(failed_checks(checks))
    with app.session() as session:
        if store.get_project(session, name=spec.name) is not None:
            taken = _name_taken(spec.name)
            problems.append(
                CheckResult("project name", False, taken.message, taken.hint, conflict=True)
            )
    info = app.catalog.get(spec.template)
    rendered = render_template(
        info, project=spec.slug, environments=spec.environments, parameters=spec.parameters
    )
    credentials = (
        SSHAuth(
            identity=SecretStr("-----BEGIN OPENSSH PRIVATE KEY-----redacted"),
            known_hosts="<forge host keys>",
            identity_pub="ssh-ed25519 <read-only deploy key>",
        )
        if spec.git_auth is GitAuthMethod.SSH
        else BasicAuth(username="git", password=SecretStr("redacted"))
    )
    where = f"{spec.owner or '<account>'}/{spec.slug}.git"
    url = (
        f"ssh://git@<{spec.forge.value}>/{where}"
        if spec.git_auth is GitAuthMethod.SSH
        else f"https://<{spec.forge.value}>/{where}"
    )
    objects = [
        obj
        for env in spec.environments
        for obj in environment_objects(
            EnvironmentSpec(
                project=spec.slug,
                environment=env,
                installation=app.installation,
                repository_url=url,
                credentials=credentials,
            )
        )
    ]
    return DryRun(
        spec=spec, files=sorted(rendered.files), manifests=render_yaml(objects), problems=problems
    )
