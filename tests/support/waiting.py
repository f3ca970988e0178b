"""Waiting for something observable instead of sleeping and hoping."""

from __future__ import annotations

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
    last: object = None
    while True:
        try:
            value = predicate()
        except ignoring as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:g}s waiting for {message}; last: {last!r}")
        time.sleep(interval)
