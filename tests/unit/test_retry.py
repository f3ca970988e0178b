"""The shared retry policy on stamina: bounded, honours Retry-After, gives the caller the
named error, and never retries what is not marked retryable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stamina.instrumentation as instrumentation

from slipway.domain.errors import ForgeError
from slipway.retry import Retryable, RetryPolicy, backoff_hook, parse_retry_after, retry_sync

FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.002, max_retry_after=1.0)


@pytest.fixture
def waits() -> Iterator[list[float]]:
    """The backoff stamina chose before each retry, recorded through its instrumentation."""
    seen: list[float] = []
    previous = instrumentation.get_on_retry_hooks()
    instrumentation.set_on_retry_hooks([lambda details: seen.append(details.wait_for)])
    yield seen
    instrumentation.set_on_retry_hooks(previous)


def test_retries_until_success_waiting_what_the_server_asked(waits: list[float]) -> None:
    calls = iter([Retryable(ForgeError("busy"), retry_after=0.01), None])

    def call() -> str:
        outcome = next(calls)
        if outcome is not None:
            raise outcome
        return "done"

    assert retry_sync(call, policy=FAST) == "done"
    assert waits == [0.01]


def test_gives_up_after_the_bounded_attempts_with_the_named_error(waits: list[float]) -> None:
    error = ForgeError("server error 502", step="push_template", system="github", hint="retry")
    attempts = 0

    def call() -> None:
        nonlocal attempts
        attempts += 1
        raise Retryable(error)

    with pytest.raises(ForgeError) as info:
        retry_sync(call, policy=FAST)
    assert info.value is error
    assert attempts == 4
    assert len(waits) == 3
    assert all(0 < w <= FAST.max_delay + 1e-9 for w in waits), waits  # capped (float sums)


def test_a_retry_after_beyond_the_cap_is_not_waited_out(waits: list[float]) -> None:
    attempts = 0

    def call() -> None:
        nonlocal attempts
        attempts += 1
        raise Retryable(ForgeError("rate limited"), retry_after=3600)

    with pytest.raises(ForgeError, match="rate limited"):
        retry_sync(call, policy=FAST)
    assert (attempts, waits) == (1, [])


def test_other_errors_are_not_retried() -> None:
    attempts = 0

    def call() -> None:
        nonlocal attempts
        attempts += 1
        raise ForgeError("token rejected")

    with pytest.raises(ForgeError, match="token rejected"):
        retry_sync(call, policy=FAST)
    assert attempts == 1


def test_backoff_hook_decisions() -> None:
    decide = backoff_hook(RetryPolicy(max_retry_after=60))
    assert decide(Retryable(ForgeError("x"))) is True
    assert decide(Retryable(ForgeError("x"), retry_after=7)) == 7
    assert decide(Retryable(ForgeError("x"), retry_after=61)) is False
    assert decide(ValueError("not ours")) is False


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("1700000060", now=1700000000) == 60.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == 10.0
