"""The Flux emulator: source-controller and kustomize-controller behaviour, as a client of
the API server. Like the controllers it keeps an informer cache per kind (list once, then
watch), feeds a work queue from the changes that matter, and requeues each object after its
`spec.interval`; it really fetches the repository with the Secret's credentials, really
renders the path with kustomize, applies the result, and writes status the way Flux does.
This module schedules; `_source` and `_kustomization` reconcile."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import structlog

from slipway.sandbox._server import Lifecycle
from slipway.sandbox.flux._informer import Handlers, Informer, Obj
from slipway.sandbox.flux._kubeapi import KubeAPI
from slipway.sandbox.flux._kustomization import (
    APPLY_MANAGER,
    DEFAULT_TIMEOUT_SCALE,
    KustomizationReconciler,
)
from slipway.sandbox.flux._objects import (
    FINALIZER,
    KUSTOMIZE,
    SOURCE,
    SOURCE_CONTROLLER,
    FluxKind,
    Key,
    being_deleted,
    finalizers_of,
    generation_of,
    requested_at,
    user_agent,
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
# spec.interval is required by both CRDs; these only cover an object that somehow lacks it.
DEFAULT_INTERVAL = {SOURCE.kind: 60.0, KUSTOMIZE.kind: 300.0}


class FluxEmulator(Lifecycle):
    """Runs both controllers in background threads until `stop()`.

    One asyncio thread keeps the informers (GitRepositories as source-controller, watching
    with its identity; Kustomizations as kustomize-controller), and `concurrency` threads
    reconcile from a shared work queue once both caches are filled, as controller-runtime
    waits for its caches to sync: different objects at once, one object never twice at once.
    What wakes an object, as Flux's predicates decide: its creation, a new generation (its
    deletion too: the API server bumps it when it sets deletionTimestamp), a
    `reconcile.fluxcd.io/requestedAt` annotation; a GitRepository's new
    artifact revision (or its deletion) also wakes the Kustomizations that use it. After
    each reconcile the object is requeued after its spec.interval (times `interval_scale`),
    or after a retry backoff when it failed. Nothing is listed again unless a watch answers
    410 Expired.
    """

    def __init__(
        self,
        server: str,
        token: str,
        *,
        verify: ssl.SSLContext | bool = True,
        workdir: Path | None = None,
        interval_scale: float = 1.0,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout_scale: float = DEFAULT_TIMEOUT_SCALE,
    ) -> None:
        self._source_api = KubeAPI(
            server,
            token,
            verify=verify,
            user_agent=user_agent(SOURCE_CONTROLLER),
            field_manager=SOURCE_CONTROLLER,
        )
        self._kustomize_api = KubeAPI(
            server,
            token,
            verify=verify,
            user_agent=user_agent(APPLY_MANAGER),
            field_manager=APPLY_MANAGER,
        )
        self._own_workdir = workdir is None
        self._workdir = workdir or Path(tempfile.mkdtemp(prefix="slipway-flux-"))
        self._scale = interval_scale
        self._sources = SourceReconciler(self._source_api, self._workdir)
        self.source_informer = Informer(
            SOURCE, Handlers(self._source_added, self._source_updated, self._source_deleted)
        )
        self.kustomization_informer = Informer(
            KUSTOMIZE,
            Handlers(
                self._kustomization_added,
                self._kustomization_updated,
                self._kustomization_deleted,
            ),
        )
        self._kustomizations = KustomizationReconciler(
            self._kustomize_api,
            self._sources,
            self.source_informer.get,
            timeout_scale=timeout_scale,
        )
        self._concurrency = max(1, concurrency)
        self._queue: WorkQueue[Key] = WorkQueue()
        self._stop = threading.Event()
        self._halt: Callable[[], None] | None = None
        self._failures: dict[Key, int] = {}
        self._threads: list[threading.Thread] = []

    def start(self) -> FluxEmulator:
        targets = [(self._run_informers, "flux:informers")]
        targets += [(self._work_loop, f"flux:reconciler-{n}") for n in range(self._concurrency)]
        for target, name in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._halt is not None:
            self._halt()
        for thread in self._threads:
            thread.join(timeout=5)
        self._source_api.close()
        self._kustomize_api.close()
        if self._own_workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def synced(self) -> bool:
        """Both caches hold their first list (reconcilers wait for it, as the managers do)."""
        return self.source_informer.synced.is_set() and self.kustomization_informer.synced.is_set()

    # -- informers --------------------------------------------------------------------------

    def _run_informers(self) -> None:
        asyncio.run(self._informers())

    async def _informers(self) -> None:
        loop, halt = asyncio.get_running_loop(), asyncio.Event()

        def stop_informers() -> None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                loop.call_soon_threadsafe(halt.set)

        self._halt = stop_informers
        if self._stop.is_set():
            return
        async with (
            self._source_api.watch_client() as source_http,
            self._kustomize_api.watch_client() as kustomize_http,
        ):
            tasks = [
                asyncio.create_task(self.source_informer.run(source_http, SOURCE.collection())),
                asyncio.create_task(
                    self.kustomization_informer.run(kustomize_http, KUSTOMIZE.collection())
                ),
            ]
            await halt.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _source_added(self, obj: Obj) -> None:
        self._queue.add(Key.of(SOURCE, obj))

    def _source_updated(self, old: Obj, new: Obj) -> None:
        if _spec_changed(old, new):
            self._queue.add(Key.of(SOURCE, new))
        if _revision(old) != _revision(new) and _revision(new):
            self._wake_dependents(Key.of(SOURCE, new))  # kustomize-controller's revision watch

    def _source_deleted(self, obj: Obj) -> None:
        self._queue.add(Key.of(SOURCE, obj))
        self._wake_dependents(Key.of(SOURCE, obj))

    def _kustomization_added(self, obj: Obj) -> None:
        self._queue.add(Key.of(KUSTOMIZE, obj))

    def _kustomization_updated(self, old: Obj, new: Obj) -> None:
        if _spec_changed(old, new):
            self._queue.add(Key.of(KUSTOMIZE, new))

    def _kustomization_deleted(self, obj: Obj) -> None:
        self._queue.add(Key.of(KUSTOMIZE, obj))

    def _wake_dependents(self, source: Key) -> None:
        """The Kustomizations of this source, found in the cache (an index upstream)."""
        for item in self.kustomization_informer.items():
            ref = item["spec"].get("sourceRef") or {}
            key = Key.of(KUSTOMIZE, item)
            if ref.get("kind", SOURCE.kind) == SOURCE.kind and (
                ref.get("name"),
                ref.get("namespace") or key.namespace,
            ) == (source.name, source.namespace):
                self._queue.add(key)

    # -- reconciling ------------------------------------------------------------------------

    def _work_loop(self) -> None:
        while not self.synced():
            if self._stop.wait(0.05):
                return
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
                self._requeue(key, None, ok=False)
            except Exception:  # a controller never dies on one object
                log.exception("flux reconcile crashed", key=key)
                self._requeue(key, None, ok=False)
            finally:
                self._queue.release(key)

    def _requeue(self, key: Key, obj: Obj | None, *, ok: bool) -> None:
        """Again after spec.interval; after a failure sooner, with a doubling backoff."""
        spec = (obj or {}).get("spec") or {}
        interval = parse_duration(spec.get("interval"), DEFAULT_INTERVAL[key.kind]) * self._scale
        failures = 0 if ok else self._failures.get(key, 0) + 1
        self._failures[key] = failures
        if failures:
            interval = min(interval, BACKOFF_CAP, BACKOFF_BASE * 2**failures)
        self._queue.add_after(key, interval)

    def _reconcile_source(self, key: Key) -> None:
        obj = self.source_informer.get(key)
        if obj is None:
            self._sources.forget(key)
            self._failures.pop(key, None)
            return
        if being_deleted(obj):  # source-controller's finalizer: drop the artifact, let go
            self._sources.forget(key)
            self._release(self._source_api, SOURCE, key, obj)
            return
        if not self._hold(self._source_api, SOURCE, key, obj):
            return
        if obj["spec"].get("suspend"):
            return
        result = self._sources.reconcile(key, obj)
        self._requeue(key, obj, ok=result.ok)

    def _reconcile_kustomization(self, key: Key) -> None:
        obj = self.kustomization_informer.get(key)
        if obj is None:
            self._failures.pop(key, None)
            return
        if being_deleted(obj):
            self._finalize(key, obj)
            self._release(self._kustomize_api, KUSTOMIZE, key, obj)
            return
        if not self._hold(self._kustomize_api, KUSTOMIZE, key, obj):
            return
        if obj["spec"].get("suspend"):
            return
        self._requeue(key, obj, ok=self._kustomizations.reconcile(key, obj))

    def _hold(self, api: KubeAPI, kind: FluxKind, key: Key, obj: Obj) -> bool:
        """Adds Flux's finalizer before anything else (as both controllers do, so a delete
        always waits for them); False when the object changed meanwhile (it comes again)."""
        if FINALIZER in finalizers_of(obj):
            return True
        path = kind.path(key.namespace, key.name)
        held = [*finalizers_of(obj), FINALIZER]
        if api.patch_finalizers(path, held, str(obj["metadata"]["resourceVersion"])):
            return True
        self._queue.add_after(key, 0.05)
        return False

    def _release(self, api: KubeAPI, kind: FluxKind, key: Key, obj: Obj) -> None:
        """Removes Flux's finalizer once its work is done: the API server then deletes it."""
        if FINALIZER not in finalizers_of(obj):
            return
        path = kind.path(key.namespace, key.name)
        rest = [f for f in finalizers_of(obj) if f != FINALIZER]
        if not api.patch_finalizers(path, rest, str(obj["metadata"]["resourceVersion"])):
            self._queue.add_after(key, 0.05)

    def _finalize(self, key: Key, obj: Obj) -> None:
        """What kustomize-controller's finalizer does on delete with the default
        deletionPolicy (MirrorPrune): garbage-collect the inventory when spec.prune is set,
        as the Kustomization's account; when that account is gone, pruning is skipped."""
        spec = obj.get("spec") or {}
        entries = ((obj.get("status") or {}).get("inventory") or {}).get("entries") or []
        if not (spec.get("prune") and not spec.get("suspend") and entries):
            return
        if self._kustomizations.can_impersonate(key, spec):
            self._kustomizations.prune(key, list(reversed(entries)), spec)
        else:
            log.info("flux skipped pruning: the account to impersonate is gone", key=key)


def _spec_changed(old: Obj, new: Obj) -> bool:
    """Flux's predicates (GenerationChanged or ReconcileRequested): a new generation, a new
    `flux reconcile` request or a recreated object wakes it; its own status writes do not."""
    return (
        generation_of(old) != generation_of(new)
        or requested_at(old) != requested_at(new)
        or old["metadata"].get("uid") != new["metadata"].get("uid")
    )


def _revision(obj: Obj) -> str | None:
    artifact = (obj.get("status") or {}).get("artifact") or {}
    revision = artifact.get("revision")
    return str(revision) if revision else None
