"""GitOps adapter: the objects of each environment (pure builders), the cluster they are
server-side applied to (lightkube, field manager `slipway`), and the cluster preflight.

Nothing outside this package imports lightkube; callers get the values in `results`.
"""

from slipway.gitops._environment import DELETE_ORDER
from slipway.gitops._errors import FluxNotInstalled
from slipway.gitops.cluster import ClusterClient
from slipway.gitops.manifests import environment_objects, render_yaml
from slipway.gitops.preflight import require_preflight, run_preflight
from slipway.gitops.results import (
    AppliedObject,
    DeletedObject,
    EnvironmentResult,
    ObjectRef,
    ObjectResult,
    ObjectStatus,
)
from slipway.gitops.spec import BasicAuth, EnvironmentSpec, GitCredentials, SSHAuth

__all__ = [
    "DELETE_ORDER",
    "AppliedObject",
    "BasicAuth",
    "ClusterClient",
    "DeletedObject",
    "EnvironmentResult",
    "EnvironmentSpec",
    "FluxNotInstalled",
    "GitCredentials",
    "ObjectRef",
    "ObjectResult",
    "ObjectStatus",
    "SSHAuth",
    "environment_objects",
    "render_yaml",
    "require_preflight",
    "run_preflight",
]
