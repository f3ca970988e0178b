"""One Kubernetes API emulator (HTTPS, bearer token) for the gitops tests, reset to a healthy
cluster with Flux before each test; tests use distinct project slugs so objects never clash."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog

from slipway.gitops import ClusterClient, forget_preflight
from slipway.sandbox.kube import AccessPolicy, KubeEmulator

from ._support import FAST_RETRY, USER


@pytest.fixture(autouse=True)
def _default_logging() -> None:
    """Another test may leave structlog printing to a stream pytest has since closed
    (`configure_logging` binds `sys.stderr` when called); retries log, so start clean."""
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def emulator() -> Iterator[KubeEmulator]:
    with KubeEmulator(user=USER) as kube:
        yield kube


@pytest.fixture(scope="session")
def kubeconfig(emulator: KubeEmulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return emulator.write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig")


@pytest.fixture
def kube(emulator: KubeEmulator) -> Iterator[KubeEmulator]:
    """The shared emulator, healthy before the test and put back after it; no preflight pass
    remembered from another test (the cluster may since have been broken on purpose)."""
    forget_preflight()
    emulator.policy = AccessPolicy.allow_all()
    emulator.set_flux_crds(True)
    emulator.set_flux_controllers("available")
    yield emulator
    emulator.policy = AccessPolicy.allow_all()
    emulator.set_flux_crds(True)
    emulator.set_flux_controllers("available")


@pytest.fixture
async def cluster(kube: KubeEmulator, kubeconfig: Path) -> AsyncIterator[ClusterClient]:
    client = ClusterClient.from_kubeconfig(kubeconfig, retry_policy=FAST_RETRY)
    try:
        yield client
    finally:
        await client.aclose()
