"""One sandbox (forge + Kubernetes API + Flux emulators on loopback) for the Flux tests, a fresh
namespace per test, and a fresh forge repository per test created through the forge's GitHub
API and filled by pushing with the real git CLI."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.support.commands import git

from slipway.sandbox.kube import KubeEmulator
from slipway.sandbox.runner import SANDBOX_USER, Sandbox

from ._support import GitRepo, initial_files


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tmp_path_factory.mktemp("flux-sandbox")) as running:
        yield running


@pytest.fixture
def kube(sandbox: Sandbox) -> KubeEmulator:
    assert sandbox.kube is not None
    return sandbox.kube


@pytest.fixture
def namespace(kube: KubeEmulator) -> Iterator[str]:
    """A fresh namespace, deleted afterwards so Flux stops polling what the test left."""
    name = f"flux-{uuid.uuid4().hex[:8]}"
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    if kube.get("v1", "Namespace", name) is not None:  # a test may have deleted it
        kube.delete("v1", "Namespace", name)


@pytest.fixture
def repo(sandbox: Sandbox, tmp_path: Path) -> GitRepo:
    """A private repository with the base, the dev overlay and two broken overlays on main."""
    assert sandbox.forge is not None
    name = f"app-{uuid.uuid4().hex[:8]}"
    created = httpx.post(
        f"{sandbox.forge.url}/user/repos",
        json={"name": name, "private": True},
        headers={"Authorization": f"token {sandbox.forge_token}"},
    )
    assert created.status_code == 201, created.text
    clone_url = sandbox.forge.clone_url(SANDBOX_USER, name)
    push_url = clone_url.replace("http://", f"http://{SANDBOX_USER}:{sandbox.forge_token}@")
    workdir = tmp_path / name
    workdir.mkdir()
    git(workdir, "init", "--quiet", "--initial-branch", "main")
    git(workdir, "remote", "add", "origin", push_url)
    repository = GitRepo(name=name, clone_url=clone_url, workdir=workdir)
    repository.commit(dict(initial_files()), "initial overlay")
    return repository
