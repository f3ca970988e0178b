"""End-to-end fixtures: one sandbox (forge + Kubernetes + Flux emulators) per test session,
and per-test Slipway settings and data directories pointing at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from slipway.bootstrap import App, bootstrap
from slipway.config import Settings, get_settings
from slipway.domain.model import ForgeKind
from slipway.sandbox.runner import Sandbox


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tmp_path_factory.mktemp("sandbox"), flux_resync_seconds=1) as running:
        yield running


def sandbox_settings(sandbox: Sandbox, data_dir: Path, **overrides: object) -> Settings:
    assert sandbox.forge is not None
    values: dict[str, object] = {
        "data_dir": data_dir,
        "forge": ForgeKind.GITHUB,
        "github_url": sandbox.forge.url,
        "forge_token": SecretStr(sandbox.forge_token),
        "kubeconfig": sandbox.kubeconfig,
        "ready_timeout": 60.0,
        "lease_seconds": 2.0,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(sandbox: Sandbox, tmp_path: Path) -> Settings:
    return sandbox_settings(sandbox, tmp_path / "data")


@pytest.fixture
def app(settings: Settings) -> Iterator[App]:
    instance = bootstrap(settings)
    yield instance
    instance.close()


@pytest.fixture
def cli_env(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment variables that point the `slipway` CLI (in-process or subprocess) here."""
    env = {
        **sandbox.environment(),
        "SLIPWAY_DATA_DIR": str(tmp_path / "data"),
        "SLIPWAY_READY_TIMEOUT": "60",
        "SLIPWAY_LEASE_SECONDS": "2",
        "SLIPWAY_LOG_LEVEL": "warning",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return {**os.environ, **env}


@pytest.fixture(autouse=True)
def _fresh_settings_cache() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
