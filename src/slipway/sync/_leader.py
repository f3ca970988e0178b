"""Leader election over a coordination.k8s.io/v1 Lease, as client-go's `leaderelection` does
it, so exactly one process of an installation runs the status sync.

A candidate takes the Lease when it does not exist, was released (no holder), or its holder
has not renewed it for `leaseDurationSeconds`, as measured on the candidate's own clock from
when it last saw the record change (clocks of different machines are never compared). The
leader renews every `retry` seconds and gives leadership up when it could not renew for
`renew_deadline` (shorter than the duration, so it stops before anyone may take over); a
clean shutdown releases the Lease so a standby takes over at once. Every write carries the
resourceVersion read, so of two candidates only one can win a round (the other gets 409).
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import structlog

from slipway.domain.errors import ClusterError, Conflict, NotFound, SlipwayError
from slipway.domain.text import t
from slipway.gitops import ClusterClient
from slipway.gitops.leases import LeaseRecord, create_lease, read_lease, replace_lease

log = structlog.get_logger("slipway.sync")


@dataclass(frozen=True)
class LeaseTiming:
    """client-go's defaults are 15 s, 10 s and 2 s; `for_duration` keeps their ratios."""

    duration: float = 15.0
    renew_deadline: float = 10.0
    retry: float = 2.0

    @classmethod
    def for_duration(cls, seconds: float) -> LeaseTiming:
        return cls(duration=seconds, renew_deadline=seconds * 2 / 3, retry=seconds / 7.5)


def candidate_identity() -> str:
    """Unique per process, readable in `kubectl get lease`: the host name and a random tail."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


class LeaderElector:
    """One candidate for one Lease, used from one event loop."""

    def __init__(
        self,
        cluster: ClusterClient,
        *,
        namespace: str,
        name: str,
        identity: str,
        timing: LeaseTiming,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.namespace, self.name, self.identity = namespace, name, identity
        self._cluster = cluster
        self._timing = timing
        self._clock = clock
        self._observed: LeaseRecord | None = None
        self._observed_at = 0.0
        self._leader = False

    @property
    def is_leader(self) -> bool:
        return self._leader

    @property
    def holder(self) -> str | None:
        """Who held the Lease when this candidate last read it."""
        return self._observed.holder if self._observed is not None else None

    async def acquire(self) -> None:
        """Returns once this candidate leads; tries every `retry` seconds. A missing
        namespace is raised (a setting to fix), other failures are retried."""
        while not await self._attempt():  # noqa: ASYNC110 - polling the Lease is the protocol
            await asyncio.sleep(self._timing.retry)
        log.info("sync.leader.acquired", lease=f"{self.namespace}/{self.name}", id=self.identity)

    async def hold(self) -> None:
        """Renews the Lease every `retry` seconds; returns when leadership is lost (another
        holder, or no renewal for `renew_deadline`). Cancel it to stop renewing."""
        renewed = self._clock()
        while True:
            await asyncio.sleep(self._timing.retry)
            left = self._timing.renew_deadline - (self._clock() - renewed)
            ok = False
            if left > 0:
                with suppress(TimeoutError):
                    async with asyncio.timeout(left):  # never wait_for: see _syncer
                        ok = await self._attempt()
            if ok:
                renewed = self._clock()
            elif self._taken() or self._clock() - renewed >= self._timing.renew_deadline:
                break
        self._leader = False
        log.warning("sync.leader.lost", lease=f"{self.namespace}/{self.name}", id=self.identity)

    async def release(self) -> None:
        """Gives the Lease up (no holder), so a standby takes over without waiting; a no-op
        unless leading. Failures are logged: the Lease then expires on its own."""
        if not self._leader or self._observed is None:
            return
        self._leader = False
        now = datetime.now(UTC)
        released = replace(
            self._observed, holder="", duration_seconds=1, acquired_at=now, renewed_at=now
        )
        try:
            await replace_lease(self._cluster, self.namespace, self.name, released)
        except SlipwayError as exc:
            log.warning("sync.leader.release_failed", error=str(exc))

    def _taken(self) -> bool:
        """Whether the last read showed another holder."""
        return self._observed is not None and self._observed.holder not in ("", self.identity)

    # -- one round ------------------------------------------------------------------------

    async def _attempt(self) -> bool:
        try:
            won = await self._try_acquire_or_renew()
        except NotFound:
            raise ClusterError(
                t(
                    'the namespace "{namespace}" of the status sync\'s Lease does not exist',
                    namespace=self.namespace,
                ),
                system="kubernetes",
                hint=t(
                    "set SLIPWAY_LEASE_NAMESPACE to a namespace that exists "
                    "(kube-system is in every cluster)"
                ),
            ) from None
        except (Conflict, ClusterError) as exc:
            log.info("sync.leader.attempt_failed", error=str(exc))
            won = False
        self._leader = won
        return won

    async def _try_acquire_or_renew(self) -> bool:
        now = datetime.now(UTC)
        mine = self._observed
        if self._leader and mine is not None and mine.holder == self.identity:
            # The leader renews what it wrote last, without reading first (client-go's fast
            # path); a 409 means someone else wrote: read and decide again.
            with suppress(Conflict, NotFound):
                self._observe(await self._replace(replace(mine, renewed_at=now)))
                return True
        current = await read_lease(self._cluster, self.namespace, self.name)
        if current is None:
            fresh = LeaseRecord(self.identity, self._seconds(), now, now, 0)
            try:
                self._observe(await create_lease(self._cluster, self.namespace, self.name, fresh))
            except Conflict:
                return False
            return True
        self._observe(current)
        held = current.holder not in ("", self.identity)
        expires = self._observed_at + current.duration_seconds
        if held and current.duration_seconds > 0 and self._clock() < expires:
            return False
        ours = current.holder == self.identity
        wanted = LeaseRecord(
            holder=self.identity,
            duration_seconds=self._seconds(),
            acquired_at=current.acquired_at if ours else now,
            renewed_at=now,
            transitions=current.transitions if ours else current.transitions + 1,
            resource_version=current.resource_version,
        )
        try:
            self._observe(await self._replace(wanted))
        except Conflict:
            return False
        return True

    async def _replace(self, record: LeaseRecord) -> LeaseRecord:
        return await replace_lease(self._cluster, self.namespace, self.name, record)

    def _observe(self, record: LeaseRecord) -> None:
        """Remembers the record, and when it was first seen in this form: a holder's silence
        is timed from then on this machine's clock."""
        if self._observed is None or record.resource_version != self._observed.resource_version:
            self._observed_at = self._clock()
        self._observed = record

    def _seconds(self) -> int:
        return max(1, round(self._timing.duration))
