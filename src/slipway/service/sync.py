"""The status sync as use cases: one pass by hand (`slipway sync --once`), or the sync running
in this process beside a worker (`slipway worker`), elected through a Lease so only one process
of the installation follows the cluster at a time; the leader also keeps OAuth tokens fresh
and the git Secrets that carry them current (`token_refresh`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Final

from slipway.bootstrap import App, ProcessLoop
from slipway.service.token_refresh import (
    REFRESH_PASS_SECONDS,
    TokenRefresher,
    watch_token_refreshes,
)
from slipway.sync import StatusSync, SyncReport, sync_once

STOP_SECONDS: Final = 10.0


@dataclass(frozen=True)
class SyncChange:
    """A resource row one pass changed."""

    project: str
    environment: str
    kind: str
    name: str
    before: str
    after: str
    message: str | None


@dataclass(frozen=True)
class SyncSummary:
    """What `slipway sync --once` checked (rows) and changed."""

    checked: int
    changes: tuple[SyncChange, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "checked": self.checked,
            "changed": [change.__dict__ for change in self.changes],
        }


async def sync_now(app: App) -> SyncSummary:
    """Lists every kind Slipway applies once (this installation's objects) and brings the
    database in line: statuses, revisions, `missing` for objects deleted out of band.
    `ClusterError` when the cluster cannot be listed."""
    async with app.cluster() as cluster:
        report = await sync_once(app, cluster)
    return _summary(report)


@contextmanager
def running_sync(app: App, *, refresh_every: float = REFRESH_PASS_SECONDS) -> Iterator[StatusSync]:
    """The status sync on the process's event loop for the duration of the block: it stands
    by until elected, then follows the cluster and, every `refresh_every` seconds, refreshes
    expiring OAuth tokens (`TokenRefresher`); on exit it stops and releases the Lease."""
    sync = StatusSync(app)
    refresher = TokenRefresher(app, leading=lambda: sync.leading, every=refresh_every)
    watch_token_refreshes(app)

    async def start(loop: ProcessLoop) -> None:
        await sync.start(loop.cluster)
        await refresher.start(loop.cluster)

    async def stop(loop: ProcessLoop) -> None:
        await refresher.stop()
        # An unreachable cluster must not hold the shutdown: the Lease then expires instead.
        with suppress(TimeoutError):
            async with asyncio.timeout(STOP_SECONDS):
                await sync.stop()

    app.loop.run(start)
    try:
        yield sync
    finally:
        app.loop.run(stop)


def _summary(report: SyncReport) -> SyncSummary:
    changes = tuple(
        SyncChange(
            c.project, c.environment, c.kind, c.name, c.before.value, c.after.value, c.message
        )
        for c in report.changes
    )
    return SyncSummary(report.checked, changes)
