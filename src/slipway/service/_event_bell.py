"""One database read per interval wakes every live follower of progress events in a process,
however many there are: 200 browsers watching 200 projects cost 5 small queries a second, not
1,000. A follower reads its own events only once the bell says its project has new ones."""

from __future__ import annotations

import asyncio
import weakref
from collections import defaultdict
from contextlib import suppress
from typing import Final

from slipway import store
from slipway.bootstrap import App

BELL_INTERVAL_SECONDS: Final = 0.2
# A follower reads again after this long even when the bell stayed silent: a bound on what an
# unforeseen case (a project deleted and its row ID reused between two rings) could hold up.
FALLBACK_SECONDS: Final = 5.0


class EventBell:
    """Followers of one App on one event loop, waiting for their project's next event."""

    def __init__(self, app: App, interval: float = BELL_INTERVAL_SECONDS) -> None:
        self.app = app
        self._interval = interval
        self._waiting: dict[int, dict[asyncio.Future[None], int]] = defaultdict(dict)
        self._ringer: asyncio.Task[None] | None = None

    async def wait_past(
        self, project_id: int, sequence: int, *, fallback: float = FALLBACK_SECONDS
    ) -> None:
        """Returns once the project has an event after `sequence` or is gone (or `fallback`
        seconds passed); a cancelled follower (a client gone) leaves no trace."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[project_id][waiter] = sequence
        if self._ringer is None or self._ringer.done():
            self._ringer = asyncio.create_task(self._ring(), name="slipway-event-bell")
        try:
            with suppress(TimeoutError):
                async with asyncio.timeout(fallback):  # not wait_for: it can drop a cancel
                    await asyncio.shield(waiter)
        finally:
            waiters = self._waiting.get(project_id)
            if waiters is not None:
                waiters.pop(waiter, None)
                if not waiters:
                    del self._waiting[project_id]

    @property
    def followed(self) -> int:
        """How many followers wait now."""
        return sum(len(w) for w in self._waiting.values())

    async def _ring(self) -> None:
        """Reads the followed projects' newest sequences each interval while anyone waits."""
        while self._waiting:
            await asyncio.sleep(self._interval)
            projects = list(self._waiting)
            if not projects:
                break
            newest = await asyncio.to_thread(self._newest, projects)
            for project_id in projects:
                latest = newest.get(project_id)
                for waiter, seen in list(self._waiting.get(project_id, {}).items()):
                    if (latest is None or latest > seen) and not waiter.done():
                        waiter.set_result(None)

    def _newest(self, projects: list[int]) -> dict[int, int]:
        with self.app.session() as session:
            return store.newest_sequences(session, projects)


_bells: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, EventBell]] = (
    weakref.WeakKeyDictionary()
)


def event_bell(app: App) -> EventBell:
    """The running loop's bell for `app` (futures belong to one loop; a CLI run has its own)."""
    per_app = _bells.setdefault(asyncio.get_running_loop(), {})
    bell = per_app.get(id(app))
    if bell is None or bell.app is not app:
        bell = per_app[id(app)] = EventBell(app)
    return bell
