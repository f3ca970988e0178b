"""The Flux emulator: source-controller and kustomize-controller behaviour, as a client of
the API server. It watches GitRepositories and Kustomizations, really fetches the repository
with the Secret's credentials, really renders the path with kustomize, applies the result,
and writes status the way Flux does. This module schedules; `_source` and `_kustomization`
reconcile."""

from __future__ import annotations

import shutil
import ssl
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import structlog

from slipway.sandbox.flux._kubeapi import KubeAPI
from slipway.sandbox.flux._kustomization import KustomizationReconciler
from slipway.sandbox.flux._objects import (
    KUSTOMIZE,
    SOURCE,
    FluxKind,
    Key,
    generation_of,
    requested_at,
)
from slipway.sandbox.flux._source import SourceReconciler
from slipway.sandbox.flux._status import parse_duration
from slipway.sandbox.flux._workqueue import WorkQueue

log = structlog.get_logger(__name__)

# Flux retries a failed object with a growing delay (--min-retry-delay 750ms upstream); the
# sandbox caps it low so a fixed Secret or commit is picked up within seconds.
BACKOFF_BASE, BACKOFF_CAP = 0.5, 8.0
# Reconciler threads, as the controllers' `--concurrent` flag (kustomize-controller: 4).
DEFAULT_CONCURRENCY = 4


class FluxEmulator:
    """Runs both controllers in background threads until `stop()`.

    Like controller-runtime's work queue, `concurrency` threads reconcile different objects at
    once, but one object is never reconciled by two threads: an object changed while it is
    being reconciled is reconciled again afterwards.

    `resync_seconds` bounds how long a change outside the watch (a new commit on the branch)
    waits to be noticed; each object is still re-fetched no more often than its spec.interval
    (times `interval_scale`) unless its generation changed, a reconcile was requested through
    the `reconcile.fluxcd.io/requestedAt` annotation, or its last attempt failed.
    """

    def __init__(
        self,
        server: str,
        token: str,
        *,
        verify: ssl.SSLContext | bool = True,
        workdir: Path | None = None,
        resync_seconds: int = 5,
        interval_scale: float = 1.0,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self._api = KubeAPI(server, token, verify=verify)
        self._own_workdir = workdir is None
        self._workdir = workdir or Path(tempfile.mkdtemp(prefix="slipway-flux-"))
        self._resync = resync_seconds
        self._scale = interval_scale
        self._sources = SourceReconciler(self._api, self._workdir)
        self._kustomizations = KustomizationReconciler(self._api, self._sources)
        self._concurrency = max(1, concurrency)
        self._queue: WorkQueue[Key] = WorkQueue()
        self._stop = threading.Event()
        self._last_run: dict[Key, tuple[float, str]] = {}  # monotonic time, uid:generation
        self._failures: dict[Key, int] = {}
        self._deleted: dict[Key, dict[str, Any]] = {}  # last state of deleted Kustomizations
        self._threads: list[threading.Thread] = []

    def start(self) -> FluxEmulator:
        workers = [(self._work_loop, f"flux:reconciler-{n}") for n in range(self._concurrency)]
        for target, name in (
            (lambda: self._watch_loop(SOURCE), "flux:source-watch"),
            (lambda: self._watch_loop(KUSTOMIZE), "flux:kustomize-watch"),
            *workers,
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self._resync + 2)
        self._api.close()
        if self._own_workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)

    # -- watching ---------------------------------------------------------------------------

    def _watch_loop(self, kind: FluxKind) -> None:
        """List and enqueue everything every `resync_seconds` (the periodic resync), and watch
        continuously from the last resourceVersion seen, so no event falls between watches."""
        path = KubeAPI.collection(kind.api_version, kind.plural)
        version: str | None = None
        while not self._stop.is_set():
            try:
                items, listed = self._api.list(path)
                for item in items:
                    self._queue.add(Key.of(kind, item))
                version = version or listed
                for event in self._api.watch(path, version, self._resync):
                    if self._stop.is_set():
                        return
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":  # 410 Expired: relist from now
                        version = None
                        break
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    if event.get("type") not in ("ADDED", "MODIFIED", "DELETED"):
                        continue
                    key = Key.of(kind, obj)
                    if event["type"] == "DELETED" and kind is KUSTOMIZE:
                        self._deleted[key] = obj  # its finalizer prunes the inventory
                    self._queue.add(key)
            except httpx.HTTPStatusError as exc:
                # CRDs not installed (404), access denied, or 410 Gone: relist after a pause.
                log.debug("flux watch failed", kind=kind.kind, status=exc.response.status_code)
                version = None
                self._stop.wait(self._resync)
            except (httpx.HTTPError, ValueError):
                self._stop.wait(1.0)

    def _work_loop(self) -> None:
        while not self._stop.is_set():
            key = self._queue.take(timeout=0.5)
            if key is None:
                continue
            try:
                if key.kind == SOURCE.kind:
                    self._reconcile_source(key)
                else:
                    self._reconcile_kustomization(key)
            except httpx.HTTPError as exc:
                log.debug("flux reconcile failed", key=key, error=type(exc).__name__)
            except Exception:  # a controller never dies on one object
                log.exception("flux reconcile crashed", key=key)
            finally:
                self._queue.release(key)

    # -- scheduling -------------------------------------------------------------------------

    def _due(self, key: Key, obj: dict[str, Any], default_interval: float) -> bool:
        """Reconcile a new object or generation, a requested reconcile, or once the interval
        (after a failure: the retry backoff) has passed."""
        if obj["spec"].get("suspend"):
            return False
        if self._queue.take_forced(key):
            return True
        last = self._last_run.get(key)
        if last is None or last[1] != _identity(obj):
            return True
        requested = requested_at(obj)
        if requested and requested != (obj.get("status") or {}).get("lastHandledReconcileAt"):
            return True
        interval = parse_duration(obj["spec"].get("interval"), default_interval) * self._scale
        failures = self._failures.get(key, 0)
        if failures:
            interval = min(interval, BACKOFF_CAP, BACKOFF_BASE * 2**failures)
        return time.monotonic() - last[0] >= interval

    def _ran(self, key: Key, obj: dict[str, Any], ok: bool) -> None:
        self._last_run[key] = (time.monotonic(), _identity(obj))
        self._failures[key] = 0 if ok else self._failures.get(key, 0) + 1

    def _forget(self, key: Key) -> None:
        self._last_run.pop(key, None)
        self._failures.pop(key, None)

    # -- reconcilers ------------------------------------------------------------------------

    def _reconcile_source(self, key: Key) -> None:
        obj = self._api.get(SOURCE.path(key.namespace, key.name))
        if obj is None:
            self._sources.forget(key)
            self._forget(key)
            self._requeue_dependents(key)  # kustomize-controller watches source deletions
            return
        if not self._due(key, obj, 60.0):
            return
        result = self._sources.reconcile(key, obj)
        self._ran(key, obj, result.ok)
        if result.new_revision:
            self._requeue_dependents(key)

    def _reconcile_kustomization(self, key: Key) -> None:
        obj = self._api.get(KUSTOMIZE.path(key.namespace, key.name))
        if obj is None:
            self._forget(key)
            # The DELETED event may land while this key is being reconciled; its tombstone
            # waits here until a reconcile finds the object gone.
            deleted = self._deleted.pop(key, None)
            if deleted is not None:
                self._finalize(key, deleted)
            return
        if self._due(key, obj, 300.0):
            self._ran(key, obj, self._kustomizations.reconcile(key, obj))

    def _finalize(self, key: Key, last: dict[str, Any]) -> None:
        """What kustomize-controller's finalizer does on delete with the default
        deletionPolicy (MirrorPrune): garbage-collect the inventory when spec.prune is set."""
        spec = last.get("spec") or {}
        entries = ((last.get("status") or {}).get("inventory") or {}).get("entries") or []
        if spec.get("prune") and not spec.get("suspend") and entries:
            self._kustomizations.prune(key, list(reversed(entries)))

    def _requeue_dependents(self, source: Key) -> None:
        """Kustomizations of this source reconcile now, as on a new artifact revision."""
        try:
            items, _ = self._api.list(KubeAPI.collection(KUSTOMIZE.api_version, KUSTOMIZE.plural))
        except httpx.HTTPError:
            return
        for item in items:
            ref = item["spec"].get("sourceRef") or {}
            key = Key.of(KUSTOMIZE, item)
            if ref.get("kind", SOURCE.kind) == SOURCE.kind and (
                ref.get("name"),
                ref.get("namespace") or key.namespace,
            ) == (source.name, source.namespace):
                self._queue.add(key, force=True)


def _identity(obj: dict[str, Any]) -> str:
    """A recreated object (new uid) or a new spec (new generation) is reconciled at once."""
    return f"{obj['metadata'].get('uid', '')}:{generation_of(obj)}"
