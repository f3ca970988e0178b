"""End-to-end fixtures: one sandbox (forge + Kubernetes + Flux emulators) per test session,
and per-test Slipway settings and data directories pointing at it.

The sandbox is shared: a test that changes it (latency, faults) does so through a fixture or
`forge_slowed` below, which puts it back however the test ends; a test that asserts on forge
requests reads `forge_requests`, which holds only its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from tests.support.cli import InProcessCli, SlipwayProcesses, Transcript

from slipway.bootstrap import App, bootstrap
from slipway.config import Settings, get_settings
from slipway.domain.model import ForgeKind
from slipway.sandbox.forge import RequestRecorder
from slipway.sandbox.runner import Sandbox


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tmp_path_factory.mktemp("sandbox")) as running:
        yield running


def sandbox_settings(sandbox: Sandbox, data_dir: Path, **overrides: Any) -> Settings:
    assert sandbox.forge is not None
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "forge": ForgeKind.GITHUB,
        "forge_urls": {ForgeKind.GITHUB: sandbox.forge.url},
        "forge_token": SecretStr(sandbox.forge_token),
        "kubeconfig": sandbox.kubeconfig,
        "ready_timeout": 60.0,
        "lease_seconds": 2.0,
        # A failure a test provokes ends the run at once; tests of retries set a window.
        "retry_window": 0.0,
        **overrides,
    }
    return Settings(**values)


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
        "SLIPWAY_RETRY_WINDOW": "0",  # see sandbox_settings
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


@pytest.fixture
def sandbox_cli(
    cli_env: dict[str, str], sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> InProcessCli:
    """`slipway` in this process, pointed at the sandbox; the token must never be printed."""
    return InProcessCli(capsys, Transcript((sandbox.forge_token,)))


@pytest.fixture
def slipway_process(cli_env: dict[str, str], sandbox: Sandbox, tmp_path: Path) -> SlipwayProcesses:
    """`slipway` processes pointed at the sandbox; the token must never be printed."""
    return SlipwayProcesses(cli_env, tmp_path, Transcript((sandbox.forge_token,)))


@pytest.fixture
def forge_requests(sandbox: Sandbox) -> Iterator[RequestRecorder]:
    """The forge requests made during this test only (none of earlier tests')."""
    assert sandbox.forge is not None
    with sandbox.forge.recording() as recorder:
        yield recorder


@contextmanager
def forge_slowed(sandbox: Sandbox, latency_ms: float) -> Iterator[None]:
    """Every forge request waits `latency_ms` inside the block; the shared sandbox's latency
    is put back afterwards, however the block ends."""
    assert sandbox.forge is not None
    before = sandbox.forge.state.latency_ms
    sandbox.forge.state.latency_ms = latency_ms
    try:
        yield
    finally:
        sandbox.forge.state.latency_ms = before


@contextmanager
def forge_faulted(
    sandbox: Sandbox,
    status: int,
    *,
    path_prefix: str,
    method: str | None = None,
    count: int = 1,
    retry_after: float | None = None,
) -> Iterator[None]:
    """A scripted forge fault (`ForgeEmulator.add_fault`) for the block only: whatever of it
    is left when the block ends is dropped."""
    assert sandbox.forge is not None
    sandbox.forge.add_fault(
        status, path_prefix=path_prefix, method=method, count=count, retry_after=retry_after
    )
    try:
        yield
    finally:
        sandbox.forge.clear_faults()
