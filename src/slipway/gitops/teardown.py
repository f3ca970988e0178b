"""Taking down what Slipway applied for a project, and nothing else.

Only objects labelled for this project, environment and installation are deleted; a namespace
is deleted only when it is this environment's. Before anything is deleted, every one of the
project's own namespaces is read whole (every namespaced kind the API server serves): an
object in it that is neither Slipway's for this environment, nor made by the cluster itself
(the `default` ServiceAccount, `kube-root-ca.crt`, service-account token Secrets, objects a
controller owns), nor applied by this environment's Kustomization (Flux prunes those) is a
`Conflict` naming it, and nothing is deleted.

Deleting is idempotent (an object already gone is success), and the waits are bounded: a
Kustomization goes only once Flux's finalizer has pruned its workloads, a Namespace once the
namespace controller has emptied it; what is still there at the deadline is named in a
`ClusterError`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from slipway.domain.errors import ClusterError, Conflict, NotFound
from slipway.domain.names import ResourceKind
from slipway.domain.text import t
from slipway.gitops._errors import SYSTEM, Operation
from slipway.gitops.cluster import ClusterClient
from slipway.gitops.kinds import KindInfo, delete_order, kind_info
from slipway.gitops.ownership import Claim, ObjectOwner, refusal
from slipway.gitops.results import ObjectRef

# kustomize-controller's labels on everything it applies (fluxcd/pkg/ssa owner labels).
FLUX_OWNER_NAME: Final = "kustomize.toolkit.fluxcd.io/name"
FLUX_OWNER_NAMESPACE: Final = "kustomize.toolkit.fluxcd.io/namespace"
# What the cluster itself puts in every namespace.
CLUSTER_MADE: Final = frozenset({("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")})
TOKEN_SECRET: Final = "kubernetes.io/service-account-token"  # noqa: S105 - a Secret type
# Kinds that are records or views rather than objects someone placed: never a reason to stop.
NOT_CONTENT: Final = frozenset({("", "events"), ("events.k8s.io", "events")})
NOT_CONTENT_GROUPS: Final = frozenset({"metrics.k8s.io"})
AGGREGATED_DISCOVERY: Final = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
)
POLL_SECONDS: Final = 0.25


@dataclass(frozen=True)
class ServedKind:
    """A namespaced, listable kind the API server serves (from discovery)."""

    group: str
    version: str
    kind: str
    plural: str

    def collection(self, namespace: str) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        return f"{base}/namespaces/{namespace}/{self.plural}"

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


# -- the check ------------------------------------------------------------------------------


async def check_teardown(
    client: ClusterClient, claims: Sequence[Claim], *, project: str, step: str | None = None
) -> None:
    """Raises a `Conflict` naming every object in the environments' own namespaces that is
    not the project's to delete (see the module's docstring). Reads only. `project` is the
    project's name, for the hint."""
    namespaces = await _namespaces(client, claims)
    scanned = [
        claim
        for claim, namespace in zip(claims, namespaces, strict=True)
        if namespace is not None and _ours(claim, namespace) and not _terminating(namespace)
    ]
    if not scanned:
        return
    kinds = await served_kinds(client)
    contents = await asyncio.gather(
        *(_list(client, kind, claim.names.namespace) for claim in scanned for kind in kinds)
    )
    strangers: list[str] = []
    listed = iter(contents)
    for claim in scanned:
        for kind in kinds:
            for obj in next(listed):
                if not _may_go(claim, kind, obj):
                    meta = obj.get("metadata") or {}
                    strangers.append(f"{kind.kind} {claim.names.namespace}/{meta.get('name')}")
    if strangers:
        raise Conflict(
            t(
                "{strangers} is in the project's namespace but not Slipway's: deleting "
                "the namespace would delete it, so nothing was deleted",
                strangers=strangers[0],
            )
            if len(strangers) == 1
            else t(
                "{strangers} are in the project's namespace but not Slipway's: deleting "
                "the namespace would delete them, so nothing was deleted",
                strangers=", ".join(strangers),
            ),
            step=step,
            system=SYSTEM,
            hint=t(
                "move or delete these objects yourself (or give them to the "
                "project's repository, whose Kustomization Flux prunes), "
                "then run `slipway project delete {project}` again",
                project=project,
            ),
        )


def _may_go(claim: Claim, kind: ServedKind, obj: dict[str, Any]) -> bool:
    """Whether `obj`, found in the environment's own namespace, may be deleted with it."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    if (kind.kind, meta.get("name")) in CLUSTER_MADE and not kind.group:
        return True
    if kind.kind == "Secret" and not kind.group and obj.get("type") == TOKEN_SECRET:
        return True
    if meta.get("ownerReferences"):
        return True  # a controller's (a ReplicaSet's Pod...): garbage-collected with its owner
    if labels.get(FLUX_OWNER_NAME) == claim.names.kustomization and (
        labels.get(FLUX_OWNER_NAMESPACE) == claim.names.namespace
    ):
        return True  # applied from the repository by this environment's Kustomization
    return refusal(claim, ObjectOwner.of(obj)) is None


async def served_kinds(client: ClusterClient) -> list[ServedKind]:
    """Every namespaced kind the API server serves that can be listed and holds content, in
    its preferred version (aggregated discovery: two requests)."""
    core, named = await asyncio.gather(_discover(client, "/api"), _discover(client, "/apis"))
    kinds: list[ServedKind] = []
    for group in [*core, *named]:
        name = (group.get("metadata") or {}).get("name") or ""
        versions = group.get("versions") or []
        if not versions or name in NOT_CONTENT_GROUPS:
            continue
        preferred = versions[0]  # the server lists the preferred version first
        for resource in preferred.get("resources") or []:
            plural = str(resource.get("resource") or "")
            if (
                resource.get("scope") != "Namespaced"
                or "list" not in (resource.get("verbs") or [])
                or (name, plural) in NOT_CONTENT
            ):
                continue
            kind = str((resource.get("responseKind") or {}).get("kind") or "")
            kinds.append(ServedKind(name, str(preferred.get("version")), kind, plural))
    return kinds


async def _discover(client: ClusterClient, path: str) -> list[dict[str, Any]]:
    op = Operation("get", resource=f"discovery {path}")
    body = await client.get_json(path, op=op, accept=AGGREGATED_DISCOVERY)
    if body.get("kind") != "APIGroupDiscoveryList":
        raise ClusterError(
            t(
                "the Kubernetes API at {server} does not serve aggregated discovery",
                server=client.server,
            ),
            system=SYSTEM,
            hint=t("Slipway needs Kubernetes 1.30 or newer to check a namespace is empty"),
        )
    items: list[dict[str, Any]] = body.get("items") or []
    return items


async def _list(client: ClusterClient, kind: ServedKind, namespace: str) -> list[dict[str, Any]]:
    """Every object of `kind` in `namespace`, page by page; none when the kind or the
    namespace went away meanwhile."""
    op = Operation("list", namespace=namespace, resource=kind.qualified)
    items: list[dict[str, Any]] = []
    params = {"limit": "500"}
    try:
        while True:
            body = await client.get_json(kind.collection(namespace), op=op, params=params)
            items += body.get("items") or []
            more = (body.get("metadata") or {}).get("continue")
            if not more:
                return items
            params = {"limit": "500", "continue": str(more)}
    except NotFound:
        return []


# -- deleting -------------------------------------------------------------------------------


async def delete_kustomizations(client: ClusterClient, claims: Sequence[Claim]) -> list[ObjectRef]:
    """Deletes each environment's Kustomization (Flux's finalizer then prunes what it
    applied); returns those still present, to wait for with `wait_gone`."""
    return await _delete_kinds(client, claims, [kind_info(ResourceKind.KUSTOMIZATION)])


async def kustomizations_present(client: ClusterClient, claims: Sequence[Claim]) -> list[ObjectRef]:
    """The environments' Kustomizations that exist and are theirs (one a run before deleted
    may still be pruning); one another installation adopted is not waited for."""
    return await _present(client, claims, kind_info(ResourceKind.KUSTOMIZATION))


async def delete_environment_objects(
    client: ClusterClient, claims: Sequence[Claim]
) -> list[ObjectRef]:
    """Deletes every other object of the environments in the registry's delete order (the
    sources, Secrets, RBAC), then the environments' own Namespaces; returns what is still
    present (objects with finalizers, Terminating namespaces), to wait for."""
    kinds = [
        info
        for info in delete_order()
        if info.kind not in (ResourceKind.KUSTOMIZATION, ResourceKind.NAMESPACE)
    ]
    objects = await _delete_kinds(client, claims, kinds)
    namespaces = await _delete_kinds(client, claims, [kind_info(ResourceKind.NAMESPACE)])
    return [*objects, *namespaces]


async def _delete_kinds(
    client: ClusterClient, claims: Sequence[Claim], kinds: Iterable[KindInfo]
) -> list[ObjectRef]:
    """Deletes, kind by kind (all environments at once), each object that is this
    environment's; another's, or an unlabelled one, is left as it is."""
    remaining: list[ObjectRef] = []
    for info in kinds:
        doomed = await _present(client, claims, info)
        await asyncio.gather(*(client.delete_object(ref) for ref in doomed))
        remaining += doomed
    return remaining


async def _present(
    client: ClusterClient, claims: Sequence[Claim], info: KindInfo
) -> list[ObjectRef]:
    """Each environment's object of this kind that exists and is that environment's."""
    refs = [(claim, info.ref(claim.names)) for claim in claims]
    found = await asyncio.gather(
        *(client.read_object(ref.kind, ref.name, ref.namespace) for _, ref in refs)
    )
    return [
        ref
        for (claim, ref), obj in zip(refs, found, strict=True)
        if obj is not None and refusal(claim, ObjectOwner.of(obj)) is None
    ]


async def wait_gone(
    client: ClusterClient, refs: Sequence[ObjectRef], *, within: float, step: str | None = None
) -> None:
    """Returns once none of `refs` exists; a `ClusterError` naming each one still there
    (its finalizers, or the namespace's own account of what remains) after `within` s."""
    deadline = time.monotonic() + within
    left = list(refs)
    while True:
        found = await asyncio.gather(
            *(client.read_object(ref.kind, ref.name, ref.namespace) for ref in left)
        )
        stuck = [(ref, obj) for ref, obj in zip(left, found, strict=True) if obj is not None]
        if not stuck:
            return
        if time.monotonic() > deadline:
            raise _stuck(stuck, within, step)
        left = [ref for ref, _ in stuck]
        await asyncio.sleep(POLL_SECONDS)


def _stuck(
    stuck: Sequence[tuple[ObjectRef, dict[str, Any]]], within: float, step: str | None
) -> ClusterError:
    described = []
    for ref, obj in stuck:
        where = f"{ref.namespace}/" if ref.namespace else ""
        meta = obj.get("metadata") or {}
        why = f"finalizers {', '.join(meta['finalizers'])}" if meta.get("finalizers") else ""
        if ref.kind == ResourceKind.NAMESPACE:
            remains = [
                str(c.get("message"))
                for c in (obj.get("status") or {}).get("conditions") or []
                if c.get("status") == "True" and c.get("message")
            ]
            why = "; ".join(remains) or "Terminating"
        described.append(f"{ref.kind} {where}{ref.name}" + (f" ({why})" if why else ""))
    flux = any(ref.kind == ResourceKind.KUSTOMIZATION for ref, _ in stuck)
    hint = (
        t(
            "Flux's kustomize-controller removes its finalizer once it has pruned the workloads: "
            "check that it runs (`flux check`, `kubectl -n flux-system logs "
            "deploy/kustomize-controller`), then run the delete again to resume"
        )
        if flux
        else t(
            "check what holds them (`kubectl get <kind> -o yaml`: finalizers, and the "
            "namespace's conditions), then run the delete again to resume"
        )
    )
    return ClusterError(
        t(
            "still there after {within:.0f} s: {described}",
            within=within,
            described="; ".join(described),
        ),
        step=step,
        system=SYSTEM,
        hint=hint,
    )


# -- helpers --------------------------------------------------------------------------------


async def _namespaces(
    client: ClusterClient, claims: Sequence[Claim]
) -> list[dict[str, Any] | None]:
    return list(
        await asyncio.gather(
            *(client.read_object(ResourceKind.NAMESPACE, c.names.namespace) for c in claims)
        )
    )


def _ours(claim: Claim, obj: dict[str, Any]) -> bool:
    return refusal(claim, ObjectOwner.of(obj)) is None


def _terminating(namespace: dict[str, Any]) -> bool:
    return bool((namespace.get("metadata") or {}).get("deletionTimestamp")) or (
        (namespace.get("status") or {}).get("phase") == "Terminating"
    )
