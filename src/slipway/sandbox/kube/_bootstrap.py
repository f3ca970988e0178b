"""The RBAC objects a fresh cluster holds: kube-apiserver's bootstrap policy (the part this
emulator needs: `cluster-admin`, the aggregated `admin`/`edit`/`view` for the core, apps,
autoscaling, batch, extensions, policy, networking, discovery, coordination, authorization
and rbac groups, and the roles every authenticated user holds), plus what `flux install`
creates for its controllers."""

from __future__ import annotations

from typing import Any, Final

RBAC: Final = "rbac.authorization.k8s.io"
AGGREGATE_TO = f"{RBAC}/aggregate-to-"
READ: Final = ("get", "list", "watch")
WRITE: Final = ("create", "delete", "deletecollection", "patch", "update")
READ_WRITE: Final = (*READ, *WRITE)
_BOOTSTRAP_LABELS: Final = {"kubernetes.io/bootstrapping": "rbac-defaults"}
_AUTOUPDATE: Final = {"rbac.authorization.kubernetes.io/autoupdate": "true"}


def rule(verbs: tuple[str, ...] | str, group: str, *resources: str) -> dict[str, Any]:
    verb_list = [verbs] if isinstance(verbs, str) else list(verbs)
    return {"verbs": verb_list, "apiGroups": [group], "resources": list(resources)}


def url_rule(verbs: tuple[str, ...] | str, *urls: str) -> dict[str, Any]:
    verb_list = [verbs] if isinstance(verbs, str) else list(verbs)
    return {"verbs": verb_list, "nonResourceURLs": list(urls)}


# policy.go: system:aggregate-to-view
_VIEW_RULES: Final = (
    rule(
        READ,
        "",
        "pods",
        "replicationcontrollers",
        "replicationcontrollers/scale",
        "serviceaccounts",
        "services",
        "services/status",
        "endpoints",
        "persistentvolumeclaims",
        "persistentvolumeclaims/status",
        "configmaps",
    ),
    rule(
        READ,
        "",
        "limitranges",
        "resourcequotas",
        "bindings",
        "events",
        "pods/status",
        "resourcequotas/status",
        "namespaces/status",
        "replicationcontrollers/status",
        "pods/log",
    ),
    rule(READ, "", "namespaces"),
    rule(READ, "discovery.k8s.io", "endpointslices"),
    rule(
        READ,
        "apps",
        "controllerrevisions",
        "statefulsets",
        "statefulsets/scale",
        "statefulsets/status",
        "daemonsets",
        "daemonsets/status",
        "deployments",
        "deployments/scale",
        "deployments/status",
        "replicasets",
        "replicasets/scale",
        "replicasets/status",
    ),
    rule(READ, "autoscaling", "horizontalpodautoscalers", "horizontalpodautoscalers/status"),
    rule(READ, "batch", "jobs", "cronjobs", "cronjobs/status", "jobs/status"),
    rule(
        READ,
        "extensions",
        "daemonsets",
        "daemonsets/status",
        "deployments",
        "deployments/scale",
        "deployments/status",
        "ingresses",
        "ingresses/status",
        "replicasets",
        "replicasets/scale",
        "replicasets/status",
        "replicationcontrollers/scale",
        "networkpolicies",
    ),
    rule(READ, "policy", "poddisruptionbudgets", "poddisruptionbudgets/status"),
    rule(READ, "networking.k8s.io", "networkpolicies", "ingresses", "ingresses/status"),
)
# policy.go: system:aggregate-to-edit
_EDIT_RULES: Final = (
    rule(
        READ,
        "",
        "pods/attach",
        "pods/proxy",
        "pods/exec",
        "pods/portforward",
        "secrets",
        "services/proxy",
    ),
    rule("impersonate", "", "serviceaccounts"),
    rule(WRITE, "", "pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"),
    rule("create", "", "pods/eviction"),
    rule(
        WRITE,
        "",
        "replicationcontrollers",
        "replicationcontrollers/scale",
        "serviceaccounts",
        "services",
        "services/proxy",
        "persistentvolumeclaims",
        "configmaps",
        "secrets",
        "events",
    ),
    rule("create", "", "serviceaccounts/token"),
    rule(
        WRITE,
        "apps",
        "statefulsets",
        "statefulsets/scale",
        "daemonsets",
        "deployments",
        "deployments/scale",
        "deployments/rollback",
        "replicasets",
        "replicasets/scale",
    ),
    rule(WRITE, "autoscaling", "horizontalpodautoscalers"),
    rule(WRITE, "batch", "jobs", "cronjobs"),
    rule(
        WRITE,
        "extensions",
        "daemonsets",
        "deployments",
        "deployments/scale",
        "deployments/rollback",
        "ingresses",
        "replicasets",
        "replicasets/scale",
        "replicationcontrollers/scale",
        "networkpolicies",
    ),
    rule(WRITE, "policy", "poddisruptionbudgets"),
    rule(WRITE, "networking.k8s.io", "networkpolicies", "ingresses"),
    rule(READ_WRITE, "coordination.k8s.io", "leases"),
)
# policy.go: system:aggregate-to-admin
_ADMIN_RULES: Final = (
    rule("create", "authorization.k8s.io", "localsubjectaccessreviews"),
    rule(READ_WRITE, RBAC, "roles", "rolebindings"),
)
BASIC_USER_RULES: Final = (
    rule("create", "authorization.k8s.io", "selfsubjectaccessreviews", "selfsubjectrulesreviews"),
    rule("create", "authentication.k8s.io", "selfsubjectreviews"),
)
PUBLIC_URLS: Final = ("/healthz", "/livez", "/readyz", "/version", "/version/")
DISCOVERY_URLS: Final = (
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/healthz",
    "/livez",
    "/openapi",
    "/openapi/*",
    "/readyz",
    "/version",
    "/version/",
)


def _meta(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "labels": {**_BOOTSTRAP_LABELS, **(labels or {})},
        "annotations": dict(_AUTOUPDATE),
    }


def cluster_role(
    name: str,
    rules: tuple[dict[str, Any], ...] = (),
    *,
    labels: dict[str, str] | None = None,
    aggregate: str | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": meta or _meta(name, labels),
        "rules": [dict(r) for r in rules],
    }
    if aggregate is not None:
        selector = {"matchLabels": {f"{AGGREGATE_TO}{aggregate}": "true"}}
        obj["aggregationRule"] = {"clusterRoleSelectors": [selector]}
    return obj


def cluster_role_binding(
    name: str, role: str, subjects: list[dict[str, str]], *, meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": meta or _meta(name),
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    }


def group(name: str) -> dict[str, str]:
    return {"apiGroup": RBAC, "kind": "Group", "name": name}


def service_account(namespace: str, name: str) -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def bootstrap_policy() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(ClusterRoles, ClusterRoleBindings) as kube-apiserver's storage hook creates them; the
    aggregated roles' rules are left to the aggregation controller."""
    to = AGGREGATE_TO
    roles = [
        cluster_role("cluster-admin", (rule("*", "*", "*"), url_rule("*", "*"))),
        cluster_role("admin", aggregate="admin"),
        cluster_role("edit", labels={f"{to}admin": "true"}, aggregate="edit"),
        cluster_role("view", labels={f"{to}edit": "true"}, aggregate="view"),
        cluster_role("system:aggregate-to-admin", _ADMIN_RULES, labels={f"{to}admin": "true"}),
        cluster_role("system:aggregate-to-edit", _EDIT_RULES, labels={f"{to}edit": "true"}),
        cluster_role("system:aggregate-to-view", _VIEW_RULES, labels={f"{to}view": "true"}),
        cluster_role("system:basic-user", BASIC_USER_RULES),
        cluster_role("system:discovery", (url_rule("get", *DISCOVERY_URLS),)),
        cluster_role("system:public-info-viewer", (url_rule("get", *PUBLIC_URLS),)),
    ]
    authenticated = [group("system:authenticated")]
    bindings = [
        cluster_role_binding("cluster-admin", "cluster-admin", [group("system:masters")]),
        cluster_role_binding("system:basic-user", "system:basic-user", authenticated),
        cluster_role_binding("system:discovery", "system:discovery", authenticated),
        cluster_role_binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            [*authenticated, group("system:unauthenticated")],
        ),
    ]
    return roles, bindings


FLUX_NAMESPACE: Final = "flux-system"
_FLUX_LABELS: Final = {
    "app.kubernetes.io/instance": "flux-system",
    "app.kubernetes.io/part-of": "flux",
}
FLUX_SERVICE_ACCOUNTS: Final = ("source-controller", "kustomize-controller")


def _flux_meta(name: str) -> dict[str, Any]:
    return {"name": name, "labels": dict(_FLUX_LABELS)}


def flux_policy() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(ClusterRoles, ClusterRoleBindings) of `flux install` (manifests/rbac): the controllers'
    own ClusterRole, and `cluster-admin` for kustomize-controller, which applies as
    cluster-admin unless a Kustomization names a service account to impersonate."""
    crd_controller = "crd-controller-flux-system"
    rules = (
        rule("*", "source.toolkit.fluxcd.io", "*"),
        rule("*", "kustomize.toolkit.fluxcd.io", "*"),
        rule(READ, "", "namespaces", "secrets", "configmaps", "serviceaccounts"),
        rule(("create", "patch"), "", "events"),
        rule(READ_WRITE, "", "configmaps"),
        rule(("get", "update", "patch"), "", "configmaps/status"),
        rule(READ_WRITE, "coordination.k8s.io", "leases"),
        rule("create", "", "serviceaccounts/token"),
    )
    controllers = [service_account(FLUX_NAMESPACE, n) for n in FLUX_SERVICE_ACCOUNTS]
    reconciler = "cluster-reconciler-flux-system"
    return (
        [cluster_role(crd_controller, rules, meta=_flux_meta(crd_controller))],
        [
            cluster_role_binding(
                crd_controller, crd_controller, controllers, meta=_flux_meta(crd_controller)
            ),
            cluster_role_binding(
                reconciler,
                "cluster-admin",
                [service_account(FLUX_NAMESPACE, "kustomize-controller")],
                meta=_flux_meta(reconciler),
            ),
        ],
    )


def flux_service_accounts() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {**_flux_meta(name), "namespace": FLUX_NAMESPACE},
        }
        for name in FLUX_SERVICE_ACCOUNTS
    ]
