"""The one retry loop every adapter uses: bounded attempts, capped exponential backoff with
jitter, and the server's `Retry-After` honoured (within a cap) when it sent one."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TypeVar

import structlog

from slipway.domain.errors import SlipwayError

T = TypeVar("T")
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    # A Retry-After longer than this is not waited out: the error is raised with a hint instead.
    max_retry_after: float = 60.0


DEFAULT_POLICY = RetryPolicy()


class Retryable(Exception):
    """Raised inside an adapter call for a failure worth another try.

    `error` is what the caller sees if every attempt fails; `retry_after` is the server's
    wait in seconds, when it said one.
    """

    def __init__(self, error: SlipwayError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


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


def backoff_delay(attempt: int, policy: RetryPolicy, retry_after: float | None) -> float:
    """Delay before attempt `attempt + 1` (attempt counts from 1)."""
    if retry_after is not None:
        return float(min(retry_after, policy.max_retry_after))
    exponential = policy.base_delay * (2 ** (attempt - 1))
    return float(min(policy.max_delay, exponential) * random.uniform(0.5, 1.0))


def _give_up(exc: Retryable, policy: RetryPolicy, attempt: int) -> bool:
    too_long = exc.retry_after is not None and exc.retry_after > policy.max_retry_after
    return attempt >= policy.attempts or too_long


async def retry_async(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call()
        except Retryable as exc:
            if _give_up(exc, policy, attempt):
                raise exc.error from None
            delay = backoff_delay(attempt, policy, exc.retry_after)
            log.info("retrying", error=str(exc.error), attempt=attempt, delay=round(delay, 2))
            await sleep(delay)


def retry_sync(
    call: Callable[[], T],
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except Retryable as exc:
            if _give_up(exc, policy, attempt):
                raise exc.error from None
            delay = backoff_delay(attempt, policy, exc.retry_after)
            log.info("retrying", error=str(exc.error), attempt=attempt, delay=round(delay, 2))
            sleep(delay)
