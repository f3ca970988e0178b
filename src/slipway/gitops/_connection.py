"""The connection under `ClusterClient`: one lightkube `AsyncClient` (field manager
`slipway`, explicit timeouts), every call's error mapping and retries, and the reads preflight
makes (the API version, CRDs, controllers, access and rules reviews).

Every call goes through `map_api_errors` (see `_errors.py`) and `slipway.retry` (5xx/429).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

import httpx2
from lightkube import AsyncClient
from lightkube.config.client_adapter import AsyncClient as _adapter_client
from lightkube.config.client_adapter import ConnectionParams
from lightkube.config.kubeconfig import SingleConfig
from lightkube.models.authorization_v1 import (
    ResourceAttributes,
    SelfSubjectAccessReviewSpec,
    SelfSubjectRulesReviewSpec,
)
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.authorization_v1 import SelfSubjectAccessReview, SelfSubjectRulesReview

from slipway import metrics
from slipway.domain.errors import ClusterError, NotFound
from slipway.domain.text import t
from slipway.gitops._errors import SYSTEM, ClusterIdentity, Operation, map_api_errors
from slipway.gitops._rules import ResourceRule, RulesReview
from slipway.gitops._tls import cluster_tls
from slipway.gitops.defaults import FIELD_MANAGER
from slipway.retry import DEFAULT_POLICY, RetryPolicy, retry_async

T = TypeVar("T")

APPLY_PATCH: Final = "application/apply-patch"  # server-side apply's content type

DEFAULT_TIMEOUT: Final = 15.0
CONNECT_TIMEOUT: Final = 5.0


class ClusterConnection:
    """Calls to one cluster as one user; safe to make concurrently from one event loop."""

    def __init__(
        self,
        config: SingleConfig,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy = DEFAULT_POLICY,
    ) -> None:
        self._config = config
        http_timeout = httpx2.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))
        self._client = AsyncClient(
            config,
            timeout=http_timeout,
            field_manager=FIELD_MANAGER,
            transport=metered_transport(config),
        )
        # lightkube has no call for /version: a plain client with the same auth and TLS.
        # (lightkube types `transport` as the synchronous base; the async client takes both.)
        params = ConnectionParams(
            timeout=http_timeout,
            transport=metered_transport(config),  # type: ignore[arg-type]
        )
        self._http = _adapter_client(config, params)
        self._retry = retry_policy
        self.identity = ClusterIdentity(
            server=str(config.cluster.server),
            context=config.context_name,
            user=config.context.user,
        )
        self._closed = False

    @property
    def server(self) -> str:
        return self.identity.server

    async def _call(self, op: Operation, call: Callable[[], Awaitable[T]]) -> T:
        """One API call, its errors mapped, retried when the server asks for it."""
        if self._closed:
            raise ClusterError(t("the cluster client was closed"), system=SYSTEM)

        async def attempt() -> T:
            with map_api_errors(op, self.identity):
                return await call()

        return await retry_async(attempt, policy=self._retry)

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
        return as_dict(obj)

    async def read_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        op = Operation("get", None, name, namespace, resource="deployments.apps")
        try:
            obj = await self._call(
                op, lambda: self._client.get(Deployment, name, namespace=namespace)
            )
        except NotFound:
            return None
        return as_dict(obj)

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

    async def rules_review(self, namespace: str) -> RulesReview:
        """SelfSubjectRulesReview: in one request, the rules bound to this user cluster-wide
        and in `namespace` (which need not exist)."""
        review = SelfSubjectRulesReview(spec=SelfSubjectRulesReviewSpec(namespace=namespace))
        answer = await self._call(
            Operation("create", resource="selfsubjectrulesreviews.authorization.k8s.io"),
            lambda: self._client.create(review),
        )
        status = answer.status
        if status is None:
            return RulesReview((), incomplete=True, evaluation_error="no status in the answer")
        rules = tuple(
            ResourceRule(
                verbs=tuple(rule.verbs or ()),
                api_groups=tuple(rule.apiGroups or ()),
                resources=tuple(rule.resources or ()),
                resource_names=tuple(rule.resourceNames or ()),
            )
            for rule in status.resourceRules or ()
        )
        return RulesReview(
            rules,
            incomplete=bool(status.incomplete),
            evaluation_error=str(status.evaluationError or ""),
        )


class MeteredTransport(httpx2.AsyncBaseTransport):
    """Counts and times each Kubernetes API request in `slipway.metrics`, by verb and status
    class (`error` when no answer came): never the object, namespace or path."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner

    async def __aenter__(self) -> MeteredTransport:
        await self._inner.__aenter__()
        return self

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        verb = metrics.cluster_verb(
            request.method,
            watch=request.url.params.get("watch") == "true",
            apply=request.headers.get("content-type", "").startswith(APPLY_PATCH),
        )
        started = time.perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
        except Exception:
            metrics.observe_cluster_request(verb, None, time.perf_counter() - started)
            raise
        metrics.observe_cluster_request(verb, response.status_code, time.perf_counter() - started)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def metered_transport(config: SingleConfig) -> MeteredTransport:
    """The transport lightkube would build (the cluster's CA, the user's client certificate),
    counted. Given a transport, httpx ignores its `verify`, so the TLS context is built here
    with lightkube's own `verify_cluster`. Requests routed through a proxy from the
    environment (HTTPS_PROXY) take httpx's proxy transport instead and are not counted."""
    if config.user is None:
        raise ClusterError(t("the kubeconfig context names no user"), system=SYSTEM)
    return MeteredTransport(httpx2.AsyncHTTPTransport(verify=cluster_tls(config, config.user)))


def as_dict(obj: Any) -> dict[str, Any]:
    result: dict[str, Any] = obj.to_dict()
    return result
