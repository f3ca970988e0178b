"""The controllers' work queue, after controller-runtime's: each key waits in the queue at most
once, is held by one reconciler thread at a time, and a key added while it is held is handed
out again once it is released, so no change is lost and no object is reconciled twice at once.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(self) -> None:
        self._items: queue.Queue[K] = queue.Queue()
        self._lock = threading.Lock()
        self._waiting: set[K] = set()  # in `_items`
        self._held: set[K] = set()  # taken by a thread, not released yet
        self._dirty: set[K] = set()  # added while held: hand out again on release
        self._forced: set[K] = set()  # its next reconcile runs whatever the interval

    def add(self, key: K, *, force: bool = False) -> None:
        with self._lock:
            if force:
                self._forced.add(key)
            if key in self._held:
                self._dirty.add(key)
                return
            if key in self._waiting:
                return
            self._waiting.add(key)
        self._items.put(key)

    def take(self, timeout: float) -> K | None:
        """The next key, now held by the caller until `release`; None after `timeout`."""
        try:
            key = self._items.get(timeout=timeout)
        except queue.Empty:
            return None
        with self._lock:
            self._waiting.discard(key)
            self._held.add(key)
        return key

    def release(self, key: K) -> None:
        with self._lock:
            self._held.discard(key)
            again = key in self._dirty
            self._dirty.discard(key)
        if again:
            self.add(key)

    def take_forced(self, key: K) -> bool:
        """Whether a forced reconcile of `key` was asked for (and clears the request)."""
        with self._lock:
            forced = key in self._forced
            self._forced.discard(key)
            return forced
