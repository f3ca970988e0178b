"""The API's request and response documents. They mirror the service layer's views field for
field, so `/openapi.json` describes exactly what the CLI's `--json` prints; none of them
carries a token or a secret parameter's value."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from slipway.domain.model import ForgeKind, GitAuthMethod

ParameterValue = str | int | bool


class _View(BaseModel):
    """Built from a service view (a frozen dataclass) by attribute."""

    model_config = ConfigDict(from_attributes=True)


class ProjectCreate(BaseModel):
    """A new project; the service checks every rule (names, environments, template
    parameters, owner) and names the field that breaks one."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="project name; lower-case letters, digits and '-'")
    template: str = Field(description="a template name from GET /api/v1/templates")
    environments: list[str] = Field(
        default_factory=list, description="empty: the installation's default environments"
    )
    parameters: dict[str, ParameterValue] = Field(
        default_factory=dict, description="template parameters by name"
    )
    forge: ForgeKind | None = Field(None, description="empty: the installation's default forge")
    owner: str | None = Field(None, description="account or group; empty: your own account")
    private: bool = True
    git_auth: GitAuthMethod = GitAuthMethod.SSH
    adopt: bool = False
    connection: int | None = Field(
        None,
        description="id of the stored forge connection to act as; it sets the forge and its "
        "server. Empty: your newest connection at the installation's forge URL",
    )


class RepositoryOut(_View):
    provider: str
    owner: str
    name: str
    clone_url: str
    web_url: str
    default_branch: str
    initial_commit_sha: str | None


class ResourceOut(_View):
    environment: str
    kind: str
    name: str
    namespace: str | None
    status: str
    reason: str | None
    message: str | None
    revision: str | None
    updated_at: datetime


class EnvironmentOut(_View):
    name: str
    namespace: str
    status: str
    health: str
    health_reason: str | None
    observed_at: datetime | None


class ProjectOut(_View):
    name: str
    slug: str
    status: str = Field(description="pending, initializing, active, degraded, failed, deleting")
    health: str = Field(description="healthy, degraded, unhealthy, pending")
    health_reason: str | None
    observed_at: datetime | None = Field(description="the latest look at its resources")
    template: str
    forge: str
    owner: str | None
    failed_step: str | None
    error_message: str | None
    progress: int = Field(ge=0, le=100)
    run: int = Field(ge=1, description="1: creation; each repair or delete starts the next")
    environments: list[EnvironmentOut]
    repository: RepositoryOut | None
    resources: list[ResourceOut]
    created_at: datetime
    updated_at: datetime


class ProjectPage(BaseModel):
    items: list[ProjectOut]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )


class EventOut(_View):
    """One progress event; `sequence` is the SSE event id (resume with Last-Event-ID)."""

    sequence: int
    run: int
    step: str
    percent: int = Field(ge=0, le=100)
    level: str
    message: str = Field(
        description="what happened, in the language the request's Accept-Language chooses "
        "(English or Simplified Chinese)"
    )
    created_at: datetime
    final: str | None = Field(description="completed, degraded, failed or deleted: the run's last")


class RunStarted(BaseModel):
    """A repair or delete run under way; follow `events_url` (SSE) from `after_sequence`."""

    project: str
    run: int
    after_sequence: int
    events_url: str


class CheckOut(_View):
    name: str
    ok: bool
    detail: str
    fix: str | None


class PreviewOut(BaseModel):
    """What a create would push and apply (secrets redacted), and every problem preflight
    found: none means a create would go ahead."""

    name: str
    slug: str
    template: str
    environments: list[str]
    forge: str
    owner: str | None
    parameters: dict[str, ParameterValue]
    files: list[str]
    manifests: str
    problems: list[CheckOut]


class TemplateParameterOut(_View):
    name: str
    type: Literal["str", "int", "bool", "choice"]
    default: ParameterValue | None
    required: bool
    pattern: str | None
    help: str
    choices: list[str]
    minimum: int | None
    maximum: int | None
    secret: bool


class TemplateOut(BaseModel):
    name: str
    description: str
    builtin: bool
    parameters: list[TemplateParameterOut]
    parameters_schema: dict[str, Any] = Field(
        description="JSON Schema of the `parameters` object a create of this template takes"
    )


class ConnectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    forge: ForgeKind
    token: SecretStr = Field(description="a personal access token; stored encrypted, never shown")
    url: str | None = Field(None, description="API base URL; empty: the installation's default")


class ConnectionOut(_View):
    id: int = Field(description="what a new project names it by: `connection` in its body")
    forge: str
    url: str
    account: str
    token_kind: str
    scopes: list[str] | None
    missing_scopes: list[str]


class Me(BaseModel):
    name: str
    admin: bool


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    ready: bool
    database: str = Field(description="ok, or why it cannot be reached")
    schema_revision: str | None
    expected_revision: str


class ProblemFieldError(BaseModel):
    field: str
    rule: str


class Problem(BaseModel):
    """RFC 9457 problem details, with Slipway's error fields: `error` is the CLI's error
    type and `exit_code` the code the CLI exits with for the same failure."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    error: str
    exit_code: int
    step: str | None = None
    system: str | None = None
    hint: str | None = None
    errors: list[ProblemFieldError] = Field(default_factory=list)
