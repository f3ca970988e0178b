"""Queries for projects, their environments and their repository. Keyword-only, one session
in, ORM rows out; the caller's unit of work decides when to commit."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from slipway.domain.errors import Conflict, NotFound
from slipway.domain.model import ForgeKind, GitAuthMethod, ProjectStatus, ResourceStatus, Step
from slipway.domain.names import ResourceNames
from slipway.domain.text import join, t
from slipway.store._checks import as_enum, violation
from slipway.store.crypto import TokenCipher
from slipway.store.events import append_event, message_template
from slipway.store.models import Environment, Project, Repository

ParameterValue = str | int | bool

_SYSTEM = "database"


def create_project(
    session: Session,
    *,
    name: str,
    slug: str,
    template: str,
    environments: Sequence[str],
    forge: ForgeKind | str,
    owner: str | None = None,
    private: bool = True,
    parameters: Mapping[str, ParameterValue] | None = None,
    secret_parameters: Mapping[str, ParameterValue] | None = None,
    cipher: TokenCipher | None = None,
    status: ProjectStatus | str = ProjectStatus.PENDING,
    workflow_id: str | None = None,
    forge_connection_id: int | None = None,
    git_auth: GitAuthMethod | str = GitAuthMethod.SSH,
    adopt: bool = False,
) -> Project:
    """Records a new project (the fields of a `ProjectSpec`) with its environments, each
    holding its namespace. `secret_parameters` are stored only encrypted with `cipher`.

    Raises Conflict when the name or slug is taken or a namespace is another project's,
    including when another process records it at the same moment: exactly one of them wins.
    """
    namespaces = {env: ResourceNames(slug, env).namespace for env in environments}
    _refuse_taken_namespaces(session, namespaces, project=name)
    encrypted = None
    if secret_parameters:
        if cipher is None:
            raise ValueError("secret parameters need a cipher")
        encrypted = cipher.encrypt(SecretStr(json.dumps(dict(secret_parameters))))
    project = Project(
        name=name,
        slug=slug,
        status=as_enum(ProjectStatus, status, field="status"),
        template=template,
        environments=list(environments),
        forge=as_enum(ForgeKind, forge, field="forge"),
        owner=owner,
        private=private,
        parameters=dict(parameters or {}),
        encrypted_parameters=encrypted,
        workflow_id=workflow_id,
        forge_connection_id=forge_connection_id,
        git_auth=as_enum(GitAuthMethod, git_auth, field="git_auth"),
        adopt=adopt,
    )
    try:
        with session.begin_nested():
            session.add(project)
            session.flush()
            for position, (env, namespace) in enumerate(namespaces.items()):
                session.add(
                    Environment(
                        project_id=project.id,
                        name=env,
                        namespace=namespace,
                        position=position,
                        status=ResourceStatus.PENDING,
                    )
                )
            session.flush()
    except IntegrityError as exc:
        if violation(exc) != "unique":
            raise
        if get_project(session, name=name) is None:
            _refuse_taken_namespaces(session, namespaces, project=name)  # lost a race
        raise Conflict(
            t("a project named '{name}' already exists", name=name),
            step="create_project",
            system=_SYSTEM,
            hint=t("choose another name, or see it with `slipway project show {name}`", name=name),
        ) from None
    return project


def namespace_conflict(
    session: Session, *, namespaces: Iterable[str], project: str
) -> Conflict | None:
    """The Conflict naming every one of `namespaces` another project already holds, with its
    environment and project (`project` itself aside: a taken project name has its own
    message); None when all are free. `create_project` raises it before inserting, preflight
    reports it before anything is created."""
    taken = session.execute(
        sa.select(Environment.namespace, Environment.name, Project.name)
        .join(Project, Project.id == Environment.project_id)
        .where(Environment.namespace.in_(list(namespaces)), Project.name != project)
        .order_by(Environment.namespace)
    ).all()
    if not taken:
        return None
    return Conflict(
        join(
            "; ",
            [
                t(
                    "namespace {namespace} is already environment '{env}' of project '{other}'",
                    namespace=namespace,
                    env=env,
                    other=other,
                )
                for namespace, env, other in taken
            ],
        ),
        step="create_project",
        system=_SYSTEM,
        hint=t(
            "choose another project name or environment name: project "
            "and environment names compose into the namespace "
            "project-<name>-<environment>"
        ),
    )


def _refuse_taken_namespaces(
    session: Session, namespaces: Mapping[str, str], *, project: str
) -> None:
    conflict = namespace_conflict(session, namespaces=namespaces.values(), project=project)
    if conflict is not None:
        raise conflict


def project_parameters(project: Project, cipher: TokenCipher) -> dict[str, ParameterValue]:
    """Every template parameter of the project, the secret ones decrypted (for rendering)."""
    values: dict[str, ParameterValue] = dict(project.parameters)
    if project.encrypted_parameters:
        values.update(json.loads(cipher.decrypt(project.encrypted_parameters).get_secret_value()))
    return values


def get_project(session: Session, *, name: str) -> Project | None:
    return session.scalars(sa.select(Project).where(Project.name == name)).one_or_none()


def get_project_by_id(session: Session, *, project_id: int) -> Project | None:
    return session.get(Project, project_id)


def require_project(session: Session, *, name: str) -> Project:
    """Like `get_project`, but a missing project is a NotFound the user can act on."""
    project = get_project(session, name=name)
    if project is None:
        raise project_not_found(name)
    return project


def project_not_found(name: str) -> NotFound:
    """The error for no project by that name; also what another user's project answers."""
    return NotFound(
        t("no project named '{name}'", name=name),
        system=_SYSTEM,
        hint=t("list projects with `slipway project list`"),
    )


def list_projects(session: Session, *, status: ProjectStatus | str | None = None) -> list[Project]:
    """Every project, by name; only those in `status` when given."""
    query = sa.select(Project).order_by(Project.name)
    if status is not None:
        query = query.where(Project.status == as_enum(ProjectStatus, status, field="status"))
    return list(session.scalars(query))


def set_project_status(
    session: Session,
    *,
    project_id: int,
    status: ProjectStatus | str,
    failed_step: str | None = None,
    error_message: str | None = None,
) -> Project:
    """Moves a project to `status`; the failure fields are replaced too (None clears them)."""
    project = _require_by_id(session, project_id)
    project.status = as_enum(ProjectStatus, status, field="status")
    project.failed_step = failed_step
    project.error_message = None if error_message is None else str(error_message)
    project.error_template, project.error_params = message_template(error_message)
    session.flush()
    return project


def set_project_workflow(session: Session, *, project_id: int, workflow_id: str) -> Project:
    """Remembers which durable workflow initializes the project."""
    project = _require_by_id(session, project_id)
    project.workflow_id = workflow_id
    session.flush()
    return project


def start_run(
    session: Session,
    *,
    project_id: int,
    status: ProjectStatus | str,
    workflow_id: str,
    queued: tuple[Step | str, str] | None = None,
) -> int:
    """Starts the project's next run (a repair, a key rotation or a delete) in `status`,
    driven by `workflow_id`; returns its number. Its events climb from 0 % again, from the
    `queued` (step, message) event when one is given."""
    project = _require_by_id(session, project_id)
    project.run += 1
    project.status = as_enum(ProjectStatus, status, field="status")
    project.failed_step = None
    project.error_message = project.error_template = project.error_params = None
    project.workflow_id = workflow_id
    session.flush()
    if queued is not None:
        step, message = queued
        append_event(session, project_id=project_id, step=step, percent=0, message=message)
    return project.run


def delete_project(session: Session, *, name: str) -> bool:
    """Deletes the project and, by cascade, everything recorded under it. False if absent."""
    project = get_project(session, name=name)
    if project is None:
        return False
    session.delete(project)
    session.flush()
    return True


def upsert_environment(
    session: Session,
    *,
    project_id: int,
    name: str,
    namespace: str,
    position: int,
    status: ResourceStatus | str = ResourceStatus.PENDING,
) -> Environment:
    """Inserts or updates the environment `name` of a project; safe to repeat."""
    checked = as_enum(ResourceStatus, status, field="status")
    environment = get_environment(session, project_id=project_id, name=name)
    if environment is None:
        environment = Environment(project_id=project_id, name=name)
        try:
            with session.begin_nested():
                environment.namespace, environment.position = namespace, position
                environment.status = checked
                session.add(environment)
            return environment
        except IntegrityError as exc:
            _not_found_if_fk(exc, project_id)
            environment = get_environment(session, project_id=project_id, name=name)
            if environment is None:
                raise
    environment.namespace, environment.position, environment.status = namespace, position, checked
    session.flush()
    return environment


def get_environment(session: Session, *, project_id: int, name: str) -> Environment | None:
    return session.scalars(
        sa.select(Environment).where(Environment.project_id == project_id, Environment.name == name)
    ).one_or_none()


def list_environments(session: Session, *, project_id: int) -> list[Environment]:
    """A project's environments in their display order."""
    return list(
        session.scalars(
            sa.select(Environment)
            .where(Environment.project_id == project_id)
            .order_by(Environment.position, Environment.name)
        )
    )


def set_environment_status(
    session: Session, *, environment_id: int, status: ResourceStatus | str
) -> Environment:
    environment = session.get(Environment, environment_id)
    if environment is None:
        raise NotFound(
            t("no environment with id {environment_id}", environment_id=environment_id),
            system=_SYSTEM,
        )
    environment.status = as_enum(ResourceStatus, status, field="status")
    session.flush()
    return environment


def record_repository(
    session: Session,
    *,
    project_id: int,
    provider: ForgeKind | str,
    owner: str,
    name: str,
    clone_url: str,
    web_url: str,
    default_branch: str,
    initial_commit_sha: str | None = None,
    ssh_url: str | None = None,
) -> Repository:
    """Records the project's repository; repeating it (a resumed step) updates the same row."""
    values = {
        "provider": as_enum(ForgeKind, provider, field="provider"),
        "owner": owner,
        "name": name,
        "clone_url": clone_url,
        "ssh_url": ssh_url,
        "web_url": web_url,
        "default_branch": default_branch,
        "initial_commit_sha": initial_commit_sha,
    }
    repository = get_repository(session, project_id=project_id)
    if repository is None:
        try:
            with session.begin_nested():
                repository = Repository(project_id=project_id, **values)
                session.add(repository)
            return repository
        except IntegrityError as exc:
            _not_found_if_fk(exc, project_id)
            repository = get_repository(session, project_id=project_id)
            if repository is None:
                raise
    for key, value in values.items():
        setattr(repository, key, value)
    session.flush()
    return repository


def get_repository(session: Session, *, project_id: int) -> Repository | None:
    return session.scalars(
        sa.select(Repository).where(Repository.project_id == project_id)
    ).one_or_none()


def _require_by_id(session: Session, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(t("no project with id {project_id}", project_id=project_id), system=_SYSTEM)
    return project


def _not_found_if_fk(exc: IntegrityError, project_id: int) -> None:
    if violation(exc) == "foreign_key":
        raise NotFound(
            t("no project with id {project_id}", project_id=project_id),
            system=_SYSTEM,
            hint=t("it may have been deleted"),
        ) from None
