"""One Kubernetes API emulator (HTTPS, like a real cluster) for the whole kube test run.

Users: `admin` may do anything; `limited` may only read and apply Kustomizations in namespace
`team-a` (and nothing else), for the 403 and `kubectl auth can-i` tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from lightkube import AsyncClient

from slipway.sandbox.kube import AccessPolicy, KubeEmulator, PolicyRule

from ._support import ADMIN_TOKEN, FLUX_KS, LIMITED_TOKEN, lightkube_config


@pytest.fixture(scope="session")
def kube() -> Iterator[KubeEmulator]:
    emulator = KubeEmulator(token=ADMIN_TOKEN, user="admin")
    emulator.add_user(LIMITED_TOKEN, "limited")
    emulator.policy = AccessPolicy(
        {
            "admin": [PolicyRule()],
            "limited": [
                PolicyRule(
                    verbs=("get", "list", "watch", "create", "patch"),
                    api_groups=(FLUX_KS,),
                    resources=("kustomizations",),
                    namespaces=("team-a",),
                )
            ],
        }
    )
    with emulator:
        yield emulator


@pytest.fixture
async def client(kube: KubeEmulator) -> AsyncIterator[AsyncClient]:
    api = AsyncClient(lightkube_config(kube, ADMIN_TOKEN), field_manager="slipway")
    yield api
    await api.close()


@pytest.fixture
def namespace(kube: KubeEmulator) -> str:
    """A fresh namespace per test, so tests never see each other's objects."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


@pytest.fixture
def kubeconfig(kube: KubeEmulator, tmp_path: Path) -> Path:
    return kube.write_kubeconfig(tmp_path / "kubeconfig")
