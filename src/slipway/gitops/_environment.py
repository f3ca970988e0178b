"""One environment's objects as a unit, applied in dependency order with the fewest round
trips: cluster-scoped objects (the Namespace) first, then everything that lives in them."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from slipway.domain.errors import SlipwayError
from slipway.gitops.kinds import kind_info
from slipway.gitops.manifests import Manifest, environment_objects
from slipway.gitops.results import ObjectRef, ObjectResult
from slipway.gitops.spec import EnvironmentSpec

if TYPE_CHECKING:
    from slipway.gitops.cluster import ClusterClient


def object_ref(obj: Manifest) -> ObjectRef:
    meta = obj["metadata"]
    return ObjectRef(kind_info(obj["kind"]).kind, meta["name"], meta.get("namespace"))


async def apply_outcomes(
    client: ClusterClient, spec: EnvironmentSpec, *, force: bool
) -> list[ObjectResult]:
    """Cluster-scoped objects first, concurrently, then (if they all applied) the namespaced
    rest, concurrently; every object is tried, and each failure is recorded, not raised.
    Results come in apply order."""
    objects = environment_objects(spec)
    first = [o for o in objects if "namespace" not in o["metadata"]]
    rest = [o for o in objects if "namespace" in o["metadata"]]
    outcomes = list(await asyncio.gather(*(_attempt(client, o, force=force) for o in first)))
    failed = next((o for o in outcomes if not o.ok), None)
    if failed is not None:
        outcomes += [ObjectResult(object_ref(o), error=failed.error, skipped=True) for o in rest]
    else:
        outcomes += await asyncio.gather(*(_attempt(client, o, force=force) for o in rest))
    by_ref = {o.ref: o for o in outcomes}
    return [by_ref[object_ref(o)] for o in objects]


async def _attempt(client: ClusterClient, obj: Manifest, *, force: bool) -> ObjectResult:
    try:
        return ObjectResult(object_ref(obj), applied=await client.apply_object(obj, force=force))
    except SlipwayError as exc:
        return ObjectResult(object_ref(obj), error=exc)
