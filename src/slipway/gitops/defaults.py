"""Every constant the generated objects share, in one place (flux2's `manifestgen/labels.go`):
label keys, the field manager, API groups, and the default Flux intervals. Each kind's API
version is its entry in `kinds.KINDS`."""

from __future__ import annotations

from typing import Final

FIELD_MANAGER: Final = "slipway"

LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
LABEL_PROJECT: Final = "slipway.dev/project"
LABEL_ENVIRONMENT: Final = "slipway.dev/environment"
# Which Slipway installation owns the object: another one's objects are never touched.
LABEL_INSTALLATION: Final = "slipway.dev/installation"
MANAGED_BY: Final = "slipway"

DEFAULT_BRANCH: Final = "main"
# How often source-controller polls the repository, and kustomize-controller re-applies it.
SOURCE_INTERVAL: Final = "1m"
KUSTOMIZATION_INTERVAL: Final = "5m"
KUSTOMIZATION_TIMEOUT: Final = "2m"

# The Kustomization runs as a per-namespace ServiceAccount bound (by a RoleBinding, so only in
# its own namespace) to the built-in `admin` ClusterRole. `flux create tenant` defaults to
# `cluster-admin`; `admin` is narrower: it cannot edit ResourceQuota/LimitRange or the
# namespace itself, so a project's repository cannot lift the limits a platform team set.
RECONCILER_CLUSTER_ROLE: Final = "admin"

FLUX_SOURCE_GROUP: Final = "source.toolkit.fluxcd.io"
FLUX_KUSTOMIZE_GROUP: Final = "kustomize.toolkit.fluxcd.io"
FLUX_VERSION: Final = "v1"
RBAC_GROUP: Final = "rbac.authorization.k8s.io"

FLUX_NAMESPACE: Final = "flux-system"
FLUX_CONTROLLERS: Final = ("source-controller", "kustomize-controller")

REDACTED: Final = "<redacted>"
