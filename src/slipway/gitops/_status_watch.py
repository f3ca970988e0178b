"""`StatusWatch`: the latest status of every object Slipway manages whose kind reports a Ready
condition, from one list+watch per kind across the cluster (label
`app.kubernetes.io/managed-by=slipway`), shared by everything in the process that waits on
Flux, so waiting costs no request once the watch runs.

Each kind's task lists, then watches from the list's resourceVersion; lightkube resumes a
dropped stream from the last version seen, and 410 Gone lists again (an object gone meanwhile
is reported deleted). A task that cannot list or watch keeps trying with a capped backoff;
subscribers are told (the `ClusterError` is raised to them) when it fails before its first
list, or `RESTARTS` times in a row without progress.

Read-your-writes: the client reports each apply (`expect`); until the watch has seen that
write (same uid, at least that generation), followers of the object are shown nothing, since
an object applied a moment ago may still be cached with the Ready condition of its old spec.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterable
from contextlib import aclosing, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from slipway.domain.errors import ClusterError, SlipwayError
from slipway.domain.names import ResourceKind
from slipway.domain.text import t
from slipway.gitops._errors import SYSTEM, Operation, map_api_errors
from slipway.gitops.kinds import KindInfo, apply_order, kind_info
from slipway.gitops.results import AppliedObject, ObjectRef, ObjectStatus, object_status
from slipway.retry import Retryable

if TYPE_CHECKING:
    from slipway.gitops.cluster import ClusterClient

# Restarts (list again, watch again) in a row without progress before subscribers are told;
# progress is a change seen, or a stream that stayed open for `STABLE_SECONDS`.
RESTARTS: Final = 5
STABLE_SECONDS: Final = 30.0
BACKOFF_FIRST: Final = 0.1
BACKOFF_MAX: Final = 5.0


@dataclass(frozen=True)
class _Seen:
    uid: str
    status: ObjectStatus


@dataclass(frozen=True)
class _Written:
    uid: str
    generation: int

    def seen_in(self, seen: _Seen | None) -> bool:
        return (
            seen is not None
            and seen.uid == self.uid
            and (seen.status.generation or 0) >= self.generation
        )


class _Feed:
    """One subscriber's pending statuses, latest per object (earlier ones are superseded)."""

    def __init__(self) -> None:
        self._pending: dict[ObjectRef, ObjectStatus] = {}
        self._error: SlipwayError | None = None
        self._wake = asyncio.Event()

    def push(self, status: ObjectStatus) -> None:
        self._pending.pop(status.ref, None)  # to the back of the line
        self._pending[status.ref] = status
        self._wake.set()

    def fail(self, error: SlipwayError) -> None:
        self._error = error
        self._wake.set()

    async def get(self) -> ObjectStatus:
        while not self._pending:
            if self._error is not None:
                raise self._error
            self._wake.clear()
            await self._wake.wait()
        return self._pending.pop(next(iter(self._pending)))


class _Kind:
    """One kind's cache and the task keeping it current."""

    def __init__(self, info: KindInfo) -> None:
        self.info = info
        self.objects: dict[ObjectRef, _Seen] = {}
        self.synced = False
        self.failure: SlipwayError | None = None
        self.task: asyncio.Task[None] | None = None

    def ref(self, obj: dict[str, Any]) -> ObjectRef:
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") if self.info.namespaced else None
        return ObjectRef(self.info.kind, str(meta.get("name")), namespace)

    def seen(self, obj: dict[str, Any]) -> _Seen:
        ref = self.ref(obj)
        status = object_status(ref, obj, has_ready=self.info.has_ready)
        return _Seen(str((obj.get("metadata") or {}).get("uid") or ""), status)

    def absent(self, ref: ObjectRef) -> ObjectStatus:
        return object_status(ref, None, has_ready=self.info.has_ready)


class StatusWatch:
    """Owned by one `ClusterClient` and serving the event loop it starts on; `aclose()` (the
    client's) stops it. Subscribe with `changes(ref)` (one object) or `changes()` (all);
    read the cache with `status(ref)`."""

    def __init__(
        self,
        client: ClusterClient,
        kinds: Iterable[KindInfo] | None = None,
    ) -> None:
        """`kinds`: those with a Ready condition unless given."""
        chosen = [i for i in apply_order() if i.has_ready] if kinds is None else list(kinds)
        self._client = client
        self._kinds: dict[ResourceKind, _Kind] = {i.kind: _Kind(i) for i in chosen}
        self._followers: dict[ObjectRef, set[_Feed]] = {}
        self._everything: set[_Feed] = set()
        self._written: dict[ObjectRef, _Written] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def kinds(self) -> list[KindInfo]:
        return [kind.info for kind in self._kinds.values()]

    @property
    def started(self) -> bool:
        return self._loop is not None

    @property
    def listed(self) -> bool:
        """Whether every kind has been listed: from then on `status` knows every object."""
        return all(kind.synced for kind in self._kinds.values())

    def start(self) -> None:
        """Starts each kind's list+watch unless running (subscribing does this)."""
        loop = asyncio.get_running_loop()
        if self._closed:
            raise ClusterError(t("the cluster client was closed"), system=SYSTEM)
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("a StatusWatch serves only the event loop it started on")
        for kind in self._kinds.values():
            if kind.task is None:
                name = f"slipway-status-watch-{kind.info.plural}"
                kind.task = loop.create_task(self._run(kind), name=name)

    def status(self, ref: ObjectRef) -> ObjectStatus | None:
        """The latest status seen; None before the kind's first list, or while the cache is
        older than this client's last apply of the object."""
        kind = self._kind(ref.kind)
        seen = kind.objects.get(ref)
        written = self._written.get(ref)
        if not kind.synced or (written is not None and not written.seen_in(seen)):
            return None
        return seen.status if seen is not None else kind.absent(ref)

    async def changes(self, ref: ObjectRef | None = None) -> AsyncGenerator[ObjectStatus, None]:
        """With `ref`: the object's status once known (see `status`), then after each change
        to it. Without: every watched object's status, then every change, whatever its age.
        Only the latest status per object waits for a slow consumer. Raises the
        `ClusterError` when the watch cannot run. Close it (`contextlib.aclosing`)."""
        kinds = list(self._kinds.values()) if ref is None else [self._kind(ref.kind)]
        self.start()
        feed = _Feed()
        subscribers = self._everything if ref is None else self._followers.setdefault(ref, set())
        subscribers.add(feed)
        try:
            for kind in kinds:
                if kind.failure is not None:
                    feed.fail(kind.failure)
                elif ref is None:
                    for seen in kind.objects.values():
                        feed.push(seen.status)
                elif (now := self.status(ref)) is not None:
                    feed.push(now)
            while True:
                yield await feed.get()
        finally:
            subscribers.discard(feed)
            if ref is not None and not subscribers:
                self._followers.pop(ref, None)

    def expect(self, applied: AppliedObject) -> None:
        """This client applied `applied`: until the watch sees it, followers of the object see
        nothing older. Ignored for kinds not watched, or before the watch starts (its first
        list will be newer)."""
        kind = self._kinds.get(applied.kind)
        if kind is None or kind.task is None or applied.generation is None:
            return
        ref = ObjectRef(applied.kind, applied.name, applied.namespace)
        written = _Written(applied.uid, applied.generation)
        if written.seen_in(kind.objects.get(ref)):
            return  # the watch event came before the apply's answer
        self._written[ref] = written

    async def aclose(self) -> None:
        """Stops every task; subscribers get a `ClusterError`. Idempotent."""
        self._closed = True
        tasks = [k.task for k in self._kinds.values() if k.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task
        closed = ClusterError(t("the cluster client was closed"), system=SYSTEM)
        for feed in [*self._everything, *(f for fs in self._followers.values() for f in fs)]:
            feed.fail(closed)

    # -- the tasks ------------------------------------------------------------------------

    def _kind(self, kind: ResourceKind | str) -> _Kind:
        found = self._kinds.get(kind_info(kind).kind)
        if found is None:
            raise ValueError(f"{kind} is not a kind this watch follows")
        return found

    async def _run(self, kind: _Kind) -> None:
        loop = asyncio.get_running_loop()
        restarts = 0
        while True:
            error: SlipwayError
            started = loop.time()
            try:
                version = await self._relist(kind)
                progressed = await self._follow(kind, version)
                error = ClusterError(
                    t(
                        "the watch on {qualified} keeps expiring (410 Gone)",
                        qualified=kind.info.qualified,
                    ),
                    system=SYSTEM,
                    hint=t("the API server is overloaded or its watch cache too small; try again"),
                )
            except Retryable as exc:  # a server error, after the client's retries
                error, progressed = exc.error, False
            except SlipwayError as exc:
                error, progressed = exc, False
            except Exception as exc:  # the watch must outlive a surprise
                error, progressed = _unexpected(kind.info, exc), False
            if progressed or loop.time() - started >= STABLE_SECONDS:
                restarts = 0
            restarts += 1
            if not kind.synced or restarts > RESTARTS:
                self._fail(kind, error)
            if restarts > 1:
                await asyncio.sleep(min(BACKOFF_FIRST * 2 ** (restarts - 2), BACKOFF_MAX))

    async def _relist(self, kind: _Kind) -> str | None:
        """Replaces the kind's cache with a fresh list; publishes what changed meanwhile."""
        items, version = await self._client.list_managed(kind.info)
        fresh = {seen.status.ref: seen for seen in map(kind.seen, items)}
        before, kind.objects = kind.objects, fresh
        first, kind.synced, kind.failure = not kind.synced, True, None
        for ref in before.keys() - fresh.keys():
            self._publish(kind, ref, None, gone=before[ref].uid)
        for ref, seen in fresh.items():
            if before.get(ref) != seen:
                self._publish(kind, ref, seen)
        if first:  # followers of objects that do not exist learn so now
            for ref, feeds in self._followers.items():
                now = self.status(ref) if ref.kind == kind.info.kind else None
                if now is not None and not now.exists:
                    for feed in feeds:
                        feed.push(now)
        return version

    async def _follow(self, kind: _Kind, version: str | None) -> bool:
        """Applies each change until the stream ends (410 Gone); whether any came."""
        progressed = False
        with map_api_errors(Operation("watch", kind.info), self._client.identity):
            stream = self._client.managed_changes(kind.info, version)
            async with aclosing(stream):
                async for event, obj in stream:
                    progressed = True
                    if event == "DELETED":
                        ref = kind.ref(obj)
                        kind.objects.pop(ref, None)
                        self._publish(kind, ref, None, gone=kind.seen(obj).uid)
                    elif event in ("ADDED", "MODIFIED"):
                        seen = kind.seen(obj)
                        kind.objects[seen.status.ref] = seen
                        self._publish(kind, seen.status.ref, seen)
        return progressed

    def _publish(
        self, kind: _Kind, ref: ObjectRef, seen: _Seen | None, *, gone: str | None = None
    ) -> None:
        status = seen.status if seen is not None else kind.absent(ref)
        written = self._written.get(ref)
        if written is not None and (
            written.seen_in(seen) or (seen is None and gone == written.uid)
        ):
            del self._written[ref]
            written = None
        for feed in self._everything:
            feed.push(status)
        if written is None:
            for feed in self._followers.get(ref, ()):
                feed.push(status)

    def _fail(self, kind: _Kind, error: SlipwayError) -> None:
        kind.failure = error
        for feed in self._everything:
            feed.fail(error)
        for ref, feeds in self._followers.items():
            if ref.kind == kind.info.kind:
                for feed in feeds:
                    feed.fail(error)


def _unexpected(info: KindInfo, exc: Exception) -> ClusterError:
    """An error no mapping knows, named by its type only (its text is not vetted)."""
    return ClusterError(
        t(
            "the watch on {qualified} failed: {name}",
            qualified=info.qualified,
            name=type(exc).__name__,
        ),
        system=SYSTEM,
        hint=t("this is a bug in Slipway; please report it with this message"),
    )
