"""The cluster adapter: server-side apply of an environment's objects, status reads, and a
safe delete, over one lightkube `AsyncClient` (field manager `slipway`, explicit timeouts).

Force: Slipway owns the objects it creates, but another manager's change to them is news a
person should see, so applies are not forced by default and a conflict surfaces as
`Conflict` naming the other field manager; repair passes `force=True` to take fields back.

Every call goes through `map_api_errors` (see `_errors.py`) and `slipway.retry` (5xx/429).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from contextlib import aclosing
from pathlib import Path
from types import TracebackType
from typing import Any, Final, TypeVar

import httpx2
from lightkube import AsyncClient
from lightkube.config.client_adapter import AsyncClient as _adapter_client
from lightkube.config.client_adapter import ConnectionParams
from lightkube.config.kubeconfig import SingleConfig
from lightkube.models.authorization_v1 import ResourceAttributes, SelfSubjectAccessReviewSpec
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.authorization_v1 import SelfSubjectAccessReview
from lightkube.types import PatchType

from slipway.config import Settings
from slipway.domain.errors import ClusterError, InvalidInput, NotFound, SlipwayError
from slipway.domain.model import ResourceKind, ResourceStatus
from slipway.domain.names import ResourceNames
from slipway.gitops import _kubeconfig
from slipway.gitops._errors import ClusterIdentity, FluxNotInstalled, Operation, map_api_errors
from slipway.gitops._resources import KindInfo, kind_info
from slipway.gitops.defaults import FIELD_MANAGER
from slipway.gitops.manifests import Manifest, environment_objects
from slipway.gitops.results import (
    AppliedObject,
    DeletedObject,
    EnvironmentResult,
    ObjectRef,
    ObjectResult,
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

# Kustomization first so Flux prunes what it deployed (as the reconciler, which must still
# exist), then its source and credential, then the reconciler's RBAC, the namespace last.
DELETE_ORDER: Final = (
    ResourceKind.KUSTOMIZATION,
    ResourceKind.GIT_REPOSITORY,
    ResourceKind.SECRET,
    ResourceKind.ROLE_BINDING,
    ResourceKind.SERVICE_ACCOUNT,
    ResourceKind.NAMESPACE,
)


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
        outcomes = await self._apply_outcomes(spec, force=force)
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
        outcomes = await asyncio.gather(*(self._apply_outcomes(s, force=force) for s in specs))
        return {
            spec.environment: EnvironmentResult(spec.environment, tuple(objects))
            for spec, objects in zip(specs, outcomes, strict=True)
        }

    async def _apply_outcomes(self, spec: EnvironmentSpec, *, force: bool) -> list[ObjectResult]:
        first, *rest = environment_objects(spec)
        namespace = await self._attempt(first, force=force)
        if not namespace.ok:
            return [
                namespace,
                *(ObjectResult(_ref(o), error=namespace.error, skipped=True) for o in rest),
            ]
        others = await asyncio.gather(*(self._attempt(o, force=force) for o in rest))
        return [namespace, *others]

    async def _attempt(self, obj: Manifest, *, force: bool) -> ObjectResult:
        try:
            return ObjectResult(_ref(obj), applied=await self.apply_object(obj, force=force))
        except SlipwayError as exc:
            return ObjectResult(_ref(obj), error=exc)

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
        """Waits (by watching) until the object is Ready for its latest generation.

        Returns the status once Ready; raises `ClusterError` with the last Ready message when
        `within` seconds pass first.
        """
        info = kind_info(kind)
        ns = namespace if info.namespaced else None
        ref = ObjectRef(info.kind, name, ns)
        status = await self.read_status(info.kind, name, ns)
        if status.status is ResourceStatus.READY:
            return status
        try:
            async with asyncio.timeout(within):
                events = self._watch(info, ns, name, status.resource_version)
                async with aclosing(events):
                    async for obj in events:
                        status = object_status(ref, obj, has_ready=info.is_flux)
                        if status.status is ResourceStatus.READY:
                            return status
        except TimeoutError:
            pass
        detail = f": {status.message}" if status.message else ""
        raise ClusterError(
            f'{info.kind.value} "{name}" is not Ready after {within:g}s '
            f"(status {status.status.value}){detail}",
            system="kubernetes",
            hint=f"inspect it with `kubectl describe {info.qualified} {name}"
            + (f" -n {ns}`" if ns else "`"),
        )

    async def _watch(
        self, info: KindInfo, namespace: str | None, name: str, resource_version: str | None
    ) -> AsyncGenerator[dict[str, Any] | None, None]:
        """Yields the object (or None once deleted) each time `name` changes."""
        op = Operation("watch", info, None, namespace)
        with map_api_errors(op, self.identity):
            stream = self._client.watch(
                info.resource, namespace=namespace, resource_version=resource_version
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
        names = ResourceNames(slug, environment)
        by_kind = {
            ResourceKind.KUSTOMIZATION: names.kustomization,
            ResourceKind.GIT_REPOSITORY: names.git_repository,
            ResourceKind.SECRET: names.git_secret,
            ResourceKind.ROLE_BINDING: names.role_binding,
            ResourceKind.SERVICE_ACCOUNT: names.service_account,
            ResourceKind.NAMESPACE: names.namespace,
        }
        deleted: list[DeletedObject] = []
        for kind in DELETE_ORDER:
            name = by_kind[kind]
            ns = None if kind is ResourceKind.NAMESPACE else names.namespace
            existed = await self.delete_object(kind, name, ns)
            if existed and kind is ResourceKind.KUSTOMIZATION:
                await self._wait_gone(kind_info(kind), name, ns, prune_timeout)
            deleted.append(DeletedObject(ObjectRef(kind, name, ns), existed))
        return deleted

    async def _wait_gone(
        self, info: KindInfo, name: str, namespace: str | None, within: float
    ) -> None:
        obj = await self.read_object(info.kind, name, namespace)
        if obj is None:
            return
        version = (obj.get("metadata") or {}).get("resourceVersion")
        try:
            async with asyncio.timeout(within):
                events = self._watch(info, namespace, name, version)
                async with aclosing(events):
                    async for seen in events:
                        if seen is None:
                            return
        except TimeoutError:
            pass
        if await self.read_object(info.kind, name, namespace) is None:
            return
        raise ClusterError(
            f'{info.kind.value} "{name}" in namespace "{namespace}" is still there after '
            f"{within:g}s: Flux has not finished pruning what it deployed",
            system="kubernetes",
            hint="check that kustomize-controller is running (`flux check`), then delete again",
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


def _ref(obj: Manifest) -> ObjectRef:
    meta = obj["metadata"]
    return ObjectRef(ResourceKind(obj["kind"]), meta["name"], meta.get("namespace"))


def _as_dict(obj: Any) -> dict[str, Any]:
    result: dict[str, Any] = obj.to_dict()
    return result


def environment_refs(specs: Iterable[EnvironmentSpec]) -> list[ObjectRef]:
    """Every object reference of the given environments, in apply order."""
    return [_ref(o) for s in specs for o in environment_objects(s)]
