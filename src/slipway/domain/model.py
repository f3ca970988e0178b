"""Plain values shared by every layer: statuses, kinds, steps and their progress ranges."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

# Defined beside the names each kind gets; re-exported here, where the other statuses live.
from slipway.domain.names import ResourceKind as ResourceKind


class ForgeKind(StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"
    GITEA = "gitea"


class PushMethod(StrEnum):
    """How the first commit reaches the forge: one pack over git smart HTTP, or the REST API
    (for forges that refuse git over HTTPS)."""

    GIT = "git"
    API = "api"


class GitAuthMethod(StrEnum):
    """How Flux reads a project's repository: a read-only deploy key over SSH (the default,
    so the user's token never reaches the cluster), or the token over HTTPS where a forge has
    deploy keys disabled."""

    SSH = "ssh"
    TOKEN = "token"  # noqa: S105 - a method's name, not a password


class ProjectStatus(StrEnum):
    PENDING = "pending"
    INITIALIZING = "initializing"
    ACTIVE = "active"
    DEGRADED = "degraded"
    FAILED = "failed"


class ResourceStatus(StrEnum):
    """A GitOps resource's state; the last three are read from its Flux `Ready` condition."""

    PENDING = "pending"
    RECONCILING = "reconciling"
    READY = "ready"
    FAILED = "failed"


class EventLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Step(StrEnum):
    """Initialization steps in order; each owns a slice of the 0-100 progress bar."""

    CREATE_PROJECT = "create_project"
    LOAD_TEMPLATE = "load_template"
    CREATE_ENVIRONMENTS = "create_environments"
    CREATE_REPOSITORY = "create_repository"
    PUSH_TEMPLATE = "push_template"
    RECORD_REPOSITORY = "record_repository"
    DEPLOY_KEY = "deploy_key"
    GITOPS_RESOURCES = "gitops_resources"
    FINALIZE = "finalize"

    @property
    def progress_range(self) -> tuple[int, int]:
        return STEP_PROGRESS[self]


STEP_PROGRESS: dict[Step, tuple[int, int]] = {
    Step.CREATE_PROJECT: (0, 10),
    Step.LOAD_TEMPLATE: (10, 20),
    Step.CREATE_ENVIRONMENTS: (20, 30),
    Step.CREATE_REPOSITORY: (30, 40),
    Step.PUSH_TEMPLATE: (40, 60),
    Step.RECORD_REPOSITORY: (60, 65),
    Step.DEPLOY_KEY: (65, 70),
    Step.GITOPS_RESOURCES: (70, 90),
    Step.FINALIZE: (90, 100),
}


def step_progress(step: Step, fraction: float = 1.0) -> int:
    """The percentage reached `fraction` of the way through `step` (clamped to its range)."""
    low, high = step.progress_range
    fraction = min(max(fraction, 0.0), 1.0)
    return low + round((high - low) * fraction)


@dataclass(frozen=True)
class ProgressEvent:
    """One persisted progress event; `sequence` is monotonic per project."""

    project: str
    sequence: int
    step: str
    percent: int
    level: EventLevel
    message: str
    created_at: datetime
    final: str | None = None  # "completed", "degraded" or "failed" on the last event


@dataclass(frozen=True)
class Condition:
    """A Kubernetes status condition, as Flux writes it."""

    type: str
    status: str
    reason: str = ""
    message: str = ""


def resource_status_from_ready(ready: Condition | None) -> ResourceStatus:
    """Flux semantics: Ready=True is ready, Ready=False failed, Unknown (or absent) reconciling."""
    if ready is None:
        return ResourceStatus.RECONCILING
    if ready.status == "True":
        return ResourceStatus.READY
    if ready.status == "False":
        return ResourceStatus.FAILED
    return ResourceStatus.RECONCILING


@dataclass(frozen=True)
class ProjectSpec:
    """What a user asked for, validated (`service` builds it from the CLI or API input)."""

    name: str
    slug: str
    template: str
    environments: tuple[str, ...]
    forge: ForgeKind
    owner: str | None
    private: bool = True
    parameters: dict[str, str | int | bool] = field(default_factory=dict)
    secret_parameters: frozenset[str] = frozenset()  # names whose values are never shown
    git_auth: GitAuthMethod = GitAuthMethod.SSH
    adopt: bool = False  # take over this project's repository and objects from another installation

    def shown_parameters(self) -> dict[str, str | int | bool]:
        """The parameters as they may be printed: secret values as `***`."""
        return {
            k: SECRET_SHOWN if k in self.secret_parameters else v
            for k, v in self.parameters.items()
        }


SECRET_SHOWN = "***"  # noqa: S105 - what is printed in place of a secret
