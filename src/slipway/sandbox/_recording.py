"""Scoped request recorders shared by the emulators: a test or benchmark opens a block and
sees only the requests answered while it was open, however many others share the emulator."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from starlette.types import Message, Send

T = TypeVar("T")
R = TypeVar("R", bound="Recorder[Any]")


class Recorder(Generic[T]):
    """The records added while its `Recorders.recording()` block ran, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[T] = []

    def add(self, record: T) -> None:
        with self._lock:
            self._records.append(record)

    def requests(self) -> list[T]:
        with self._lock:
            return list(self._records)


class Recorders(Generic[T, R]):
    """The recorders open now, each made by `make`; a record is kept only by the blocks open
    when it is added, so nothing accumulates in a long-running sandbox."""

    def __init__(self, make: Callable[[], R]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._open: list[R] = []

    def add(self, record: T) -> None:
        with self._lock:
            recorders = list(self._open)
        for recorder in recorders:
            recorder.add(record)

    @contextmanager
    def recording(self) -> Iterator[R]:
        recorder = self._make()
        with self._lock:
            self._open.append(recorder)
        try:
            yield recorder
        finally:
            with self._lock:
                self._open.remove(recorder)

    @property
    def active(self) -> bool:
        """Whether any block is open: building a record can be skipped when none is."""
        return bool(self._open)


class OnResponseStart:
    """An ASGI `send` that awaits `on_start(status)` once, before the answer's first message
    leaves, so a record is in place before the client can read the answer; `started` tells
    whether that happened (an app that failed before answering never started)."""

    def __init__(self, send: Send, on_start: Callable[[int], Awaitable[None]]) -> None:
        self._send = send
        self._on_start = on_start
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start" and not self.started:
            self.started = True
            await self._on_start(int(message["status"]))
        await self._send(message)
