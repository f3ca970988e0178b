"""Waiting for something observable instead of sleeping and hoping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A condition a test waited for never held: the test fails here, naming what it waited
    for and the last value seen, instead of carrying on as if it had held."""


def wait_until(
    predicate: Callable[[], T | None],
    *,
    message: str,
    timeout: float = 30.0,
    interval: float = 0.1,
    ignoring: tuple[type[Exception], ...] = (),
) -> T:
    """Calls `predicate` every `interval` seconds until it returns something truthy, and
    returns that. Raises `WaitTimeout` after `timeout` seconds. Exceptions of the types in
    `ignoring` count as "not yet" (e.g. NotFound before a row exists); others propagate."""
    deadline = time.monotonic() + timeout
    while True:
        value, last = _attempt(predicate, ignoring)
        if value:
            return value
        _give_up_after(deadline, timeout, message, last)
        time.sleep(interval)


async def async_wait_until(
    predicate: Callable[[], T | None],
    *,
    message: str,
    timeout: float = 30.0,
    interval: float = 0.1,
    ignoring: tuple[type[Exception], ...] = (),
) -> T:
    """`wait_until` for a test running on the event loop: between calls it awaits, so the
    tasks whose effect `predicate` looks for keep running."""
    deadline = time.monotonic() + timeout
    while True:
        value, last = _attempt(predicate, ignoring)
        if value:
            return value
        _give_up_after(deadline, timeout, message, last)
        await asyncio.sleep(interval)


def _attempt(
    predicate: Callable[[], T | None], ignoring: tuple[type[Exception], ...]
) -> tuple[T | None, object]:
    """One call of `predicate`: its value (None for an ignored exception) and what to report
    as the last thing seen."""
    try:
        value = predicate()
    except ignoring as exc:
        return None, exc
    return value, value


def _give_up_after(deadline: float, timeout: float, message: str, last: object) -> None:
    if time.monotonic() >= deadline:
        raise WaitTimeout(f"timed out after {timeout:g}s waiting for {message}; last: {last!r}")
