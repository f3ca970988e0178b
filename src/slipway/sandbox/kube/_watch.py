"""Watch streams: one JSON object per line, `{"type": ..., "object": ...}`, as the real server
sends them, starting after the requested resourceVersion."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from slipway.sandbox.kube._resources import ResourceType
from slipway.sandbox.kube._status import KubeApiError
from slipway.sandbox.kube._store import Key, KubeState, WatchEvent

DEFAULT_TIMEOUT = 1800.0
Filter = Callable[[WatchEvent], bool]


def encode(event: WatchEvent) -> bytes:
    return json.dumps({"type": event.type, "object": event.object}).encode() + b"\n"


async def stream(
    state: KubeState,
    key: Key,
    since: int | None,
    accept: Filter,
    timeout_seconds: float | None,
    *,
    bookmark: ResourceType | None = None,
) -> AsyncIterator[bytes]:
    """Yield encoded events until `timeout` seconds pass or the emulator shuts down.

    The subscription is made (and the backlog taken) before the first byte is sent, so no
    change between the client's list and this watch is lost."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue()

    def deliver(event: WatchEvent | None) -> None:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, event)

    try:
        sub = state.subscribe(key, since, deliver)
    except KubeApiError as exc:
        if exc.code != 410:
            raise
        return _expired(exc)
    first = [encode(e) for e in sub.backlog if accept(e)]
    if bookmark is not None:
        first.append(_initial_events_end(bookmark, sub.resource_version))
    return _events(queue, first, sub.cancel, accept, timeout_seconds or DEFAULT_TIMEOUT)


async def _expired(error: KubeApiError) -> AsyncIterator[bytes]:
    """A watch from a resourceVersion the server no longer holds: like the real API server's
    watch cache, HTTP 200 and one ERROR event carrying the 410 Expired Status, then the end
    (client-go then lists again)."""
    yield json.dumps({"type": "ERROR", "object": error.to_status()}).encode() + b"\n"


def _initial_events_end(rt: ResourceType, rv: int) -> bytes:
    """The BOOKMARK that ends `sendInitialEvents=true` (client-go's WatchList)."""
    obj = {
        "kind": rt.kind,
        "apiVersion": rt.api_version,
        "metadata": {
            "resourceVersion": str(rv),
            "annotations": {"k8s.io/initial-events-end": "true"},
        },
    }
    return json.dumps({"type": "BOOKMARK", "object": obj}).encode() + b"\n"


async def _events(
    queue: asyncio.Queue[WatchEvent | None],
    first: list[bytes],
    cancel: Callable[[], None],
    accept: Filter,
    duration: float,
) -> AsyncIterator[bytes]:
    deadline = asyncio.get_running_loop().time() + duration
    try:
        for line in first:
            yield line
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            try:
                event = await asyncio.wait_for(queue.get(), remaining)
            except TimeoutError:
                return
            if event is None:
                return
            if accept(event):
                yield encode(event)
    finally:
        cancel()


def event_filter(
    namespace: str | None, predicates: list[Callable[[dict[str, Any]], bool]], name: str | None
) -> Filter:
    def accept(event: WatchEvent) -> bool:
        if namespace is not None and event.namespace != namespace:
            return False
        if name is not None and event.object.get("metadata", {}).get("name") != name:
            return False
        return all(p(event.object) for p in predicates)

    return accept
