"""What the use cases return: frozen, typed views built from database rows. The CLI prints
them, the API serialises them, the web UI renders them; none of them holds a secret."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from slipway.domain.errors import CheckResult, Conflict, PreflightFailed
from slipway.domain.health import (
    Health,
    ResourceState,
    environment_health,
    project_health,
    resource_message,
)
from slipway.domain.model import ProjectSpec
from slipway.i18n import localize
from slipway.store.models import Environment, GitopsResource, Project, ProjectEvent, Repository


@dataclass(frozen=True)
class RepositoryView:
    provider: str
    owner: str
    name: str
    clone_url: str
    web_url: str
    default_branch: str
    initial_commit_sha: str | None


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
    health: str = Health.PENDING.value
    health_reason: str | None = None
    observed_at: datetime | None = None  # the sync's (or finalize's) latest look at it


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
    repository: RepositoryView | None
    resources: list[ResourceView]
    progress: int
    created_at: datetime
    updated_at: datetime
    health: str = Health.PENDING.value
    health_reason: str | None = None
    observed_at: datetime | None = None
    run: int = 1

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of `--json` and the API."""
        return asdict(self)

    def localized(self, language: str) -> ProjectView:
        """The view with Slipway's own words (its recorded error, the health reasons, the
        sync's message for a missing resource) rendered in `language`, so a face shows them
        as its reader asked; a controller's message stays as it was written."""
        return replace(
            self,
            error_message=localize(self.error_message, language),
            health_reason=localize(self.health_reason, language),
            environments=[
                replace(e, health_reason=localize(e.health_reason, language))
                for e in self.environments
            ],
            resources=[replace(r, message=localize(r.message, language)) for r in self.resources],
        )


@dataclass(frozen=True)
class RunStarted:
    """A project's next run (a repair or a key rotation) queued or started in this process:
    its number, and the last event before it, after which a follower sees only this run."""

    project: str
    run: int
    workflow_id: str
    after_sequence: int

    def to_dict(self) -> dict[str, str | int]:
        return asdict(self)


@dataclass(frozen=True)
class DryRun:
    """What `create` would do, and every problem preflight found (none: it would go ahead)."""

    spec: ProjectSpec
    files: list[str]
    manifests: str
    problems: list[CheckResult] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when `create` would go ahead; else the code `create` would exit with: 4 when
        every problem is a name or namespace someone else holds (Conflict), 5 otherwise."""
        if not self.problems:
            return 0
        if all(p.conflict for p in self.problems):
            return Conflict.exit_code
        return PreflightFailed.exit_code

    def to_dict(self) -> dict[str, Any]:
        project = asdict(self.spec)
        project["parameters"] = self.spec.shown_parameters()
        project["secret_parameters"] = sorted(self.spec.secret_parameters)
        return {
            "project": project,
            "files": self.files,
            "manifests": self.manifests,
            "problems": [asdict(p) for p in self.problems],
        }


@dataclass(frozen=True)
class ConnectionView:
    """A stored forge connection as `forge connect` reports it; never the token. `id` is
    what a new project names it by to act as this account (`--connection`)."""

    id: int
    forge: str
    url: str
    account: str
    token_kind: str
    scopes: tuple[str, ...] | None
    missing_scopes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["scopes"] = list(self.scopes) if self.scopes is not None else None
        document["missing_scopes"] = list(self.missing_scopes)
        return document


def project_view(
    project: Project,
    environments: list[Environment],
    repository: Repository | None,
    resources: list[GitopsResource],
    latest: ProjectEvent | None,
) -> ProjectView:
    """One project's view from its rows (loaded in bulk by the caller), with the health they
    add up to (`domain.health`)."""
    env_names = {e.id: e.name for e in environments}
    states: dict[str, list[ResourceState]] = {e.name: [] for e in environments}
    for row in resources:
        states.setdefault(env_names.get(row.environment_id, "?"), []).append(
            ResourceState(
                kind=row.type.value,
                name=row.name,
                status=row.status,
                message=resource_message(row.error_message or row.ready_message),
                observed_at=row.last_synced_at,
            )
        )
    overall = project_health(states)
    return ProjectView(
        name=project.name,
        slug=project.slug,
        status=project.status.value,
        template=project.template,
        forge=project.forge.value,
        owner=project.owner,
        failed_step=project.failed_step,
        error_message=project.error_text,
        environments=[_environment_view(e, states[e.name]) for e in environments],
        repository=None if repository is None else _repository_view(repository),
        resources=[_resource_view(r, env_names.get(r.environment_id, "?")) for r in resources],
        progress=latest.percent if latest else 0,
        created_at=project.created_at,
        updated_at=project.updated_at,
        health=overall.health.value,
        health_reason=overall.reason,
        observed_at=overall.observed_at,
        run=project.run,
    )


def _environment_view(env: Environment, resources: list[ResourceState]) -> EnvironmentView:
    report = environment_health(resources)
    return EnvironmentView(
        env.name,
        env.namespace,
        env.status.value,
        health=report.health.value,
        health_reason=report.reason,
        observed_at=report.observed_at,
    )


def _repository_view(repo: Repository) -> RepositoryView:
    return RepositoryView(
        provider=repo.provider.value,
        owner=repo.owner,
        name=repo.name,
        clone_url=repo.clone_url,
        web_url=repo.web_url,
        default_branch=repo.default_branch,
        initial_commit_sha=repo.initial_commit_sha,
    )


def _resource_view(row: GitopsResource, environment: str) -> ResourceView:
    return ResourceView(
        environment=environment,
        kind=row.type.value,
        name=row.name,
        namespace=row.namespace,
        status=row.status.value,
        reason=row.ready_reason,
        # Slipway's own message (the sync's `missing`) as a Text, a controller's as it said it.
        message=resource_message(row.error_message or row.ready_message),
        revision=row.last_applied_revision,
        updated_at=row.updated_at,
    )
