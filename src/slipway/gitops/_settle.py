"""When an environment has settled: every kind with a Ready condition (the GitRepository,
then the Kustomization that deploys it) is Ready; or one has failed for its latest generation
for `FAILURE_SETTLE_SECONDS` in a way Flux will not clear by itself; or time is up.

Each object is waited on through the client's shared `StatusWatch` (one watch per kind
across the cluster, so waiting makes no request once it runs), in apply order: a Kustomization
cannot be Ready before its source.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from dataclasses import replace
from typing import TYPE_CHECKING, Final

from slipway.domain.model import ResourceStatus
from slipway.domain.names import ResourceNames
from slipway.gitops._status_watch import StatusWatch
from slipway.gitops.kinds import apply_order
from slipway.gitops.results import ObjectRef, ObjectStatus, SettledEnvironment

if TYPE_CHECKING:
    from slipway.gitops.cluster import ClusterClient

# A source not fetched yet is reconciling already (`results.waiting_for_source`) and is waited
# out; any other failure for the latest generation is taken as the answer after a short grace.
# `wait: true` ran out of spec.timeout while workloads were still rolling out (not stalled):
# Flux tries again, and a slow rollout is not a broken one.
# kustomize-controller says "health check failed after 2m0s: timeout waiting for: [...]".
HEALTH_TIMEOUT: Final = ("HealthCheckFailed", ": timeout waiting for: ")
FAILURE_SETTLE_SECONDS: Final = 5.0


async def settle_environment(
    client: ClusterClient,
    names: ResourceNames,
    within: float,
    *,
    grace: float = FAILURE_SETTLE_SECONDS,
    revision: str | None = None,
) -> SettledEnvironment:
    """The statuses of the environment's kinds with a Ready condition, in apply order, once
    settled (see the module docstring; `grace` is how long a failure must last); never
    raises for a status, only for the cluster. With `revision` (a commit sha), an object is
    Ready only once it reports that revision: objects that were Ready before this apply (an
    adopted project) otherwise look settled at their old commit."""
    deadline = asyncio.get_running_loop().time() + within
    watch = client.status_watch
    waited = [info.ref(names) for info in apply_order() if info.has_ready]
    ready: list[ObjectStatus] = []
    for index, ref in enumerate(waited):
        status = await _settle(client, watch, ref, deadline, grace, revision)
        if status.status is not ResourceStatus.READY:
            # The others' latest too, so the answer names the cause wherever it is.
            others = [await _latest(client, watch, o) for o in waited if o != ref]
            found = (*others[:index], status, *others[index:])
            return SettledEnvironment(tuple(map(_still_working, found)))
        ready.append(status)
    return SettledEnvironment(tuple(ready))


async def _latest(client: ClusterClient, watch: StatusWatch, ref: ObjectRef) -> ObjectStatus:
    """From the watch; read from the server only when the watch does not know yet."""
    known = watch.status(ref)
    if known is not None:
        return known
    return await client.read_status(ref.kind, ref.name, ref.namespace)


async def _settle(
    client: ClusterClient,
    watch: StatusWatch,
    ref: ObjectRef,
    deadline: float,
    grace: float,
    revision: str | None,
) -> ObjectStatus:
    """Follows one object until it is Ready, has failed for good, or `deadline` passes."""
    loop = asyncio.get_running_loop()
    updates = watch.changes(ref)
    status: ObjectStatus | None = None
    failing_since: float | None = None
    async with aclosing(updates):
        while True:
            until = deadline
            if failing_since is not None:
                until = min(until, failing_since + grace)
            try:
                async with asyncio.timeout_at(until):
                    status = await anext(updates)
            except TimeoutError:
                break
            if status.status is ResourceStatus.READY and at(status, revision):
                return status
            failing_since = (failing_since or loop.time()) if failed_for_good(status) else None
    if status is None:  # the deadline passed before the watch knew the object
        return await _latest(client, watch, ref)
    return status


def _still_working(status: ObjectStatus) -> ObjectStatus:
    """A failure Flux is still retrying when time ran out (a source not fetched yet, a slow
    rollout) is reconciling, not failed: the status sync records how it ends."""
    if status.status is ResourceStatus.FAILED and not failed_for_good(status):
        return replace(status, status=ResourceStatus.RECONCILING)
    return status


def at(status: ObjectStatus, revision: str | None) -> bool:
    """Whether the object reports `revision` (Flux writes `<branch>@sha1:<sha>`); any
    revision will do when none is expected."""
    return revision is None or (status.revision or "").endswith(revision)


def failed_for_good(status: ObjectStatus) -> bool:
    """Failed for the latest generation, for a reason Flux will not clear by itself."""
    return (
        status.status is ResourceStatus.FAILED
        and status.observed_generation == status.generation
        and not _transient(status)
    )


def _transient(status: ObjectStatus) -> bool:
    ready = status.ready
    return ready is None or (
        ready.reason == HEALTH_TIMEOUT[0] and HEALTH_TIMEOUT[1] in ready.message
    )
