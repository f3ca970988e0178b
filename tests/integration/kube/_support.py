"""Shared constants and builders for the kube emulator tests."""

from __future__ import annotations

from lightkube import KubeConfig
from lightkube.config.models import Cluster, User
from lightkube.generic_resource import create_namespaced_resource

from slipway.sandbox.kube import KubeEmulator

ADMIN_TOKEN = "admin-token"
LIMITED_TOKEN = "limited-token"
FLUX_KS = "kustomize.toolkit.fluxcd.io"
FLUX_SOURCE = "source.toolkit.fluxcd.io"
Kustomization = create_namespaced_resource(FLUX_KS, "v1", "Kustomization", "kustomizations")
GitRepository = create_namespaced_resource(FLUX_SOURCE, "v1", "GitRepository", "gitrepositories")


def lightkube_config(kube: KubeEmulator, token: str) -> KubeConfig:
    assert kube.tls is not None
    cluster = Cluster(server=kube.url, certificate_auth_data=kube.tls.ca_data)
    return KubeConfig.from_one(cluster=cluster, user=User(token=token), namespace="default")


def kustomization(name: str, namespace: str, **spec: object) -> dict[str, object]:
    body: dict[str, object] = {
        "interval": "5m",
        "path": "./k8s/overlays/dev",
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": "repo"},
    }
    body.update(spec)
    return {
        "apiVersion": f"{FLUX_KS}/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }
