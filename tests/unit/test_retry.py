"""The shared retry loop: bounded, honours Retry-After, gives the caller the named error."""

from __future__ import annotations

import pytest

from slipway.domain.errors import ForgeError
from slipway.retry import Retryable, RetryPolicy, parse_retry_after, retry_sync


def test_retries_until_success_waiting_what_the_server_asked() -> None:
    waits: list[float] = []
    calls = iter([Retryable(ForgeError("busy"), retry_after=2.0), None])

    def call() -> str:
        outcome = next(calls)
        if outcome is not None:
            raise outcome
        return "done"

    assert retry_sync(call, sleep=waits.append) == "done"
    assert waits == [2.0]


def test_gives_up_after_the_bounded_attempts_with_the_named_error() -> None:
    waits: list[float] = []
    error = ForgeError("server error 502", step="push_template", system="github", hint="retry")

    def call() -> None:
        raise Retryable(error)

    with pytest.raises(ForgeError) as info:
        retry_sync(
            call, policy=RetryPolicy(attempts=4, base_delay=1, max_delay=3), sleep=waits.append
        )
    assert info.value is error
    assert len(waits) == 3
    assert all(0.5 <= w <= 3 for w in waits)
    assert waits[2] >= 1.5  # 4s capped to 3, jitter at least half


def test_a_retry_after_beyond_the_cap_is_not_waited_out() -> None:
    waits: list[float] = []

    def call() -> None:
        raise Retryable(ForgeError("rate limited"), retry_after=3600)

    with pytest.raises(ForgeError, match="rate limited"):
        retry_sync(call, sleep=waits.append)
    assert waits == []


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("1700000060", now=1700000000) == 60.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == 10.0
