"""Slipway in a pod (deploy/): with no kubeconfig anywhere, the cluster client uses the pod's
service account (KUBERNETES_SERVICE_HOST/PORT, the mounted CA and token), acts as that
account, and picks up the token the kubelet rotates without a restart; a kubeconfig, when
one is given, still comes first."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from slipway.gitops import ClusterClient
from slipway.gitops._kubeconfig import resolve
from slipway.sandbox.kube import KubeEmulator

ACCOUNT = "system:serviceaccount:slipway-system:slipway"


def _mount_service_account(kube: KubeEmulator, folder: Path, token: str) -> Path:
    """What the kubelet mounts at /var/run/secrets/kubernetes.io/serviceaccount."""
    assert kube.tls is not None
    folder.mkdir()
    (folder / "token").write_text(token)
    (folder / "ca.crt").write_bytes(kube.tls.ca_pem)
    (folder / "namespace").write_text("slipway-system")
    return folder


@pytest.fixture
def in_a_pod(kube: KubeEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No kubeconfig variable, no ~/.kube/config; the API server's address as a pod sees it.
    Returns the mounted service account folder."""
    for variable in ("KUBECONFIG", "K3S_KUBECONFIG_PATH", "SLIPWAY_KUBECONFIG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    address = urlsplit(kube.url)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", str(address.hostname))
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(address.port))
    kube.add_user("pod-token-1", ACCOUNT)
    return _mount_service_account(kube, tmp_path / "serviceaccount", "pod-token-1")


async def test_without_a_kubeconfig_the_pods_service_account_is_used(
    kube: KubeEmulator, in_a_pod: Path
) -> None:
    config = resolve(None, None, service_account=in_a_pod)
    async with ClusterClient(config) as client:
        assert client.server == kube.url
        with kube.recording() as log:
            assert await client.server_version()
            assert await client.read_crd("kustomizations.kustomize.toolkit.fluxcd.io")
        assert [r.user for r in log.requests()] == [ACCOUNT, ACCOUNT]

        # The kubelet rotates the projected token and the old one stops working: the 401 it
        # now gets makes the client read the file again and repeat the request.
        kube.add_user("pod-token-2", ACCOUNT)
        (in_a_pod / "token").write_text("pod-token-2")
        del kube.state.tokens["pod-token-1"]
        with kube.recording() as log:
            assert await client.read_crd("gitrepositories.source.toolkit.fluxcd.io")
        assert [(r.user, r.status) for r in log.requests()] == [("", 401), (ACCOUNT, 200)]
    del kube.state.tokens["pod-token-2"]


def test_a_kubeconfig_still_wins_over_the_pods_account(
    kube: KubeEmulator, in_a_pod: Path, tmp_path: Path
) -> None:
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
    config = resolve(kubeconfig, None, service_account=in_a_pod)
    assert config.user is not None
    assert config.user.token == kube.token.get_secret_value()
