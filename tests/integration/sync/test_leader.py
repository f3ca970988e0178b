"""Exactly one process of an installation runs the status sync: two syncers against one
cluster and one database, one holds the Lease; a leader that dies (stops without releasing)
is replaced once its Lease has expired, one that shuts down cleanly at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from tests.support.waiting import wait_until

from slipway.bootstrap import App, ProcessLoop, bootstrap
from slipway.config import Settings
from slipway.sandbox.kube import KubeEmulator
from slipway.service.sync import running_sync
from slipway.sync import StatusSync, lease_name

from .conftest import LEASE_SECONDS


@pytest.fixture
def two(settings: Settings) -> Iterator[tuple[App, App]]:
    """Two processes' worth of Slipway (each its own event loop and cluster client) sharing
    one database, so one installation."""
    first, second = bootstrap(settings), bootstrap(settings)
    assert first.installation == second.installation
    yield first, second
    first.close()
    second.close()


def _lease(kube: KubeEmulator, app: App) -> dict[str, Any]:
    lease = kube.get("coordination.k8s.io/v1", "Lease", lease_name(app.installation), "kube-system")
    assert lease is not None
    spec: dict[str, Any] = lease["spec"]
    return spec


def _one_leader(syncs: list[StatusSync]) -> StatusSync:
    def only() -> StatusSync | None:
        leaders = [s for s in syncs if s.leading]
        return leaders[0] if len(leaders) == 1 else None

    return wait_until(only, message="exactly one leader", timeout=10)


def _crash(app: App, sync: StatusSync) -> None:
    """Stops the sync without releasing the Lease, as a killed process would leave it."""

    async def stop(loop: ProcessLoop) -> None:
        await sync.stop(release=False)

    app.loop.run(stop)


def test_one_leader_and_a_takeover_after_the_lease_expires(
    two: tuple[App, App], kube: KubeEmulator
) -> None:
    with ExitStack() as stack:
        syncs = [stack.enter_context(running_sync(app)) for app in two]
        leader = _one_leader(syncs)
        standby = next(s for s in syncs if s is not leader)
        lease = _lease(kube, two[0])
        assert lease["holderIdentity"] == leader.identity
        assert lease["leaseDurationSeconds"] == round(LEASE_SECONDS)
        transitions = lease.get("leaseTransitions", 0)
        # The standby keeps standing by while the leader renews.
        time.sleep(LEASE_SECONDS * 1.5)
        assert (leader.leading, standby.leading) == (True, False)
        assert _lease(kube, two[0])["renewTime"] != lease["renewTime"]

        _crash(two[syncs.index(leader)], leader)
        crashed = time.monotonic()
        wait_until(lambda: standby.leading, message="the standby to take over", timeout=10)
        waited = time.monotonic() - crashed
        # Not before the dead leader's last renewal has expired (renewals come every
        # LEASE_SECONDS / 7.5, so at least duration minus one renewal period).
        assert waited >= LEASE_SECONDS * 0.8, waited
        after = _lease(kube, two[0])
        assert after["holderIdentity"] == standby.identity
        assert after["leaseTransitions"] == transitions + 1
        assert not leader.leading


def test_a_clean_shutdown_hands_the_lease_over_at_once(
    two: tuple[App, App], kube: KubeEmulator
) -> None:
    first_app, second_app = two
    with running_sync(first_app) as first:
        wait_until(lambda: first.leading, message="the first syncer to lead", timeout=10)
        with running_sync(second_app) as second:
            time.sleep(0.5)
            assert not second.leading
            stopped = time.monotonic()
            first_app.loop.run(_stop(first))  # releases: no holder
            wait_until(lambda: second.leading, message="the second syncer to lead", timeout=10)
            assert time.monotonic() - stopped < LEASE_SECONDS * 0.8
            assert _lease(kube, first_app)["holderIdentity"] == second.identity


def _stop(sync: StatusSync) -> Any:
    async def stop(loop: ProcessLoop) -> None:
        await sync.stop()

    return stop
