"""The cluster adapter: server-side apply of an environment's objects, status reads, and a
safe delete, over one lightkube `AsyncClient` (field manager `slipway`, explicit timeouts).

Force: Slipway owns the objects it creates, but another manager's change to them is news a
person should see, so applies are not forced by default and a conflict surfaces as
`Conflict` naming the other field manager; repair passes `force=True` to take fields back.

Every call goes through `map_api_errors` (see `_errors.py`) and `slipway.retry` (5xx/429).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, TypeVar

import httpx2
from lightkube import ApiError, AsyncClient
from lightkube.config.client_adapter import AsyncClient as _adapter_client
from lightkube.config.client_adapter import ConnectionParams
from lightkube.config.kubeconfig import SingleConfig
from lightkube.models.authorization_v1 import ResourceAttributes, SelfSubjectAccessReviewSpec
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.authorization_v1 import SelfSubjectAccessReview
from lightkube.types import OnErrorAction, OnErrorResult, PatchType

from slipway.config import Settings
from slipway.domain.errors import InvalidInput, NotFound
from slipway.domain.model import ResourceKind
from slipway.gitops import _environment, _kubeconfig, _waiting
from slipway.gitops._errors import ClusterIdentity, FluxNotInstalled, Operation, map_api_errors
from slipway.gitops._resources import kind_info
from slipway.gitops.defaults import FIELD_MANAGER
from slipway.gitops.manifests import Manifest
from slipway.gitops.results import (
    AppliedObject,
    DeletedObject,
    EnvironmentResult,
    ObjectRef,
    ObjectStatus,
    object_status,
)
from slipway.gitops.spec import EnvironmentSpec
from slipway.retry import DEFAULT_POLICY, RetryPolicy, retry_async

T = TypeVar("T")

DEFAULT_TIMEOUT: Final = 15.0
CONNECT_TIMEOUT: Final = 5.0
# Flux's finalizer keeps a deleted Kustomization until kustomize-controller has pruned it.
DEFAULT_PRUNE_TIMEOUT: Final = 120.0
DEFAULT_READY_TIMEOUT: Final = 300.0


class ClusterClient:
    """One connection to one cluster. Methods are safe to call concurrently; `aclose()` (or
    `async with`) releases the connection pool."""

    def __init__(
        self,
        config: SingleConfig,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy = DEFAULT_POLICY,
    ) -> None:
        self._config = config
        http_timeout = httpx2.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))
        self._client = AsyncClient(config, timeout=http_timeout, field_manager=FIELD_MANAGER)
        # lightkube has no call for /version: a plain client with the same auth and TLS.
        self._http = _adapter_client(config, ConnectionParams(timeout=http_timeout))
        self._retry = retry_policy
        self.identity = ClusterIdentity(
            server=str(config.cluster.server),
            context=config.context_name,
            user=config.context.user,
        )

    @classmethod
    def from_kubeconfig(
        cls, path: Path | str, context: str | None = None, **options: Any
    ) -> ClusterClient:
        return cls(_kubeconfig.load_kubeconfig(Path(path), context), **options)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> ClusterClient:
        """K3S_KUBECONFIG_PATH, KUBECONFIG, ~/.kube/config, then in-cluster (the seed's order)."""
        return cls(_kubeconfig.resolve(settings.kubeconfig, settings.kube_context), **options)

    @classmethod
    def in_cluster(cls, **options: Any) -> ClusterClient:
        return cls(_kubeconfig.load_in_cluster(), **options)

    @property
    def server(self) -> str:
        return self.identity.server

    async def aclose(self) -> None:
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

    async def _call(self, op: Operation, call: Callable[[], Awaitable[T]]) -> T:
        """One API call, its errors mapped, retried when the server asks for it."""

        async def attempt() -> T:
            with map_api_errors(op, self.identity):
                return await call()

        return await retry_async(attempt, policy=self._retry)

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
                info.resource,
                name,
                obj,
                namespace=namespace,
                patch_type=PatchType.APPLY,
                force=force,
            ),
        )
        meta = stored.metadata
        return AppliedObject(
            kind=info.kind,
            name=name,
            namespace=namespace,
            uid=str(meta.uid),
            resource_version=str(meta.resourceVersion),
            generation=meta.generation,
        )

    async def apply_environment(
        self, spec: EnvironmentSpec, *, force: bool = False
    ) -> list[AppliedObject]:
        """Applies every object of `spec`: the Namespace first, then the rest concurrently.
        Raises the first failure (after trying every object), so a retry re-applies all."""
        outcomes = await _environment.apply_outcomes(self, spec, force=force)
        result = EnvironmentResult(spec.environment, tuple(outcomes))
        if result.error is not None:
            raise result.error
        return [o.applied for o in outcomes if o.applied is not None]

    async def apply_environments(
        self, specs: Sequence[EnvironmentSpec], *, force: bool = False
    ) -> dict[str, EnvironmentResult]:
        """Applies several environments in parallel; one environment's failure is recorded in
        its result and does not stop the others. Keyed by environment name."""
        envs = [s.environment for s in specs]
        if len(set(envs)) != len(envs):
            raise InvalidInput("environment", "each environment may be applied once per call")
        outcomes = await asyncio.gather(
            *(_environment.apply_outcomes(self, s, force=force) for s in specs)
        )
        return {
            spec.environment: EnvironmentResult(spec.environment, tuple(objects))
            for spec, objects in zip(specs, outcomes, strict=True)
        }

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
                lambda: self._client.get(info.resource, name, namespace=ns),
            )
        except FluxNotInstalled:
            raise
        except NotFound:
            return None
        return _as_dict(obj)

    async def read_status(
        self, kind: ResourceKind | str, name: str, namespace: str | None = None
    ) -> ObjectStatus:
        info = kind_info(kind)
        ns = namespace if info.namespaced else None
        obj = await self.read_object(info.kind, name, ns)
        return object_status(ObjectRef(info.kind, name, ns), obj, has_ready=info.is_flux)

    async def wait_ready(
        self,
        kind: ResourceKind | str,
        name: str,
        namespace: str | None = None,
        *,
        within: float = DEFAULT_READY_TIMEOUT,
    ) -> ObjectStatus:
        """Waits (by watching) until the object is Ready for its latest generation; raises
        `ClusterError` with the last Ready message when `within` seconds pass first."""
        info = kind_info(kind)
        return await _waiting.wait_ready(
            self, info, name, namespace if info.namespaced else None, within
        )

    async def watch_object(
        self,
        kind: ResourceKind | str,
        name: str,
        namespace: str | None = None,
        resource_version: str | None = None,
    ) -> AsyncGenerator[dict[str, Any] | None, None]:
        """Yields the object (None once deleted) at each change after `resource_version`.
        Close it (`contextlib.aclosing`) to end the watch."""
        info = kind_info(kind)
        namespace = namespace if info.namespaced else None
        op = Operation("watch", info, None, namespace)
        with map_api_errors(op, self.identity):
            stream = self._client.watch(
                info.resource,
                namespace=namespace,
                resource_version=resource_version,
                on_error=_restart_when_expired,
            )
            async for event, obj in stream:
                if obj.metadata is None or obj.metadata.name != name:
                    continue
                yield None if event == "DELETED" else _as_dict(obj)

    # -- delete ---------------------------------------------------------------------------

    async def delete_object(
        self, kind: ResourceKind | str, name: str, namespace: str | None = None
    ) -> bool:
        """Deletes one object; False when it was already gone (or Flux is not installed)."""
        info = kind_info(kind)
        ns = namespace if info.namespaced else None
        try:
            await self._call(
                Operation("delete", info, name, ns),
                lambda: self._client.delete(info.resource, name, namespace=ns),
            )
        except (NotFound, FluxNotInstalled):
            return False
        return True

    async def delete_environment(
        self, slug: str, environment: str, *, prune_timeout: float = DEFAULT_PRUNE_TIMEOUT
    ) -> list[DeletedObject]:
        """Deletes one environment's objects in `DELETE_ORDER`; absent objects are fine.

        Waits for the Kustomization to disappear before touching the rest, because Flux
        prunes the deployed workload as the reconciler ServiceAccount, through its RBAC.
        """
        return await _environment.delete_environment(
            self, slug, environment, prune_timeout=prune_timeout
        )

    # -- preflight helpers ----------------------------------------------------------------

    async def server_version(self) -> str:
        """The API server's `gitVersion` (GET /version), proving it is reachable."""

        async def get() -> dict[str, Any]:
            response = await self._http.get("/version")
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body

        body = await self._call(Operation("get"), get)
        return str(body.get("gitVersion") or "unknown")

    async def read_crd(self, name: str) -> dict[str, Any] | None:
        op = Operation("get", None, name, resource="customresourcedefinitions.apiextensions.k8s.io")
        try:
            obj = await self._call(op, lambda: self._client.get(CustomResourceDefinition, name))
        except NotFound:
            return None
        return _as_dict(obj)

    async def read_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        op = Operation("get", None, name, namespace, resource="deployments.apps")
        try:
            obj = await self._call(
                op, lambda: self._client.get(Deployment, name, namespace=namespace)
            )
        except NotFound:
            return None
        return _as_dict(obj)

    async def can_i(
        self, verb: str, resource: str, *, group: str = "", namespace: str | None = None
    ) -> tuple[bool, str]:
        """SelfSubjectAccessReview: (allowed, the authorizer's reason)."""
        review = SelfSubjectAccessReview(
            spec=SelfSubjectAccessReviewSpec(
                resourceAttributes=ResourceAttributes(
                    verb=verb, resource=resource, group=group, namespace=namespace
                )
            )
        )
        answer = await self._call(
            Operation("create", resource="selfsubjectaccessreviews.authorization.k8s.io"),
            lambda: self._client.create(review),
        )
        status = answer.status
        if status is None:
            return False, "the API server returned no decision"
        return bool(status.allowed), str(status.reason or "")


def _restart_when_expired(error: Exception, count: int) -> OnErrorResult:
    """410 Gone: our resourceVersion left the server's window; lightkube then restarts the
    watch from the current state (which `_watch`'s callers re-check). Anything else raises."""
    if isinstance(error, ApiError) and error.status.code == 410 and count <= 3:
        return OnErrorResult(OnErrorAction.RETRY)
    return OnErrorResult(OnErrorAction.RAISE)


def _as_dict(obj: Any) -> dict[str, Any]:
    result: dict[str, Any] = obj.to_dict()
    return result
