"""client-go's reflector and informer cache for one kind: list once, then watch from the
listed resourceVersion; a watch that ends or drops resumes from the last version seen, and
only a 410 Expired (the server forgot that version) lists again. Handlers hear every change
after the cache has it, so a reconciler reading the cache never sees older state than the
event that woke it."""

from __future__ import annotations

import asyncio
import copy
import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from slipway.sandbox.flux._objects import FluxKind, Key

log = structlog.get_logger(__name__)

Obj = dict[str, Any]
# client-go's reflector picks a watch timeout between 5 and 10 minutes.
WATCH_TIMEOUT = (300, 600)
RETRY_FIRST, RETRY_CAP = 0.05, 5.0


class Expired(Exception):
    """The server no longer holds the requested resourceVersion (410): list again."""


@dataclass(frozen=True)
class Handlers:
    """What the controllers do on a change (controller-runtime's event handlers, with their
    predicates applied by the caller)."""

    added: Callable[[Obj], None]
    updated: Callable[[Obj, Obj], None]
    deleted: Callable[[Obj], None]


class Informer:
    """A cache of one kind kept current by list+watch; `run` is its asyncio task."""

    def __init__(self, kind: FluxKind, handlers: Handlers) -> None:
        self.kind = kind
        self._handlers = handlers
        self._lock = threading.Lock()
        self._cache: dict[Key, Obj] = {}
        self.synced = threading.Event()  # the first list is in the cache
        self.lists = 0  # how many times it listed (the first one, then one per 410)

    def get(self, key: Key) -> Obj | None:
        with self._lock:
            found = self._cache.get(key)
            return copy.deepcopy(found) if found is not None else None

    def items(self) -> list[Obj]:
        with self._lock:
            return [copy.deepcopy(obj) for obj in self._cache.values()]

    async def run(self, http: httpx.AsyncClient, collection: str) -> None:
        """List and watch until cancelled. Network errors retry with a growing pause and keep
        the resourceVersion, so the watch resumes where it left off."""
        version: str | None = None
        pause = RETRY_FIRST
        while True:
            try:
                if version is None:
                    version = await self._list(http, collection)
                version = await self._watch(http, collection, version)
                pause = RETRY_FIRST
                continue
            except Expired:
                version = None
                continue
            except httpx.HTTPStatusError as exc:
                # 404: the CRD is not installed (yet); 403: not allowed. List again later.
                log.debug(
                    "flux informer refused", kind=self.kind.kind, status=exc.response.status_code
                )
                version = None
            except (httpx.HTTPError, ValueError) as exc:
                log.debug("flux watch dropped", kind=self.kind.kind, error=type(exc).__name__)
            except Exception:  # a bug in a handler must not end the informer: start over
                log.exception("flux informer failed", kind=self.kind.kind)
                version = None
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_CAP)

    async def _list(self, http: httpx.AsyncClient, collection: str) -> str:
        response = await http.get(collection)
        response.raise_for_status()
        body = response.json()
        listed = {Key.of(self.kind, item): item for item in body.get("items") or []}
        self.lists += 1
        with self._lock:
            before, self._cache = self._cache, dict(listed)
        # What vanished while nobody watched is a delete (client-go's DeletedFinalStateUnknown).
        for key, obj in before.items():
            if key not in listed:
                self._handlers.deleted(obj)
        for key, obj in listed.items():
            old = before.get(key)
            if old is None:
                self._handlers.added(obj)
            else:
                self._handlers.updated(old, obj)
        self.synced.set()
        return str(body["metadata"].get("resourceVersion", ""))

    async def _watch(self, http: httpx.AsyncClient, collection: str, version: str) -> str:
        """One watch request; returns the last resourceVersion seen when it ends."""
        params = {
            "watch": "true",
            "resourceVersion": version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(random.randint(*WATCH_TIMEOUT)),
        }
        async with http.stream("GET", collection, params=params) as response:
            if response.status_code == 410:
                raise Expired
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    # The watch cache's answer for a forgotten version (410 Expired); any
                    # other error also ends the watch, and client-go lists again after it.
                    raise Expired
                version = (obj.get("metadata") or {}).get("resourceVersion") or version
                self._apply(str(event.get("type")), obj)
        return version

    def _apply(self, kind: str, obj: Obj) -> None:
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            return  # BOOKMARK: only its resourceVersion matters
        key = Key.of(self.kind, obj)
        with self._lock:
            old = self._cache.get(key)
            if kind == "DELETED":
                self._cache.pop(key, None)
            else:
                self._cache[key] = obj
        if kind == "DELETED":
            self._handlers.deleted(obj)
        elif old is None:
            self._handlers.added(obj)
        else:
            self._handlers.updated(old, obj)
