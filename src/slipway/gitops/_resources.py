"""lightkube resource classes for the kinds Slipway manages, built once at import.

The Flux kinds are generic resources (`create_namespaced_resource`), so no Flux model
package is needed; `is_flux` marks the kinds whose absence means "Flux is not installed".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.core_v1 import Namespace, Secret, ServiceAccount
from lightkube.resources.rbac_authorization_v1 import RoleBinding

from slipway.domain.model import ResourceKind
from slipway.gitops.defaults import FLUX_KUSTOMIZE_GROUP, FLUX_SOURCE_GROUP, FLUX_VERSION

GitRepository: Any = create_namespaced_resource(
    FLUX_SOURCE_GROUP, FLUX_VERSION, "GitRepository", "gitrepositories"
)
Kustomization: Any = create_namespaced_resource(
    FLUX_KUSTOMIZE_GROUP, FLUX_VERSION, "Kustomization", "kustomizations"
)


@dataclass(frozen=True)
class KindInfo:
    """What the adapter needs to call, describe and authorize one kind."""

    kind: ResourceKind
    resource: Any  # a lightkube resource class
    group: str
    plural: str
    namespaced: bool
    is_flux: bool = False

    @property
    def qualified(self) -> str:
        """`plural.group`, as RBAC and `kubectl auth can-i` name a resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def crd_name(self) -> str:
        return self.qualified


KINDS: dict[ResourceKind, KindInfo] = {
    ResourceKind.NAMESPACE: KindInfo(ResourceKind.NAMESPACE, Namespace, "", "namespaces", False),
    ResourceKind.SECRET: KindInfo(ResourceKind.SECRET, Secret, "", "secrets", True),
    ResourceKind.SERVICE_ACCOUNT: KindInfo(
        ResourceKind.SERVICE_ACCOUNT, ServiceAccount, "", "serviceaccounts", True
    ),
    ResourceKind.ROLE_BINDING: KindInfo(
        ResourceKind.ROLE_BINDING, RoleBinding, "rbac.authorization.k8s.io", "rolebindings", True
    ),
    ResourceKind.GIT_REPOSITORY: KindInfo(
        ResourceKind.GIT_REPOSITORY,
        GitRepository,
        FLUX_SOURCE_GROUP,
        "gitrepositories",
        True,
        is_flux=True,
    ),
    ResourceKind.KUSTOMIZATION: KindInfo(
        ResourceKind.KUSTOMIZATION,
        Kustomization,
        FLUX_KUSTOMIZE_GROUP,
        "kustomizations",
        True,
        is_flux=True,
    ),
}

FLUX_CRDS: tuple[str, ...] = tuple(i.crd_name for i in KINDS.values() if i.is_flux)


def kind_info(kind: ResourceKind | str) -> KindInfo:
    return KINDS[ResourceKind(kind)]
