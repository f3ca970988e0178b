"""One environment's objects as a unit: apply in dependency order with the fewest round
trips, and delete in the order that lets Flux clean up after itself."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from slipway.domain.errors import SlipwayError
from slipway.domain.model import ResourceKind
from slipway.domain.names import ResourceNames
from slipway.gitops import _waiting
from slipway.gitops._resources import kind_info
from slipway.gitops.manifests import Manifest, environment_objects
from slipway.gitops.results import DeletedObject, ObjectRef, ObjectResult
from slipway.gitops.spec import EnvironmentSpec

if TYPE_CHECKING:
    from slipway.gitops.cluster import ClusterClient

# Kustomization first so Flux prunes what it deployed (as the reconciler, which must still
# exist), then its source and credential, then the reconciler's RBAC, the namespace last.
DELETE_ORDER: Final = (
    ResourceKind.KUSTOMIZATION,
    ResourceKind.GIT_REPOSITORY,
    ResourceKind.SECRET,
    ResourceKind.ROLE_BINDING,
    ResourceKind.SERVICE_ACCOUNT,
    ResourceKind.NAMESPACE,
)


def object_ref(obj: Manifest) -> ObjectRef:
    meta = obj["metadata"]
    return ObjectRef(ResourceKind(obj["kind"]), meta["name"], meta.get("namespace"))


async def apply_outcomes(
    client: ClusterClient, spec: EnvironmentSpec, *, force: bool
) -> list[ObjectResult]:
    """The Namespace first (everything else lives in it), then the rest concurrently; every
    object is tried, and each failure is recorded rather than raised."""
    first, *rest = environment_objects(spec)
    namespace = await _attempt(client, first, force=force)
    if not namespace.ok:
        skipped = (ObjectResult(object_ref(o), error=namespace.error, skipped=True) for o in rest)
        return [namespace, *skipped]
    others = await asyncio.gather(*(_attempt(client, o, force=force) for o in rest))
    return [namespace, *others]


async def _attempt(client: ClusterClient, obj: Manifest, *, force: bool) -> ObjectResult:
    try:
        return ObjectResult(object_ref(obj), applied=await client.apply_object(obj, force=force))
    except SlipwayError as exc:
        return ObjectResult(object_ref(obj), error=exc)


async def delete_environment(
    client: ClusterClient, slug: str, environment: str, *, prune_timeout: float
) -> list[DeletedObject]:
    names = ResourceNames(slug, environment)
    by_kind = {
        ResourceKind.KUSTOMIZATION: names.kustomization,
        ResourceKind.GIT_REPOSITORY: names.git_repository,
        ResourceKind.SECRET: names.git_secret,
        ResourceKind.ROLE_BINDING: names.role_binding,
        ResourceKind.SERVICE_ACCOUNT: names.service_account,
        ResourceKind.NAMESPACE: names.namespace,
    }
    deleted: list[DeletedObject] = []
    for kind in DELETE_ORDER:
        name = by_kind[kind]
        ns = None if kind is ResourceKind.NAMESPACE else names.namespace
        existed = await client.delete_object(kind, name, ns)
        if existed and kind is ResourceKind.KUSTOMIZATION:
            await _waiting.wait_gone(client, kind_info(kind), name, ns, prune_timeout)
        deleted.append(DeletedObject(ObjectRef(kind, name, ns), existed))
    return deleted
