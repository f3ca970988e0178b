"""The cluster adapter: server-side apply of an environment's objects, and status reads and
watches, over one lightkube `AsyncClient` (field manager `slipway`, explicit timeouts).

A client is meant to live as long as its process's event loop and be shared by every project:
calls may run concurrently, its `status_watch` (started on first use) keeps the status of every
object Slipway manages, and `aclose()` stops both.

Force: Slipway owns the objects it creates, but another manager's change to them is news a
person should see, so applies are not forced by default and a conflict surfaces as
`Conflict` naming the other field manager; repair passes `force=True` to take fields back.

The connection, error mapping, retries and preflight reads are `ClusterConnection`'s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from lightkube.config.kubeconfig import SingleConfig
from lightkube.types import PatchType

from slipway.config import Settings
from slipway.domain.errors import ClusterError, InvalidInput, NotFound, SlipwayError
from slipway.domain.names import ResourceKind
from slipway.domain.text import t
from slipway.gitops import _environment, _kubeconfig, _watch
from slipway.gitops._connection import DEFAULT_TIMEOUT, ClusterConnection, as_dict
from slipway.gitops._errors import SYSTEM, FluxNotInstalled, Operation, map_api_errors
from slipway.gitops._resources import resource_class
from slipway.gitops._status_watch import StatusWatch
from slipway.gitops.kinds import KindInfo, kind_info
from slipway.gitops.manifests import Manifest
from slipway.gitops.ownership import check_ownership
from slipway.gitops.results import (
    AppliedObject,
    EnvironmentResult,
    ObjectRef,
    ObjectStatus,
    object_status,
)
from slipway.gitops.spec import EnvironmentSpec
from slipway.retry import DEFAULT_POLICY, Retryable, RetryPolicy

# How often in a row a watch is started again from a fresh read (after 410 Gone or a server
# error) without seeing a change, before the error is reported.
WATCH_REREADS: Final = 5
# What `flux reconcile` sets; controllers answer in status.lastHandledReconcileAt.
RECONCILE_REQUESTED: Final = "reconcile.fluxcd.io/requestedAt"
RECONCILE_POLL_SECONDS: Final = 0.25


class ClusterClient(ClusterConnection):
    """One connection to one cluster. Methods are safe to call concurrently from the event
    loop that uses it; `aclose()` (or `async with`) stops the status watch and releases the
    connection pool."""

    def __init__(
        self,
        config: SingleConfig,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy = DEFAULT_POLICY,
    ) -> None:
        super().__init__(config, timeout=timeout, retry_policy=retry_policy)
        self._status_watch: StatusWatch | None = None

    @classmethod
    def from_kubeconfig(
        cls, path: Path | str, context: str | None = None, **options: Any
    ) -> ClusterClient:
        return cls(_kubeconfig.load_kubeconfig(Path(path), context), **options)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> ClusterClient:
        """K3S_KUBECONFIG_PATH, KUBECONFIG, ~/.kube/config, then in-cluster (the seed's order)."""
        return cls(_kubeconfig.resolve(settings.kubeconfig, settings.kube_context), **options)

    @property
    def status_watch(self) -> StatusWatch:
        """The shared watch on every object Slipway manages with a Ready condition; created
        on first use, started by its first subscriber, stopped by `aclose()`."""
        if self._closed:
            raise ClusterError(t("the cluster client was closed"), system=SYSTEM)
        if self._status_watch is None:
            self._status_watch = StatusWatch(self)
        return self._status_watch

    async def aclose(self) -> None:
        """Idempotent; calls still running fail with a `ClusterError`."""
        if self._closed:
            return
        self._closed = True
        if self._status_watch is not None:
            await self._status_watch.aclose()
        await self._client.close()
        await self._http.aclose()

    async def __aenter__(self) -> ClusterClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- apply ----------------------------------------------------------------------------

    async def apply_object(self, obj: Manifest, *, force: bool = False) -> AppliedObject:
        """Server-side apply of one manifest (create or update; a no-op when unchanged)."""
        info = kind_info(obj["kind"])
        name: str = obj["metadata"]["name"]
        namespace: str | None = obj["metadata"].get("namespace")
        op = Operation("patch", info, name, namespace)
        stored = await self._call(
            op,
            lambda: self._client.patch(
                resource_class(info),
                name,
                obj,
                namespace=namespace,
                patch_type=PatchType.APPLY,
                force=force,
            ),
        )
        meta = stored.metadata
        applied = AppliedObject(
            kind=info.kind,
            name=name,
            namespace=namespace,
            uid=str(meta.uid),
            resource_version=str(meta.resourceVersion),
            generation=meta.generation,
        )
        if self._status_watch is not None:
            self._status_watch.expect(applied)
        return applied

    async def apply_environment(
        self, spec: EnvironmentSpec, *, force: bool = False, adopt: bool = False
    ) -> list[AppliedObject]:
        """Applies every object of `spec` after the ownership check: the Namespace first,
        then the rest concurrently. Raises the first failure (after trying every object), so
        a retry re-applies all."""
        await check_ownership(self, [spec], adopt=adopt)
        outcomes = await _environment.apply_outcomes(self, spec, force=force)
        result = EnvironmentResult(spec.environment, tuple(outcomes))
        if result.error is not None:
            raise result.error
        return [o.applied for o in outcomes if o.applied is not None]

    async def apply_environments(
        self,
        specs: Sequence[EnvironmentSpec],
        *,
        force: bool = False,
        adopt: bool = False,
        step: str | None = None,
    ) -> dict[str, EnvironmentResult]:
        """Applies several environments in three round trips: their Namespaces read (an
        object someone else owns is a `Conflict`, and nothing is applied; `ownership`), every
        Namespace applied concurrently, then every other object concurrently; one
        environment's failure is recorded in its result and does not stop the others. Keyed
        by environment name. `adopt` takes over this project's objects from another
        installation."""
        envs = [s.environment for s in specs]
        if len(set(envs)) != len(envs):
            raise InvalidInput("environment", t("each environment may be applied once per call"))
        await check_ownership(self, specs, adopt=adopt, step=step)
        outcomes = await _environment.apply_all(self, specs, force=force)
        return {
            spec.environment: EnvironmentResult(spec.environment, tuple(objects))
            for spec, objects in zip(specs, outcomes, strict=True)
        }

    async def request_reconcile(self, kind: ResourceKind | str, name: str, namespace: str) -> str:
        """Asks the controller to reconcile the object now, as `flux reconcile` does (a merge
        patch of the `reconcile.fluxcd.io/requestedAt` annotation); returns the request's
        token, which the controller echoes in `status.lastHandledReconcileAt`."""
        info = kind_info(kind)
        token = datetime.now(UTC).isoformat()
        patch = {"metadata": {"annotations": {RECONCILE_REQUESTED: token}}}
        await self._call(
            Operation("patch", info, name, namespace),
            lambda: self._client.patch(
                resource_class(info),
                name,
                patch,
                namespace=namespace,
                patch_type=PatchType.MERGE,
            ),
        )
        return token

    async def reconcile_now(
        self, kind: ResourceKind | str, name: str, namespace: str, *, within: float
    ) -> ObjectStatus:
        """As `flux reconcile`: asks the controller to reconcile the object now (the
        `reconcile.fluxcd.io/requestedAt` annotation) and waits until it has handled that
        request and says Ready (True or False); returns that status. `ClusterError` when the
        controller has not answered within `within` seconds."""
        info = kind_info(kind)
        token = await self.request_reconcile(info.kind, name, namespace)
        deadline = time.monotonic() + within
        ref = ObjectRef(info.kind, name, namespace)
        while True:
            obj = await self.read_object(info.kind, name, namespace)
            handled = ((obj or {}).get("status") or {}).get("lastHandledReconcileAt")
            status = object_status(ref, obj, has_ready=info.has_ready)
            if handled == token and status.ready is not None and status.ready.status != "Unknown":
                return status
            if time.monotonic() > deadline:
                raise ClusterError(
                    t(
                        "{kind} {namespace}/{name} was not reconciled within {within:.0f} s",
                        kind=info.kind,
                        namespace=namespace,
                        name=name,
                        within=within,
                    ),
                    system=SYSTEM,
                    hint=t("check that Flux's controllers are running: `flux check`"),
                )
            await asyncio.sleep(RECONCILE_POLL_SECONDS)

    # -- read -----------------------------------------------------------------------------

    async def read_object(
        self, kind: ResourceKind | str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """The object as a plain dict, or None when it does not exist."""
        info = kind_info(kind)
        ns = namespace if info.namespaced else None
        try:
            obj = await self._call(
                Operation("get", info, name, ns),
                lambda: self._client.get(resource_class(info), name, namespace=ns),
            )
        except FluxNotInstalled:
            raise
        except NotFound:
            return None
        return as_dict(obj)

    async def get_json(
        self,
        path: str,
        *,
        op: Operation,
        params: Mapping[str, str] | None = None,
        accept: str | None = None,
    ) -> dict[str, Any]:
        """One GET of a raw API path as JSON (discovery, a collection of a kind found at run
        time, which lightkube has no class for), errors mapped and retried as every call."""

        async def get() -> dict[str, Any]:
            headers = {"Accept": accept} if accept else None
            response = await self._http.get(path, params=dict(params or {}), headers=headers)
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body

        return await self._call(op, get)

    async def delete_object(self, ref: ObjectRef) -> None:
        """Deletes one object (in the background, as kubectl does); already gone is success."""
        info = kind_info(ref.kind)
        try:
            await self._call(
                Operation("delete", info, ref.name, ref.namespace),
                lambda: self._client.delete(
                    resource_class(info), ref.name, namespace=ref.namespace
                ),
            )
        except NotFound:
            return

    async def read_status(
        self, kind: ResourceKind | str, name: str, namespace: str | None = None
    ) -> ObjectStatus:
        info = kind_info(kind)
        ns = namespace if info.namespaced else None
        obj = await self.read_object(info.kind, name, ns)
        return object_status(ObjectRef(info.kind, name, ns), obj, has_ready=info.has_ready)

    async def watch_status(
        self, kind: ResourceKind | str, name: str, namespace: str | None = None
    ) -> AsyncGenerator[ObjectStatus, None]:
        """The object's status now, then after every change to it, until the caller stops
        (close it: `contextlib.aclosing`). One stream, filtered to the object by the server
        (`fieldSelector=metadata.name`), starting at the resourceVersion of a first read so
        no change is missed; after 410 Gone the object is read again and watched from there."""
        info = kind_info(kind)
        ns = namespace if info.namespaced else None
        ref = ObjectRef(info.kind, name, ns)
        rereads = 0  # in a row, without a change seen in between
        while True:
            obj, version = await self._call(
                Operation("list", info, name, ns),
                lambda: _watch.list_one(self._client, info, name, ns),
            )
            yield object_status(ref, obj, has_ready=info.has_ready)
            try:
                with map_api_errors(Operation("watch", info, name, ns), self.identity):
                    changes = _watch.changes(self._client, info, name, ns, version)
                    async with aclosing(changes):
                        async for changed in changes:
                            rereads = 0
                            yield object_status(ref, changed, has_ready=info.has_ready)
                error: SlipwayError = ClusterError(
                    t(
                        'the watch on {kind} "{name}" keeps expiring (410 Gone)',
                        kind=ref.kind,
                        name=name,
                    ),
                    system=SYSTEM,
                    hint=t("the API server is overloaded or its watch cache too small; try again"),
                )
            except Retryable as exc:  # a server error starting the watch
                error = exc.error
            rereads += 1
            if rereads > WATCH_REREADS:
                raise error

    async def list_managed(self, info: KindInfo) -> tuple[list[dict[str, Any]], str | None]:
        """Every object of the kind Slipway manages (its label, any installation's), in all
        namespaces, and the resourceVersion to watch from (`StatusWatch`, the status sync)."""
        return await self._call(
            Operation("list", info), lambda: _watch.list_managed(self._client, info)
        )

    def managed_changes(
        self, info: KindInfo, version: str | None
    ) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
        """(event type, object) after `version` for the objects `list_managed` lists; ends on
        410 Gone (list again). Errors are lightkube's: map them with `map_api_errors`."""
        return _watch.managed_changes(self._client, info, version)
