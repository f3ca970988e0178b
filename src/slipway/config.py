"""Settings from `SLIPWAY_*` environment variables and a `.env` file (pydantic-settings)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from slipway.domain.model import ForgeKind, PushMethod
from slipway.domain.names import DEFAULT_ENVIRONMENTS, validate_environments

DEFAULT_DATA_DIR = Path(".slipway")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SLIPWAY_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite:///<data_dir>/slipway.db. "
        "postgresql+psycopg://... switches to PostgreSQL.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key for tokens at rest; generated into <data_dir>/secret.key if unset.",
    )
    templates_path: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="Extra template folders, colon-separated."
    )
    environments: Annotated[tuple[str, ...], NoDecode] = DEFAULT_ENVIRONMENTS
    default_template: str = "static-site"

    forge: ForgeKind = ForgeKind.GITHUB
    forge_urls: dict[ForgeKind, str] = Field(
        default_factory=dict,
        description="Per forge, its API or instance URL; read from SLIPWAY_<FORGE>_URL "
        "(SLIPWAY_GITHUB_URL, SLIPWAY_GITLAB_URL, ...); a forge not named uses its default.",
    )
    forge_token: SecretStr | None = Field(
        default=None, description="Token for `forge` when no connection is stored."
    )
    forge_owner: str | None = None
    # OAuth applications registered on each forge ("connect with OAuth"); a forge without
    # both of its settings has no OAuth sign-in (`oauth_client`).
    github_oauth_client_id: str | None = None
    github_oauth_client_secret: SecretStr | None = None
    gitlab_oauth_client_id: str | None = None
    gitlab_oauth_client_secret: SecretStr | None = None
    gitea_oauth_client_id: str | None = None
    gitea_oauth_client_secret: SecretStr | None = None
    push: PushMethod = Field(
        default=PushMethod.GIT,
        description="How the first commit is pushed: `git` (one pack over git smart HTTP) or "
        "`api` (the forge's REST API, for forges that refuse git over HTTPS).",
    )

    kubeconfig: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("K3S_KUBECONFIG_PATH", "SLIPWAY_KUBECONFIG", "KUBECONFIG"),
    )
    kube_context: str | None = None

    worker_concurrency: int = Field(default=4, ge=1, le=64)
    ready_timeout: float = Field(
        default=180.0, gt=0, description="Seconds finalize waits for Flux to report Ready."
    )
    retry_window: float = Field(
        default=600.0,
        ge=0,
        description="Seconds a step of a run keeps retrying an outage (a forge or the cluster "
        "unreachable, 5xx, 429) before it fails; 0 fails at the first.",
    )
    lease_seconds: float = Field(
        default=15.0, ge=1, description="A worker silent this long is presumed dead."
    )
    # kube-system exists in every cluster (a fresh K3s, kind, the sandbox) and is where
    # kube-scheduler and kube-controller-manager keep their own leader-election Leases.
    lease_namespace: str = Field(
        default="kube-system",
        description="Namespace of the Lease that elects the one process running the status "
        "sync (`slipway-sync-<installation>`); Slipway needs get, create and update on "
        "leases there.",
    )
    sync_lease_seconds: float = Field(
        default=15.0,
        ge=1,
        description="How long the status sync's leader is trusted without renewing its "
        "Lease; another process takes over after this much silence.",
    )
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "info"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        urls = _ForgeUrls(settings_cls, env_settings, dotenv_settings)
        return init_settings, urls, env_settings, dotenv_settings, file_secret_settings

    @field_validator("templates_path", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):
            return [Path(p) for p in value.split(os.pathsep) if p]
        return value

    @field_validator("data_dir", "kubeconfig", mode="after")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        """Made absolute once, at start: copier (in a worker thread) briefly changes the
        process's working folder while it renders, and a relative path opened then (a new
        SQLite connection, a kubeconfig read) would land in its temporary folder."""
        return value.absolute() if value is not None else None

    @field_validator("templates_path", mode="after")
    @classmethod
    def _absolute_all(cls, value: list[Path]) -> list[Path]:
        return [p.absolute() for p in value]

    @field_validator("environments", mode="before")
    @classmethod
    def _split_environments(cls, value: object) -> object:
        if isinstance(value, str):
            value = [e.strip() for e in value.split(",") if e.strip()]
        if isinstance(value, list | tuple):
            return validate_environments(str(v) for v in value)
        return value

    def oauth_client(self, kind: ForgeKind) -> tuple[str, SecretStr] | None:
        """The OAuth application's client ID and secret for `kind`, or None unless both of
        SLIPWAY_<FORGE>_OAUTH_CLIENT_ID and SLIPWAY_<FORGE>_OAUTH_CLIENT_SECRET are set."""
        client_id = getattr(self, f"{kind.value}_oauth_client_id", None)
        secret = getattr(self, f"{kind.value}_oauth_client_secret", None)
        if not client_id or secret is None or not secret.get_secret_value():
            return None
        return str(client_id), secret

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'slipway.db'}"


class _ForgeUrls(PydanticBaseSettingsSource):
    """`SLIPWAY_<FORGE>_URL` for every forge kind, from the environment, then `.env`: one
    variable per forge without one setting per forge."""

    def __init__(
        self, settings_cls: type[BaseSettings], *layers: PydanticBaseSettingsSource
    ) -> None:
        super().__init__(settings_cls)
        self._layers = [getattr(layer, "env_vars", {}) for layer in layers]

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        urls: dict[str, str] = {}
        for kind in ForgeKind:
            key = f"slipway_{kind.value}_url"
            found = next((layer[key] for layer in self._layers if layer.get(key)), None)
            if found:
                urls[kind.value] = found
        return {"forge_urls": urls} if urls else {}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
