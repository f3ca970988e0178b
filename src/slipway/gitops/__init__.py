"""GitOps adapter: the kind registry and the objects of each environment (pure builders), the
cluster they are server-side applied to and watched on (lightkube, field manager `slipway`;
one long-lived `ClusterClient` per event loop, whose `StatusWatch` follows every object Slipway
manages), and the cluster preflight (a pass remembered for a minute).

Nothing outside this package imports lightkube; callers get the values in `results`.
"""

from slipway.gitops._errors import FluxNotInstalled
from slipway.gitops._settle import settle_environment
from slipway.gitops._status_watch import StatusWatch
from slipway.gitops.cluster import ClusterClient
from slipway.gitops.kinds import (
    KINDS,
    KindInfo,
    apply_order,
    delete_order,
    environment_refs,
    kind_info,
)
from slipway.gitops.manifests import environment_objects, render_yaml
from slipway.gitops.ownership import ADOPT_HINT, EnvironmentClaim, check_ownership
from slipway.gitops.preflight import (
    forget_preflight,
    remembered_preflight,
    require_preflight,
    run_preflight,
)
from slipway.gitops.results import (
    AppliedObject,
    EnvironmentResult,
    ObjectRef,
    ObjectResult,
    ObjectStatus,
    SettledEnvironment,
)
from slipway.gitops.spec import BasicAuth, EnvironmentSpec, GitCredentials, SSHAuth

__all__ = [
    "ADOPT_HINT",
    "KINDS",
    "AppliedObject",
    "BasicAuth",
    "ClusterClient",
    "EnvironmentClaim",
    "EnvironmentResult",
    "EnvironmentSpec",
    "FluxNotInstalled",
    "GitCredentials",
    "KindInfo",
    "ObjectRef",
    "ObjectResult",
    "ObjectStatus",
    "SSHAuth",
    "SettledEnvironment",
    "StatusWatch",
    "apply_order",
    "check_ownership",
    "delete_order",
    "environment_objects",
    "environment_refs",
    "forget_preflight",
    "kind_info",
    "remembered_preflight",
    "render_yaml",
    "require_preflight",
    "run_preflight",
    "settle_environment",
]
