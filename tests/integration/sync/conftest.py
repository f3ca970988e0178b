"""One Kubernetes emulator for the status sync tests; each test gets its own database (so its
own installation, so its own Lease and label selector) and a short Lease."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.bootstrap import App, bootstrap
from slipway.config import Settings
from slipway.sandbox.kube import KubeEmulator

from ._support import USER

LEASE_SECONDS = 2.0


@pytest.fixture(scope="session")
def kube() -> Iterator[KubeEmulator]:
    with KubeEmulator(user=USER) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def kubeconfig(kube: KubeEmulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return kube.write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig")


@pytest.fixture
def settings(kubeconfig: Path, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", kubeconfig=kubeconfig, sync_lease_seconds=LEASE_SECONDS
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[App]:
    instance = bootstrap(settings)
    yield instance
    instance.close()
