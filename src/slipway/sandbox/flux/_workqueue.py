"""The controllers' work queue, after controller-runtime's: each key waits in the queue at most
once, is held by one reconciler thread at a time, and a key added while it is held is handed
out again once it is released, so no change is lost and no object is reconciled twice at once.
`add_after` is the requeue-after of a reconcile result (`spec.interval`, a retry backoff).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._queue: deque[K] = deque()
        self._waiting: set[K] = set()  # in `_queue`
        self._held: set[K] = set()  # taken by a thread, not released yet
        self._dirty: set[K] = set()  # added while held: hand out again on release
        # One pending requeue per key (the last one asked for): key -> (due, sequence), and a
        # heap of the same whose stale entries are skipped when they surface.
        self._due: dict[K, tuple[float, int]] = {}
        self._timers: list[tuple[float, int, K]] = []
        self._sequence = itertools.count()

    def add(self, key: K) -> None:
        """Reconcile `key` as soon as a thread is free (a pending requeue is dropped: the
        reconcile this leads to schedules the next one)."""
        with self._ready:
            self._due.pop(key, None)
            self._enqueue(key)

    def add_after(self, key: K, delay: float) -> None:
        """Reconcile `key` again in `delay` seconds, replacing any requeue it had pending."""
        if delay <= 0:
            self.add(key)
            return
        with self._ready:
            entry = (time.monotonic() + delay, next(self._sequence))
            self._due[key] = entry
            heapq.heappush(self._timers, (*entry, key))
            self._ready.notify()

    def pending(self, key: K) -> float | None:
        """Seconds until `key`'s requeue, None when it has none."""
        with self._ready:
            entry = self._due.get(key)
            return None if entry is None else max(0.0, entry[0] - time.monotonic())

    def take(self, timeout: float) -> K | None:
        """The next key, now held by the caller until `release`; None after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while True:
                now = time.monotonic()
                next_due = self._promote(now)
                if self._queue:
                    key = self._queue.popleft()
                    self._waiting.discard(key)
                    self._held.add(key)
                    return key
                if now >= deadline:
                    return None
                self._ready.wait(min(deadline, next_due) - now)

    def release(self, key: K) -> None:
        with self._ready:
            self._held.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                self._enqueue(key)

    def _enqueue(self, key: K) -> None:
        if key in self._held:
            self._dirty.add(key)
        elif key not in self._waiting:
            self._waiting.add(key)
            self._queue.append(key)
            self._ready.notify()

    def _promote(self, now: float) -> float:
        """Queue every requeue that is due; returns when the next one will be."""
        while self._timers:
            due, sequence, key = self._timers[0]
            if self._due.get(key) != (due, sequence):
                heapq.heappop(self._timers)  # replaced or dropped since
            elif due <= now:
                heapq.heappop(self._timers)
                del self._due[key]
                self._enqueue(key)
            else:
                return due
        return float("inf")
