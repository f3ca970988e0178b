"""The schema, as SQLAlchemy 2 typed models. One schema for SQLite and PostgreSQL; the Alembic
migrations in `migrations/versions` must produce exactly this (a test compares them).

Status columns are plain strings validated through the domain enums, so adding a status never
needs an `ALTER TYPE`. Every timestamp is an aware UTC datetime.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from slipway.domain.model import (
    EventLevel,
    ForgeKind,
    GitAuthMethod,
    ProgressEvent,
    ProjectStatus,
    ResourceKind,
    ResourceStatus,
)
from slipway.domain.text import restore
from slipway.store._types import StrEnumType, UTCDateTime, utcnow

# Deterministic constraint names, so later migrations can refer to them on both engines.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TOKEN_KINDS = ("pat", "oauth", "app")
FINAL_STATES = ("completed", "degraded", "failed", "deleted")


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: sa.JSON(), list[str]: sa.JSON()}

    _repr_fields: ClassVar[tuple[str, ...]] = ("id",)

    def __repr__(self) -> str:
        # Only named, non-secret columns: a repr ends up in logs and tracebacks.
        fields = ", ".join(f"{f}={getattr(self, f, None)!r}" for f in self._repr_fields)
        return f"{type(self).__name__}({fields})"


def _created() -> Any:
    return mapped_column(UTCDateTime(), default=utcnow, nullable=False)


def _updated() -> Any:
    return mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False)


class Installation(Base):
    """This installation's identity: one row, created with the database. Its ID goes into the
    repository marker and every cluster object's labels, so two installations sharing a forge or
    a cluster never take each other's repositories or objects."""

    __tablename__ = "installation"
    _repr_fields = ("id",)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    created_at: Mapped[datetime] = _created()


class User(Base):
    """Someone who calls the API with a token; an admin sees and changes every project."""

    __tablename__ = "users"
    _repr_fields = ("id", "name", "is_admin")

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    email: Mapped[str | None] = mapped_column(sa.String(320), unique=True)
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = _created()


class ApiToken(Base):
    """A user's API token, stored only as its SHA-256 hex: the token itself is shown once, at
    creation. `prefix` (its first characters) lets a person tell their tokens apart."""

    __tablename__ = "api_tokens"
    _repr_fields = ("id", "user_id", "prefix")

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = _created()
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebSession(Base):
    """A signed-in browser: `id` is the SHA-256 of the cookie's random value (the cookie
    itself is never stored), with the form token its POSTs must carry and, while a forge
    OAuth sign-in is under way, that sign-in's forge, state and PKCE verifier."""

    __tablename__ = "web_sessions"
    _repr_fields = ("user_id", "expires_at")

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(sa.String(64))
    oauth_forge: Mapped[str | None] = mapped_column(sa.String(16))
    oauth_state: Mapped[str | None] = mapped_column(sa.String(128))
    oauth_verifier: Mapped[str | None] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ForgeConnection(Base):
    """A forge account Slipway may act as. The token is only ever stored encrypted."""

    __tablename__ = "forge_connections"
    __table_args__ = (sa.UniqueConstraint("provider", "server_url", "account_name"),)
    _repr_fields = ("id", "provider", "server_url", "account_name", "token_kind")

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[ForgeKind] = mapped_column(StrEnumType(ForgeKind, 16))
    server_url: Mapped[str] = mapped_column(sa.String(512))
    account_name: Mapped[str] = mapped_column(sa.String(255))
    scopes: Mapped[list[str]] = mapped_column(default=list)
    encrypted_token: Mapped[bytes] = mapped_column(sa.LargeBinary())
    # An OAuth connection's refresh token, encrypted like the token; None: no refresh.
    encrypted_refresh_token: Mapped[bytes | None] = mapped_column(sa.LargeBinary())
    token_kind: Mapped[str] = mapped_column(sa.String(16))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Project(Base):
    __tablename__ = "projects"
    _repr_fields = ("id", "name", "status")

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(63), unique=True)
    slug: Mapped[str] = mapped_column(sa.String(63), unique=True)
    status: Mapped[ProjectStatus] = mapped_column(StrEnumType(ProjectStatus, 16))
    failed_step: Mapped[str | None] = mapped_column(sa.String(64))
    error_message: Mapped[str | None] = mapped_column(sa.Text())
    # The error's template and parameters (`slipway.domain.text`), to show it translated.
    error_template: Mapped[str | None] = mapped_column(sa.Text())
    error_params: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON())
    template: Mapped[str] = mapped_column(sa.String(255))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The template parameters marked `secret: true`, as encrypted JSON; never in `parameters`.
    encrypted_parameters: Mapped[bytes | None] = mapped_column(sa.LargeBinary())
    environments: Mapped[list[str]] = mapped_column(default=list)
    forge: Mapped[ForgeKind] = mapped_column(StrEnumType(ForgeKind, 16))
    owner: Mapped[str | None] = mapped_column(sa.String(255))
    private: Mapped[bool] = mapped_column(default=True)
    # The account whose token the project's runs use; None: the configured SLIPWAY_FORGE_TOKEN.
    forge_connection_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("forge_connections.id", ondelete="SET NULL")
    )
    # The user who created it; None: the installation's operator, on the command line.
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    workflow_id: Mapped[str | None] = mapped_column(sa.String(255))
    # How Flux reads the repository: "ssh" (a read-only deploy key) or "token" (HTTPS).
    git_auth: Mapped[GitAuthMethod] = mapped_column(
        StrEnumType(GitAuthMethod, 16), default=GitAuthMethod.SSH
    )
    # Take over a repository another installation marked for this project (`--adopt`).
    adopt: Mapped[bool] = mapped_column(default=False)
    # The current run: 1 is creation, each repair or delete adds one; events carry it.
    run: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    @property
    def error_text(self) -> str | None:
        """The error as translatable text when its template was kept, else as stored."""
        if self.error_message is None or self.error_template is None:
            return self.error_message
        return restore({"t": self.error_template, "p": self.error_params or {}}, self.error_message)


class Environment(Base):
    """An environment of a project. Its namespace is unique across the installation: two
    projects whose names compose into the same namespace cannot both be recorded."""

    __tablename__ = "environments"
    __table_args__ = (sa.UniqueConstraint("project_id", "name"), sa.UniqueConstraint("namespace"))
    _repr_fields = ("id", "project_id", "name", "status")

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(63))
    namespace: Mapped[str] = mapped_column(sa.String(63))
    status: Mapped[ResourceStatus] = mapped_column(StrEnumType(ResourceStatus, 16))
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Repository(Base):
    __tablename__ = "repositories"
    _repr_fields = ("id", "project_id", "provider", "owner", "name")

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), unique=True
    )
    provider: Mapped[ForgeKind] = mapped_column(StrEnumType(ForgeKind, 16))
    owner: Mapped[str] = mapped_column(sa.String(255))
    name: Mapped[str] = mapped_column(sa.String(255))
    clone_url: Mapped[str] = mapped_column(sa.String(1024))
    # Flux's form (`ssh://git@host[:port]/owner/name.git`); None where the forge gave none.
    ssh_url: Mapped[str | None] = mapped_column(sa.String(1024))
    web_url: Mapped[str] = mapped_column(sa.String(1024))
    default_branch: Mapped[str] = mapped_column(sa.String(255))
    initial_commit_sha: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = _created()


class DeployKey(Base):
    """A project's read-only SSH deploy key: the private half only encrypted. During a rotation
    two rows exist: the newest is the current key, the older one goes once Flux reads with the
    new one."""

    __tablename__ = "deploy_keys"
    _repr_fields = ("id", "project_id", "forge_key_id")

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    public_key: Mapped[str] = mapped_column(sa.Text())
    encrypted_private_key: Mapped[bytes] = mapped_column(sa.LargeBinary())
    known_hosts: Mapped[str | None] = mapped_column(sa.Text())
    forge_key_id: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = _created()

    @property
    def granted(self) -> bool:
        """On the repository (the forge's key ID recorded) with the forge's host keys known:
        all a git Secret needs."""
        return self.forge_key_id is not None and bool(self.known_hosts)


class GitopsResource(Base):
    """One Kubernetes object Slipway applied, with its live status.

    The seed runbook reads `id, project_id, environment_id, type, name, namespace, status,
    error_message, created_at, updated_at`: those columns keep their names and meaning.
    """

    __tablename__ = "gitops_resources"
    __table_args__ = (sa.UniqueConstraint("project_id", "environment_id", "type", "name"),)
    _repr_fields = ("id", "type", "namespace", "name", "status")

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    environment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("environments.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[ResourceKind] = mapped_column(StrEnumType(ResourceKind, 32))
    name: Mapped[str] = mapped_column(sa.String(253))
    namespace: Mapped[str | None] = mapped_column(sa.String(63))
    status: Mapped[ResourceStatus] = mapped_column(StrEnumType(ResourceStatus, 16))
    error_message: Mapped[str | None] = mapped_column(sa.Text())
    api_version: Mapped[str | None] = mapped_column(sa.String(255))
    ready_reason: Mapped[str | None] = mapped_column(sa.String(255))
    ready_message: Mapped[str | None] = mapped_column(sa.Text())
    last_applied_revision: Mapped[str | None] = mapped_column(sa.String(255))
    observed_generation: Mapped[int | None] = mapped_column(sa.BigInteger())
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class ProjectEvent(Base):
    """A progress event; `sequence` runs 1, 2, 3… per project with no gaps (the SSE event ID),
    `run` is the project's run it belongs to, and its percent never goes backwards within it."""

    __tablename__ = "project_events"
    __table_args__ = (sa.UniqueConstraint("project_id", "sequence"),)
    _repr_fields = ("id", "project_id", "sequence", "step", "percent")

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column()
    step: Mapped[str] = mapped_column(sa.String(64))
    percent: Mapped[int] = mapped_column()
    level: Mapped[EventLevel] = mapped_column(StrEnumType(EventLevel, 16))
    message: Mapped[str] = mapped_column(sa.Text())
    # The message's template and parameters (`slipway.domain.text`), to show it translated;
    # None for a plain message and for rows from before they were kept.
    message_template: Mapped[str | None] = mapped_column(sa.Text())
    message_params: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON())
    final: Mapped[str | None] = mapped_column(sa.String(16))
    run: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = _created()

    def to_progress_event(self, project: str) -> ProgressEvent:
        """The domain value the CLI, the API and the web UI render."""
        return ProgressEvent(
            project=project,
            sequence=self.sequence,
            step=self.step,
            percent=self.percent,
            level=self.level,
            message=restore(
                {"t": self.message_template, "p": self.message_params or {}}
                if self.message_template is not None
                else None,
                self.message,
            ),
            created_at=self.created_at,
            final=self.final,
            run=self.run,
        )


class ExecutorLease(Base):
    """Which process owns a DBOS executor ID, until `expires_at` unless it heartbeats."""

    __tablename__ = "executor_leases"
    _repr_fields = ("executor_id", "hostname", "pid", "expires_at")

    executor_id: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    hostname: Mapped[str] = mapped_column(sa.String(255))
    pid: Mapped[int] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
