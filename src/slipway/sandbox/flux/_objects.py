"""The two Flux kinds the emulator reconciles, and how it names an object."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from slipway.sandbox.flux._kubeapi import KubeAPI


@dataclass(frozen=True)
class FluxKind:
    api_version: str
    plural: str
    kind: str

    def path(self, namespace: str, name: str) -> str:
        return f"{KubeAPI.collection(self.api_version, self.plural, namespace)}/{name}"

    def collection(self) -> str:
        """Every object of the kind, in all namespaces (what a controller lists and watches)."""
        return KubeAPI.collection(self.api_version, self.plural)


SOURCE = FluxKind("source.toolkit.fluxcd.io/v1", "gitrepositories", "GitRepository")
KUSTOMIZE = FluxKind("kustomize.toolkit.fluxcd.io/v1", "kustomizations", "Kustomization")


SOURCE_CONTROLLER = "source-controller"


def user_agent(controller: str) -> str:
    """`flux-sandbox-<controller>/<slipway version>`: names the emulator, not real Flux, in
    the API server's and the forge's logs."""
    try:
        release = version("slipway")
    except PackageNotFoundError:
        release = "dev"
    return f"flux-sandbox-{controller}/{release}"


@dataclass(frozen=True)
class Key:
    kind: str  # "GitRepository" or "Kustomization"
    namespace: str
    name: str

    @classmethod
    def of(cls, kind: FluxKind, obj: dict[str, Any]) -> Key:
        meta = obj["metadata"]
        return cls(kind.kind, meta.get("namespace", ""), meta["name"])


def generation_of(obj: dict[str, Any]) -> int:
    return int(obj["metadata"].get("generation", 1))


# Both controllers put it on every object they reconcile, so a delete waits for them: the
# kustomize-controller prunes what it applied, the source-controller drops its artifacts.
FINALIZER = "finalizers.fluxcd.io"


def finalizers_of(obj: dict[str, Any]) -> list[str]:
    return list(obj["metadata"].get("finalizers") or [])


def being_deleted(obj: dict[str, Any]) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"


def requested_at(obj: dict[str, Any]) -> str | None:
    """The `flux reconcile` request token, answered in status.lastHandledReconcileAt."""
    value = (obj["metadata"].get("annotations") or {}).get(REQUESTED_AT)
    return str(value) if value else None
