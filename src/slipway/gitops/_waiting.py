"""Waiting on the cluster by watching (not polling): until an object is Ready, or gone.

Both start from a read and then watch from that object's resourceVersion, so a change made
between the read and the watch is not missed.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from typing import TYPE_CHECKING

from slipway.domain.errors import ClusterError
from slipway.domain.model import ResourceStatus
from slipway.gitops._errors import SYSTEM
from slipway.gitops._resources import KindInfo
from slipway.gitops.results import ObjectRef, ObjectStatus, object_status

if TYPE_CHECKING:
    from slipway.gitops.cluster import ClusterClient


async def wait_ready(
    client: ClusterClient, info: KindInfo, name: str, namespace: str | None, within: float
) -> ObjectStatus:
    ref = ObjectRef(info.kind, name, namespace)
    status = await client.read_status(info.kind, name, namespace)
    if status.status is ResourceStatus.READY:
        return status
    try:
        async with asyncio.timeout(within):
            events = client.watch_object(info.kind, name, namespace, status.resource_version)
            async with aclosing(events):
                async for obj in events:
                    status = object_status(ref, obj, has_ready=info.is_flux)
                    if status.status is ResourceStatus.READY:
                        return status
    except TimeoutError:
        pass
    detail = f": {status.message}" if status.message else ""
    where = f" -n {namespace}" if namespace else ""
    raise ClusterError(
        f'{info.kind.value} "{name}" is not Ready after {within:g}s '
        f"(status {status.status.value}){detail}",
        system=SYSTEM,
        hint=f"inspect it with `kubectl describe {info.qualified} {name}{where}`",
    )


async def wait_gone(
    client: ClusterClient, info: KindInfo, name: str, namespace: str | None, within: float
) -> None:
    """Returns once the object no longer exists (a finalizer may hold it for a while)."""
    obj = await client.read_object(info.kind, name, namespace)
    if obj is None:
        return
    version = (obj.get("metadata") or {}).get("resourceVersion")
    try:
        async with asyncio.timeout(within):
            events = client.watch_object(info.kind, name, namespace, version)
            async with aclosing(events):
                async for seen in events:
                    if seen is None:
                        return
    except TimeoutError:
        pass
    if await client.read_object(info.kind, name, namespace) is None:
        return
    raise ClusterError(
        f'{info.kind.value} "{name}" in namespace "{namespace}" is still there after '
        f"{within:g}s: Flux has not finished pruning what it deployed",
        system=SYSTEM,
        hint="check that kustomize-controller is running (`flux check`), then delete again",
    )
