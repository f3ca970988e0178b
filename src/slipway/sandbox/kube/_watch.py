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
    bookmarks: ResourceType | None = None,
) -> AsyncIterator[bytes]:
    """Yield encoded events until `timeout` seconds pass or the emulator shuts down.

    The subscription is made (and the backlog taken) before the first byte is sent, so no
    change between the client's list and this watch is lost. `bookmark` ends the initial
    events (sendInitialEvents); `bookmarks` (allowWatchBookmarks) adds a BOOKMARK every
    `state.bookmark_interval` seconds."""
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
    ticker = None
    if bookmarks is not None:
        ticker = _Bookmarks(bookmarks, sub.resource_version, state.bookmark_interval)
    return _events(queue, first, sub.cancel, accept, timeout_seconds or DEFAULT_TIMEOUT, ticker)


class _Bookmarks:
    """The BOOKMARKs of one watch: like the watch cache (bookmarkFrequency, one minute), a
    bookmark per interval, carrying the resourceVersion of the last event this watch has
    passed, filtered out or not, so a client resuming from it misses nothing."""

    def __init__(self, rt: ResourceType, rv: int, interval: float) -> None:
        self.rt, self.rv, self.interval = rt, rv, interval
        self.due = asyncio.get_running_loop().time() + interval

    def seen(self, event: WatchEvent) -> None:
        self.rv = max(self.rv, event.resource_version)

    def emit(self) -> bytes:
        self.due = asyncio.get_running_loop().time() + self.interval
        obj: dict[str, Any] = {
            "kind": self.rt.kind,
            "apiVersion": self.rt.api_version,
            "metadata": {"resourceVersion": str(self.rv)},
        }
        return json.dumps({"type": "BOOKMARK", "object": obj}).encode() + b"\n"


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
    bookmarks: _Bookmarks | None = None,
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration
    try:
        for line in first:
            yield line
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            wait = remaining if bookmarks is None else min(remaining, bookmarks.due - loop.time())
            try:
                async with asyncio.timeout(max(wait, 0)):  # not wait_for: it can drop a cancel
                    event = await queue.get()
            except TimeoutError:
                if bookmarks is not None and loop.time() >= bookmarks.due:
                    yield bookmarks.emit()
                continue
            if event is None:
                return
            if bookmarks is not None:
                bookmarks.seen(event)
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
