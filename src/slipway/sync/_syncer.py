"""`StatusSync`: keeps the `gitops_resources` rows (and each environment's status) true to the
cluster while this process leads, and `sync_once`, one pass by hand.

It follows one `StatusWatch` over every kind Slipway applies, narrowed on the server to
Slipway's objects (`app.kubernetes.io/managed-by`) of every installation, so an object
another installation adopted is seen as taken over, not as deleted: one list and one watch
per kind across the cluster, whatever the number of projects; the watch resumes from the last
resourceVersion after a dropped connection and lists again after 410 Gone. Changes are
gathered for `batch` seconds and written in one transaction, only for the rows they alter;
every `resync` seconds all rows are compared again with what the watch holds (a database
read, no request), which catches rows recorded after their object was last seen. Each pass
records its events' lag and its time in `slipway.metrics`, for alerts on a stalled sync.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import structlog

from slipway import metrics
from slipway.bootstrap import App
from slipway.domain.errors import SlipwayError
from slipway.gitops import ClusterClient, ObjectRef, ObjectStatus, StatusWatch, apply_order
from slipway.gitops.results import object_status
from slipway.store.status_sync import environments_to_sync, record_sync
from slipway.sync._leader import LeaderElector, LeaseTiming, candidate_identity
from slipway.sync._mapping import RowChange, namespace_of, plan_sync

log = structlog.get_logger("slipway.sync")

BATCH_SECONDS: Final = 0.2
RESYNC_SECONDS: Final = 60.0
RESUBSCRIBE_SECONDS: Final = 2.0
LISTING_POLL_SECONDS: Final = 0.25


@dataclass
class SyncReport:
    """What one pass checked and changed."""

    checked: int = 0
    changes: list[RowChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"checked": self.checked, "changed": [c.to_dict() for c in self.changes]}


def lease_name(installation: str) -> str:
    return f"slipway-sync-{installation}"


async def sync_once(app: App, cluster: ClusterClient) -> SyncReport:
    """Lists every kind once (Slipway's objects) and brings the rows in line; no Lease is
    needed, since it writes only what the cluster says."""
    kinds = apply_order()
    listed = await asyncio.gather(*(cluster.list_managed(info) for info in kinds))
    seen: dict[ObjectRef, ObjectStatus] = {}
    for info, (items, _) in zip(kinds, listed, strict=True):
        for obj in items:
            meta = obj.get("metadata") or {}
            ref = ObjectRef(info.kind, str(meta.get("name")), meta.get("namespace"))
            seen[ref] = object_status(ref, obj, has_ready=info.has_ready)
    return await asyncio.to_thread(write, app, seen, None, listed=True)


def write(
    app: App,
    seen: Mapping[ObjectRef, ObjectStatus],
    namespaces: set[str] | None,
    *,
    listed: bool,
) -> SyncReport:
    """One transaction: the rows of `namespaces` (None: all) compared with `seen`, and what
    differs written. Runs in a thread (the database is synchronous)."""
    with app.session() as session:
        envs = environments_to_sync(session, namespaces=namespaces)
        plan = plan_sync(
            envs, seen, installation=app.installation, listed=listed, at=datetime.now(UTC)
        )
        record_sync(session, resources=plan.resources, environments=plan.environments)
    return SyncReport(plan.checked, plan.changes)


class StatusSync:
    """Runs on the process's event loop: `start()` there, `stop()` to end (releasing the
    Lease). While elected it follows the cluster; on losing the Lease it stops watching and
    stands by again."""

    def __init__(
        self,
        app: App,
        *,
        timing: LeaseTiming | None = None,
        identity: str | None = None,
        batch: float = BATCH_SECONDS,
        resync: float = RESYNC_SECONDS,
    ) -> None:
        self._app = app
        self._timing = timing or LeaseTiming.for_duration(app.settings.sync_lease_seconds)
        self.identity = identity or candidate_identity()
        self._batch, self._resync = batch, resync
        self._task: asyncio.Task[None] | None = None
        self.elector: LeaderElector | None = None
        self.elected = 0  # times this process became the leader
        self.passes = 0  # database passes while leading, and the rows they changed
        self.changed = 0

    @property
    def leading(self) -> bool:
        """Whether this process follows the cluster now (running, and holding the Lease)."""
        return self._task is not None and self.elector is not None and self.elector.is_leader

    async def start(self, cluster: ClusterClient) -> None:
        """Starts the sync as a task of the running loop, with `cluster` (kept open by the
        caller); returns at once."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(cluster), name="slipway-status-sync"
            )

    async def stop(self, *, release: bool = True) -> None:
        """Stops following the cluster; `release` hands the Lease over at once (a clean
        shutdown), otherwise it expires (what a crash looks like to the others)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        if release and self.elector is not None:
            await self.elector.release()

    async def _run(self, cluster: ClusterClient) -> None:
        app = self._app
        self.elector = LeaderElector(
            cluster,
            namespace=app.settings.lease_namespace,
            name=lease_name(app.installation),
            identity=self.identity,
            timing=self._timing,
        )
        while True:
            try:
                await self.elector.acquire()
            except SlipwayError as exc:  # the Lease's namespace is missing: a setting to fix
                log.error("sync.lease_failed", error=str(exc), hint=exc.hint)
                await asyncio.sleep(self._timing.duration)
                continue
            self.elected += 1
            await self._lead(cluster)

    async def _lead(self, cluster: ClusterClient) -> None:
        """Follows the cluster until the Lease is lost (then returns) or the task is
        cancelled."""
        assert self.elector is not None
        watch = StatusWatch(cluster, apply_order())
        holding = asyncio.create_task(self.elector.hold(), name="slipway-sync-lease")
        following = asyncio.create_task(self._follow(watch), name="slipway-sync-follow")
        try:
            await asyncio.wait({holding, following}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (holding, following):
                task.cancel()
            for task in (holding, following):
                with suppress(asyncio.CancelledError):
                    await task
            await watch.aclose()

    async def _follow(self, watch: StatusWatch) -> None:
        seen: dict[ObjectRef, ObjectStatus] = {}
        dirty: set[str] = set()
        received: list[float] = []  # when each event not yet written came (monotonic)
        wake = asyncio.Event()

        async def collect() -> None:
            while True:
                try:
                    async with aclosing(watch.changes()) as changes:
                        async for status in changes:
                            if status.exists:
                                seen[status.ref] = status
                            else:
                                seen.pop(status.ref, None)
                            dirty.add(namespace_of(status.ref))
                            received.append(time.monotonic())
                            wake.set()
                except SlipwayError as exc:  # the watch could not list or keep watching
                    log.warning("sync.watch_failed", error=str(exc))
                    await asyncio.sleep(RESUBSCRIBE_SECONDS)

        collector = asyncio.create_task(collect(), name="slipway-sync-collect")
        loop = asyncio.get_running_loop()
        complete = False  # every kind listed: from then on an absent object is gone
        resync_at = loop.time() + self._resync
        try:
            while True:
                wait = LISTING_POLL_SECONDS if not complete else resync_at - loop.time()
                # asyncio.timeout, never wait_for: on 3.11 wait_for drops a cancellation
                # that comes as the awaited call ends (gh-86296), and the loop ran on.
                with suppress(TimeoutError):
                    async with asyncio.timeout(max(wait, 0)):
                        await wake.wait()
                if wake.is_set():
                    await asyncio.sleep(self._batch)  # let the rest of a burst arrive
                    wake.clear()
                full = (watch.listed and not complete) or loop.time() >= resync_at
                complete = complete or watch.listed
                if not full and not dirty:
                    continue
                if full:
                    resync_at = loop.time() + self._resync
                namespaces, snapshot, carried = set(dirty), dict(seen), list(received)
                dirty.clear()
                received.clear()
                try:
                    report = await asyncio.to_thread(
                        write, self._app, snapshot, None if full else namespaces, listed=complete
                    )
                except Exception as exc:  # the database: try again at the next pass
                    log.warning("sync.write_failed", error=type(exc).__name__)
                    dirty.update(namespaces)
                    received.extend(carried)
                    continue
                metrics.observe_sync_pass(carried)
                self.passes += 1
                self.changed += len(report.changes)
                for change in report.changes:
                    log.info("sync.changed", **change.to_dict())
        finally:
            collector.cancel()
            with suppress(asyncio.CancelledError):
                await collector
