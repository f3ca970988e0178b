"""The two lightkube calls a status watch is made of: a list (for a resourceVersion) and a
watch stream from there, either filtered to one object (`ClusterClient.watch_status`) or
across the cluster for every object Slipway manages (`StatusWatch`). Errors are mapped by the
callers, which also list again when a stream ends on 410 Gone."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, Final

import httpx2
from lightkube import ApiError, AsyncClient
from lightkube.types import OnErrorAction, OnErrorResult

from slipway.gitops._resources import resource_class
from slipway.gitops.defaults import LABEL_MANAGED_BY, MANAGED_BY
from slipway.gitops.kinds import KindInfo

# A dropped connection is resumed from the last version seen this many times in a row.
WATCH_RESUMES: Final = 3
# The server ends a cluster-wide watch after this long (client-go asks for 5-10 minutes), so a
# connection that died silently is noticed; lightkube then resumes from the last version.
WATCH_SECONDS: Final = 300
ALL_NAMESPACES: Final = "*"
MANAGED: Final[dict[str, Any]] = {LABEL_MANAGED_BY: MANAGED_BY}  # lightkube's selector type


async def list_one(
    client: AsyncClient, info: KindInfo, name: str, namespace: str | None
) -> tuple[dict[str, Any] | None, str | None]:
    """The object (or None) and the list's resourceVersion: a watch can start there even when
    the object does not exist, and it is recent enough for the server to still know it."""
    items = client.list(resource_class(info), namespace=namespace, fields={"metadata.name": name})
    found: list[dict[str, Any]] = [item.to_dict() async for item in items]
    return (found[0] if found else None), items.resourceVersion


async def changes(
    client: AsyncClient, info: KindInfo, name: str, namespace: str | None, version: str | None
) -> AsyncGenerator[dict[str, Any] | None, None]:
    """The object (None once deleted) at each change after `version`. lightkube resumes a
    stream the server closed from the last version it saw; this ends on 410 Gone."""
    stream: Any = client.watch(
        resource_class(info),
        namespace=namespace,
        fields={"metadata.name": name},
        resource_version=version,
        on_error=on_watch_error,
    )
    async with aclosing(stream):
        async for event, obj in stream:
            yield None if event == "DELETED" else obj.to_dict()


async def list_managed(
    client: AsyncClient, info: KindInfo
) -> tuple[list[dict[str, Any]], str | None]:
    """Every object of the kind Slipway manages (any installation's), in all namespaces, and
    the list's resourceVersion to watch from."""
    namespace = ALL_NAMESPACES if info.namespaced else None
    items = client.list(resource_class(info), namespace=namespace, labels=dict(MANAGED))
    found: list[dict[str, Any]] = [item.to_dict() async for item in items]
    return found, items.resourceVersion


async def managed_changes(
    client: AsyncClient,
    info: KindInfo,
    version: str | None,
) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
    """(event type, object) for each change after `version` to an object of the kind Slipway
    manages, in all namespaces; resumed like `changes`, ending on 410 Gone."""
    stream: Any = client.watch(
        resource_class(info),
        namespace=ALL_NAMESPACES if info.namespaced else None,
        labels=dict(MANAGED),
        resource_version=version,
        server_timeout=WATCH_SECONDS,
        on_error=on_watch_error,
    )
    async with aclosing(stream):
        async for event, obj in stream:
            yield str(event), obj.to_dict()


def on_watch_error(error: Exception, count: int) -> OnErrorResult:
    """410 Gone ends the stream (the caller reads again); a dropped connection is resumed a
    few times in a row; anything else is raised."""
    if status_code(error) == 410:
        return OnErrorResult(OnErrorAction.STOP)
    if isinstance(error, httpx2.TransportError) and count <= WATCH_RESUMES:
        return OnErrorResult(OnErrorAction.RETRY, sleep=0.1 * count)
    return OnErrorResult(OnErrorAction.RAISE)


def status_code(error: Exception) -> int | None:
    """The HTTP status of a failed watch: an ERROR event's Status (how the API server reports
    an expired version, 410, on an open stream) or the response's (a refused request)."""
    if isinstance(error, ApiError) and error.status is not None and error.status.code:
        return int(error.status.code)
    if isinstance(error, httpx2.HTTPStatusError):
        return error.response.status_code
    return None
