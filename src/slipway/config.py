"""Settings from `SLIPWAY_*` environment variables and a `.env` file (pydantic-settings)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from slipway.domain.model import ForgeKind
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
    github_url: str = "https://api.github.com"
    gitlab_url: str = "https://gitlab.com"
    gitea_url: str | None = None
    forge_token: SecretStr | None = Field(
        default=None, description="Token for `forge` when no connection is stored."
    )
    forge_owner: str | None = None

    kubeconfig: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("K3S_KUBECONFIG_PATH", "SLIPWAY_KUBECONFIG", "KUBECONFIG"),
    )
    kube_context: str | None = None

    worker_concurrency: int = Field(default=4, ge=1, le=64)
    ready_timeout: float = Field(
        default=180.0, gt=0, description="Seconds finalize waits for Flux to report Ready."
    )
    lease_seconds: float = Field(
        default=15.0, ge=1, description="A worker silent this long is presumed dead."
    )
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "info"

    @field_validator("templates_path", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):
            return [Path(p) for p in value.split(os.pathsep) if p]
        return value

    @field_validator("environments", mode="before")
    @classmethod
    def _split_environments(cls, value: object) -> object:
        if isinstance(value, str):
            value = [e.strip() for e in value.split(",") if e.strip()]
        if isinstance(value, list | tuple):
            return validate_environments(str(v) for v in value)
        return value

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'slipway.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
