"""The emulator's storage: objects, a global resourceVersion counter, and a watch event log.

Thread-safe: the HTTP app runs in a uvicorn thread while tests and the Flux emulator use the
Python API from others. Subscribers are called under the lock and must not block.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from slipway.sandbox.kube._rbac import AccessPolicy
from slipway.sandbox.kube._resources import BUILTIN_TYPES, CRDS, ResourceType, types_from_crd
from slipway.sandbox.kube._status import expired

Key = tuple[str, str]  # (group, plural)
ObjKey = tuple[str, str]  # (namespace or "", name)


@dataclass(frozen=True)
class WatchEvent:
    """One change; `object` is the state after it (the last state for DELETED)."""

    type: str
    object: dict[str, Any]
    resource_version: int
    key: Key

    @property
    def namespace(self) -> str:
        return str(self.object.get("metadata", {}).get("namespace", ""))


@dataclass(frozen=True)
class Subscription:
    """What `KubeState.subscribe` returns: past events to replay, the resourceVersion they
    bring the watcher to, and a function that ends the subscription."""

    backlog: list[WatchEvent]
    resource_version: int
    cancel: Callable[[], None]


Subscriber = Callable[[WatchEvent | None], None]  # None: the emulator is shutting down


class KubeState:
    """All objects of the emulated cluster plus who may call it (tokens, policy)."""

    def __init__(
        self,
        *,
        tokens: dict[str, str] | None = None,
        policy: AccessPolicy | None = None,
        history: int = 10_000,
        history_window: float = 75.0,
        bookmark_interval: float = 60.0,
        namespace_finalize_delay: float = 0.0,
    ) -> None:
        self._lock = threading.RLock()
        self._objects: dict[Key, dict[ObjKey, dict[str, Any]]] = {}
        self._rv = 0
        self._history: deque[WatchEvent] = deque(maxlen=history)
        self._written_at: deque[float] = deque(maxlen=history)
        self.history_window = history_window
        self.bookmark_interval = bookmark_interval
        self._dropped_history = False
        self._subscribers: list[tuple[Key | None, Subscriber]] = []
        self._crd_types: list[ResourceType] = []
        self.tokens: dict[str, str] = dict(tokens or {})
        self.policy = policy or AccessPolicy.allow_all()
        self.namespace_finalize_delay = namespace_finalize_delay

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    @property
    def resource_version(self) -> int:
        with self._lock:
            return self._rv

    def user_for_token(self, token: str) -> str | None:
        return self.tokens.get(token)

    # --- resource types -------------------------------------------------------------------

    def resource_types(self) -> list[ResourceType]:
        with self._lock:
            return [*BUILTIN_TYPES, *self._crd_types]

    def find_type(self, group: str, version: str, plural: str) -> ResourceType | None:
        for rt in self.resource_types():
            if (rt.group, rt.version, rt.plural) == (group, version, plural):
                return rt
        return None

    def type_for_kind(self, api_version: str, kind: str) -> ResourceType | None:
        for rt in self.resource_types():
            if rt.api_version == api_version and rt.kind == kind:
                return rt
        return None

    def _refresh_crd_types(self) -> None:
        crds = self._objects.get(CRDS.key, {}).values()
        self._crd_types = [rt for crd in crds for rt in types_from_crd(crd)]

    # --- objects --------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            obj = self._objects.get(rt.key, {}).get((namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(
        self, rt: ResourceType, namespace: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """Objects of a type (in one namespace, or all) sorted by namespace and name, and the
        resourceVersion they were read at."""
        with self._lock:
            items = [
                copy.deepcopy(obj)
                for (ns, _), obj in sorted(self._objects.get(rt.key, {}).items())
                if namespace is None or ns == namespace
            ]
            return items, self._rv

    def namespaces_in_use(self, namespace: str) -> Iterable[tuple[Key, str]]:
        with self._lock:
            return [
                (key, name)
                for key, objs in self._objects.items()
                for (ns, name) in objs
                if ns == namespace
            ]

    def put(self, rt: ResourceType, obj: dict[str, Any], *, created: bool) -> dict[str, Any]:
        """Store `obj` with the next resourceVersion and emit ADDED or MODIFIED."""
        with self._lock:
            self._rv += 1
            stored = copy.deepcopy(obj)
            meta = stored["metadata"]
            meta["resourceVersion"] = str(self._rv)
            key = (meta.get("namespace", ""), meta["name"])
            self._objects.setdefault(rt.key, {})[key] = stored
            if rt.key == CRDS.key:
                self._refresh_crd_types()
            self._emit(WatchEvent("ADDED" if created else "MODIFIED", stored, self._rv, rt.key))
            return copy.deepcopy(stored)

    def remove(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any] | None:
        """Delete one object and emit DELETED with a fresh resourceVersion."""
        with self._lock:
            obj = self._objects.get(rt.key, {}).pop((namespace, name), None)
            if obj is None:
                return None
            # A copy: the stored dict is also the object of the event that wrote it, which
            # must keep its own resourceVersion when replayed.
            obj = copy.deepcopy(obj)
            self._rv += 1
            obj["metadata"]["resourceVersion"] = str(self._rv)
            if rt.key == CRDS.key:
                self._refresh_crd_types()
                for served in types_from_crd(obj):
                    for ns, item in list(self._objects.get(served.key, {})):
                        self.remove(served, ns, item)
            self._emit(WatchEvent("DELETED", obj, self._rv, rt.key))
            return copy.deepcopy(obj)

    def remove_key(self, key: Key, namespace: str, name: str) -> None:
        for rt in self.resource_types():
            if rt.key == key:
                self.remove(rt, namespace, name)
                return

    # --- watch ----------------------------------------------------------------------------

    def open_watches(self) -> int:
        """How many watch streams are open now (so a caller can wait until a client watches)."""
        with self._lock:
            return len(self._subscribers)

    def close_watches(self) -> None:
        """End every open watch (so a server can stop without waiting for streams)."""
        with self._lock:
            for _, callback in list(self._subscribers):
                callback(None)

    def restart_watch_cache(self) -> None:
        """As a restarted API server: its watch cache starts empty at the current
        resourceVersion, so a watch from an older one is answered 410 Expired (the client
        lists again) and a watch from the current one, or a newer write's, goes on."""
        with self._lock:
            self._history.clear()
            self._written_at.clear()
            self._dropped_history = True

    def _expire_history(self) -> None:
        """Forget events older than `history_window` seconds, as kube-apiserver's watch cache
        keeps only recent history (its eventFreshDuration is 75 s); the capacity bound
        (`history` events) applies too."""
        horizon = time.monotonic() - self.history_window
        while self._written_at and self._written_at[0] < horizon:
            self._written_at.popleft()
            self._history.popleft()
            self._dropped_history = True

    def _emit(self, event: WatchEvent) -> None:
        self._expire_history()
        if len(self._history) == self._history.maxlen:
            self._dropped_history = True
        self._history.append(event)
        self._written_at.append(time.monotonic())
        for key, callback in list(self._subscribers):
            if key is None or key == event.key:
                callback(event)

    def subscribe(self, key: Key | None, since: int | None, callback: Subscriber) -> Subscription:
        """Register `callback` for future events of `key` (None: every type) and return the
        backlog after resourceVersion `since` (None: the current objects as ADDED events),
        atomically, plus a function that unsubscribes. Raises 410 Expired when `since` is
        older than the log."""
        with self._lock:
            if since is None:
                backlog = [
                    WatchEvent(
                        "ADDED", copy.deepcopy(obj), int(obj["metadata"]["resourceVersion"]), k
                    )
                    for k, objs in sorted(self._objects.items())
                    if key is None or k == key
                    for _, obj in sorted(objs.items())
                ]
            else:
                self._expire_history()
                oldest = self._history[0].resource_version if self._history else self._rv + 1
                if self._dropped_history and since < oldest - 1:
                    raise expired(since, oldest)
                backlog = [
                    e
                    for e in self._history
                    if e.resource_version > since and (key is None or e.key == key)
                ]
            entry = (key, callback)
            self._subscribers.append(entry)
            current = self._rv

        def cancel() -> None:
            with self._lock:
                if entry in self._subscribers:
                    self._subscribers.remove(entry)

        return Subscription(backlog, current, cancel)
