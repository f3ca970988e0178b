"""A leader told to stop stops, even when its renewal finishes in the same instant: on
Python 3.11 `asyncio.wait_for` returns the finished renewal and drops the cancellation
(gh-86296), so the renewal loop went on for ever and `sync.stop()` never returned (a CI
run hung 300 s in test_leader)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import slipway
from slipway.gitops import ClusterClient
from slipway.sync._leader import LeaderElector, LeaseTiming


async def test_hold_ends_when_cancelled_as_a_renewal_completes() -> None:
    elector = LeaderElector(
        cast(ClusterClient, None),
        namespace="kube-system",
        name="slipway-sync-test",
        identity="me",
        timing=LeaseTiming(duration=3.0, renew_deadline=2.0, retry=0.01),
    )
    holding: asyncio.Task[None] | None = None
    renewals = 0

    async def renewal_that_sees_the_stop() -> bool:
        nonlocal renewals
        renewals += 1
        assert holding is not None
        holding.cancel()  # the stop arrives while this renewal returns its answer
        return True

    cast(Any, elector)._attempt = renewal_that_sees_the_stop
    holding = asyncio.create_task(elector.hold())
    done, _ = await asyncio.wait({holding}, timeout=2.0)
    if not done:
        holding.cancel()
    assert done == {holding}, f"hold() renewed on after its cancellation ({renewals} renewals)"
    assert holding.cancelled()


def test_no_code_of_slipway_waits_with_wait_for() -> None:
    """The same drop can stop any loop's task from ending: `asyncio.timeout` everywhere."""
    source = Path(slipway.__file__).parent
    found = [
        f"{path.relative_to(source)}:{number}"
        for path in sorted(source.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "wait_for(" in line
    ]
    assert found == []
