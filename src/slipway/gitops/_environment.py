"""Environments' objects applied in dependency order with the fewest round trips: the
cluster-scoped objects (Namespaces) of every environment first, then everything that lives in
them, all environments at once: two round trips however many environments there are."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
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


async def apply_all(
    client: ClusterClient, specs: Sequence[EnvironmentSpec], *, force: bool
) -> list[list[ObjectResult]]:
    """Per spec, its objects' outcomes in apply order. Every cluster-scoped object of every
    environment concurrently; then, concurrently, the namespaced rest of each environment
    whose cluster-scoped objects all applied (the others' are skipped with that cause). Every
    object is tried, and each failure is recorded, not raised."""
    objects = [environment_objects(spec) for spec in specs]
    first = [[o for o in objs if "namespace" not in o["metadata"]] for objs in objects]
    rest = [[o for o in objs if "namespace" in o["metadata"]] for objs in objects]
    outcomes = await _attempt_all(client, first, force=force)
    failed = [next((o for o in done if not o.ok), None) for done in outcomes]
    later = await _attempt_all(
        client, [[] if f else r for r, f in zip(rest, failed, strict=True)], force=force
    )
    results: list[list[ObjectResult]] = []
    for objs, done, then, remaining, cause in zip(
        objects, outcomes, later, rest, failed, strict=True
    ):
        if cause is not None:
            then = [ObjectResult(object_ref(o), error=cause.error, skipped=True) for o in remaining]
        by_ref = {o.ref: o for o in [*done, *then]}
        results.append([by_ref[object_ref(o)] for o in objs])
    return results


async def apply_outcomes(
    client: ClusterClient, spec: EnvironmentSpec, *, force: bool
) -> list[ObjectResult]:
    """One environment's outcomes, in apply order (see `apply_all`)."""
    return (await apply_all(client, [spec], force=force))[0]


async def _attempt_all(
    client: ClusterClient, groups: list[list[Manifest]], *, force: bool
) -> list[list[ObjectResult]]:
    """Every object of every group at once; the outcomes grouped as given."""
    flat = await asyncio.gather(
        *(_attempt(client, obj, force=force) for group in groups for obj in group)
    )
    grouped: list[list[ObjectResult]] = []
    start = 0
    for group in groups:
        grouped.append(list(flat[start : start + len(group)]))
        start += len(group)
    return grouped


async def _attempt(client: ClusterClient, obj: Manifest, *, force: bool) -> ObjectResult:
    try:
        return ObjectResult(object_ref(obj), applied=await client.apply_object(obj, force=force))
    except SlipwayError as exc:
        return ObjectResult(object_ref(obj), error=exc)
