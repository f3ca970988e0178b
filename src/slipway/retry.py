"""How Slipway calls anything outside its process: one timeout and one retry policy.

The retry loop is stamina's (capped exponential backoff with jitter, sync and async, a
`set_testing` switch for tests). Adapters mark a failure worth another try by raising
`Retryable`; the hook below tells stamina to wait the server's `Retry-After` when it sent one,
and to give up at once when that wait is longer than the policy allows.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Final, TypeVar

import stamina

from slipway.domain.errors import SlipwayError

T = TypeVar("T")

# Every HTTP call Slipway makes (forges, Kubernetes API) has these limits, in seconds.
TIMEOUT_SECONDS: Final = 30.0
CONNECT_TIMEOUT_SECONDS: Final = 10.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    # A Retry-After longer than this is not waited out: the error is raised with a hint instead.
    max_retry_after: float = 60.0
    # Total time across all attempts; None leaves only `attempts` as the bound.
    window: float | None = 120.0

    def brief(self) -> RetryPolicy:
        """A short budget for "not there yet" races (a push right after creation)."""
        return RetryPolicy(
            attempts=min(self.attempts, 4),
            base_delay=min(self.base_delay, 0.5),
            max_delay=min(self.max_delay, 2.0),
            max_retry_after=self.max_retry_after,
            window=self.window,
        )


DEFAULT_POLICY = RetryPolicy()


class Retryable(Exception):
    """Raised inside an adapter call for a failure worth another try.

    `error` is what the caller sees if every attempt fails; `retry_after` is the server's
    wait in seconds, when it said one.
    """

    def __init__(self, error: SlipwayError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        error.transient = True  # if every attempt fails, a later run may still succeed
        self.error = error
        self.retry_after = retry_after


def backoff_hook(policy: RetryPolicy) -> Callable[[Exception], bool | float]:
    """stamina's `on=`: retry only `Retryable`; a server-given wait replaces the backoff."""

    def decide(exc: Exception) -> bool | float:
        if not isinstance(exc, Retryable):
            return False
        if exc.retry_after is None:
            return True
        if exc.retry_after > policy.max_retry_after:
            return False
        return max(exc.retry_after, 0.0)

    return decide


def _context(policy: RetryPolicy) -> stamina._core._RetryContextIterator:
    return stamina.retry_context(
        on=backoff_hook(policy),
        attempts=policy.attempts,
        timeout=policy.window,
        wait_initial=policy.base_delay,
        wait_max=policy.max_delay,
        wait_jitter=policy.base_delay,
    )


async def retry_async(
    call: Callable[[], Awaitable[T]], *, policy: RetryPolicy = DEFAULT_POLICY
) -> T:
    """`call()` until it succeeds or the policy is spent; then the last `Retryable`'s error."""
    try:
        async for attempt in _context(policy):
            with attempt:
                return await call()
    except Retryable as exc:
        raise exc.error from None
    raise AssertionError("unreachable: stamina makes at least one attempt")  # pragma: no cover


def retry_sync(call: Callable[[], T], *, policy: RetryPolicy = DEFAULT_POLICY) -> T:
    """The synchronous twin of `retry_async`, for database races."""
    try:
        for attempt in _context(policy):
            with attempt:
                return call()
    except Retryable as exc:
        raise exc.error from None
    raise AssertionError("unreachable: stamina makes at least one attempt")  # pragma: no cover


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` (seconds or HTTP date) or a Unix reset timestamp."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            return None
        return max(0.0, when - (now if now is not None else time.time()))
    if seconds > 1_000_000_000:  # an epoch timestamp such as x-ratelimit-reset
        return max(0.0, seconds - (now if now is not None else time.time()))
    return max(0.0, seconds)
