"""Builders and helpers for the Flux emulator tests: a git repository with a kustomize overlay,
the Flux objects that point at it, and polling the cluster until Flux has answered."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tests.support.commands import git
from tests.support.waiting import wait_until

from slipway.sandbox.kube import KubeEmulator

SOURCE_V1 = "source.toolkit.fluxcd.io/v1"
KUSTOMIZE_V1 = "kustomize.toolkit.fluxcd.io/v1"
DEV = "./k8s/overlays/dev"
SECRET = "git-auth"  # the Secret's name, not a credential
T = TypeVar("T")

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
    - port: 80
"""
WIDGET = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"


def overlay(*resources: str) -> str:
    listed = "".join(f"  - {r}\n" for r in resources)
    return f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n{listed}"


def initial_files(replicas: int = 1) -> dict[str, str]:
    """A base (Deployment + Service), the dev overlay, and two broken overlays."""
    return {
        "k8s/base/deployment.yaml": DEPLOYMENT.format(replicas=replicas),
        "k8s/base/service.yaml": SERVICE,
        "k8s/base/kustomization.yaml": overlay("deployment.yaml", "service.yaml"),
        "k8s/overlays/dev/kustomization.yaml": overlay("../../base"),
        "k8s/overlays/broken/kustomization.yaml": overlay("../../missing-base"),
        "k8s/overlays/unknown-kind/kustomization.yaml": overlay("../../base", "widget.yaml"),
        "k8s/overlays/unknown-kind/widget.yaml": WIDGET,
    }


@dataclass
class GitRepo:
    """A repository on the forge emulator and a working copy that pushes to it."""

    name: str
    clone_url: str  # what a GitRepository's spec.url holds (no credentials)
    workdir: Path

    @property
    def head(self) -> str:
        return git(self.workdir, "rev-parse", "HEAD")

    def commit(self, files: dict[str, str | None], message: str) -> str:
        """Write (None: delete) files, commit, push to main with the real git CLI."""
        for path, content in files.items():
            target = self.workdir / path
            if content is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content)
        git(self.workdir, "add", "-A")
        git(self.workdir, "commit", "--quiet", "-m", message)
        git(self.workdir, "push", "--quiet", "origin", "main")
        return self.head


def secret(name: str, namespace: str, username: str, password: str) -> dict[str, Any]:
    def b64(value: str) -> str:
        return base64.b64encode(value.encode()).decode()

    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {"username": b64(username), "password": b64(password)},
    }


def git_repository(
    name: str, namespace: str, url: str, *, secret_name: str | None = SECRET, **spec: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"interval": "2s", "url": url, "ref": {"branch": "main"}}
    if secret_name:
        body["secretRef"] = {"name": secret_name}
    body.update(spec)
    return {
        "apiVersion": SOURCE_V1,
        "kind": "GitRepository",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }


def kustomization(
    name: str, namespace: str, source: str, *, path: str = DEV, **spec: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "interval": "5m",
        "path": path,
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": source},
        "targetNamespace": namespace,
    }
    body.update(spec)
    return {
        "apiVersion": KUSTOMIZE_V1,
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }


def condition(obj: dict[str, Any] | None, type_: str = "Ready") -> dict[str, Any]:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return {}


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 15.0) -> T:
    """Poll until `probe` returns something truthy; fail naming `what` and the last answer."""
    return wait_until(probe, message=what, timeout=timeout)


def wait_ready(
    kube: KubeEmulator, kind: str, name: str, namespace: str, status: str, timeout: float = 15.0
) -> dict[str, Any]:
    """The Flux object once its Ready condition has `status` ("True" or "False")."""
    api_version = SOURCE_V1 if kind == "GitRepository" else KUSTOMIZE_V1

    def probe() -> dict[str, Any] | None:
        obj = kube.get(api_version, kind, name, namespace)
        return obj if condition(obj).get("status") == status else None

    return wait_for(probe, f"{kind} {namespace}/{name} Ready={status}", timeout)
