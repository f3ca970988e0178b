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
    DELETING = "deleting"  # a delete run holds it; the rows go when the run ends


class ResourceStatus(StrEnum):
    """A GitOps resource's state; reconciling, ready and failed are read from its Flux
    `Ready` condition, missing is an object the status sync saw deleted out of band."""

    PENDING = "pending"
    RECONCILING = "reconciling"
    READY = "ready"
    FAILED = "failed"
    MISSING = "missing"


class EventLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Step(StrEnum):
    """The steps of a run, in order; each owns a slice of its 0-100 progress bar. Creation
    and repair run the first nine, deletion the next four, a deploy-key rotation the last
    three."""

    CREATE_PROJECT = "create_project"
    LOAD_TEMPLATE = "load_template"
    CREATE_ENVIRONMENTS = "create_environments"
    CREATE_REPOSITORY = "create_repository"
    PUSH_TEMPLATE = "push_template"
    RECORD_REPOSITORY = "record_repository"
    DEPLOY_KEY = "deploy_key"
    GITOPS_RESOURCES = "gitops_resources"
    FINALIZE = "finalize"
    DELETE_WORKLOADS = "delete_workloads"
    DELETE_OBJECTS = "delete_objects"
    DELETE_REPOSITORY = "delete_repository"
    DELETE_RECORDS = "delete_records"
    GRANT_NEW_KEY = "grant_new_key"
    APPLY_NEW_KEY = "apply_new_key"
    REMOVE_OLD_KEYS = "remove_old_keys"

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
    # Kustomizations first (Flux prunes the workloads), then everything else Slipway applied.
    Step.DELETE_WORKLOADS: (0, 40),
    Step.DELETE_OBJECTS: (40, 80),
    Step.DELETE_REPOSITORY: (80, 95),
    Step.DELETE_RECORDS: (95, 100),
    # A rotation: the new key on the forge, then in every Secret with Flux Ready on it (the
    # long part), then the old keys off the forge.
    Step.GRANT_NEW_KEY: (0, 30),
    Step.APPLY_NEW_KEY: (30, 90),
    Step.REMOVE_OLD_KEYS: (90, 100),
}


# The steps of a delete run; creation and repair run CREATION_STEPS, in order.
DELETE_STEPS: frozenset[Step] = frozenset(
    {Step.DELETE_WORKLOADS, Step.DELETE_OBJECTS, Step.DELETE_REPOSITORY, Step.DELETE_RECORDS}
)
# The steps of a deploy-key rotation run.
ROTATE_STEPS: frozenset[Step] = frozenset(
    {Step.GRANT_NEW_KEY, Step.APPLY_NEW_KEY, Step.REMOVE_OLD_KEYS}
)
CREATION_STEPS: tuple[Step, ...] = tuple(
    s for s in Step if s not in DELETE_STEPS and s not in ROTATE_STEPS
)


def step_progress(step: Step, fraction: float = 1.0) -> int:
    """The percentage reached `fraction` of the way through `step` (clamped to its range)."""
    low, high = step.progress_range
    fraction = min(max(fraction, 0.0), 1.0)
    return low + round((high - low) * fraction)


@dataclass(frozen=True)
class ProgressEvent:
    """One persisted progress event; `sequence` is monotonic per project, `percent` per run
    (creation is run 1; each repair or delete starts the next)."""

    project: str
    sequence: int
    step: str
    percent: int
    level: EventLevel
    message: str
    created_at: datetime
    final: str | None = None  # "completed", "degraded", "failed" or "deleted": the run's last
    run: int = 1


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
