"""What the emulator was asked, for tests and benchmarks: each request as the API server's
audit log would name it (verb, resource, namespace, name, user), and an optional delay on
every response, so a benchmark can count round trips and price them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from slipway.sandbox._recording import OnResponseStart, Recorder, Recorders
from slipway.sandbox.kube._paths import parse
from slipway.sandbox.kube._store import KubeState
from slipway.sandbox.kube._subject import Subject

SUBJECT_SCOPE_KEY = "slipway.kube.subject"  # set by the routes once they know who acts
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


@dataclass(frozen=True)
class KubeRequest:
    """One request. `verb` is the Kubernetes verb (get, list, watch, create, update, patch,
    delete, deletecollection; a non-resource path such as /version or discovery gets the
    lowercase HTTP method, as in RBAC); `user` is who the request acted as: the token's
    user, or the impersonated one (then `impersonator` is the token's user); "" when no
    token was recognised."""

    verb: str
    method: str
    path: str
    query: str
    group: str
    resource: str
    subresource: str
    namespace: str
    name: str
    status: int
    user: str
    user_agent: str
    impersonator: str = ""


class KubeRecorder(Recorder[KubeRequest]):
    """The requests answered while its `KubeEmulator.recording()` block ran, in order."""

    def requests(self, *, user: str | None = None) -> list[KubeRequest]:
        """All of them, or only those `user` made, as itself or impersonating someone
        (Slipway's and Flux's tokens differ; Flux applies as each Kustomization's account)."""
        return [r for r in super().requests() if user is None or user in (r.user, r.impersonator)]


def describe(scope: Scope, status: int, user: str, impersonator: str = "") -> KubeRequest:
    """The request's Kubernetes attributes, from its method, path and query, after the API
    server's RequestInfo rules (a namespace's own namespace is its name)."""
    method, path = str(scope["method"]), str(scope["path"])
    query = scope.get("query_string", b"").decode("latin-1")
    headers = dict(scope.get("headers") or [])
    agent = headers.get(b"user-agent", b"").decode("latin-1")
    target = parse(path.rstrip("/"))
    if target is None or path.startswith("/openapi"):
        return KubeRequest(
            method.lower(),
            method,
            path,
            query,
            "",
            "",
            "",
            "",
            "",
            status,
            user,
            agent,
            impersonator,
        )
    if method == "GET":
        watching = parse_qs(query).get("watch", [""])[-1] in ("true", "1")
        verb = "get" if target.name else ("watch" if watching else "list")
    elif method == "DELETE":
        verb = "delete" if target.name else "deletecollection"
    else:
        verb = _VERBS.get(method, method.lower())
    namespace = target.namespace or ""
    if target.plural == "namespaces" and target.name and not namespace:
        namespace = target.name
    return KubeRequest(
        verb,
        method,
        path,
        query,
        target.group,
        target.plural,
        target.subresource,
        namespace,
        target.name or "",
        status,
        user,
        agent,
        impersonator,
    )


class RecordingMiddleware:
    """Logs each request to the open recorders as its answer starts (so a caller reading the
    log right after a call finds it) and holds every answer `latency_ms` back: a watch only
    until its first byte, the events after it flow at once. Both can change while it runs."""

    def __init__(self, app: ASGIApp, state: KubeState, *, latency_ms: float = 0.0) -> None:
        self.app = app
        self.state = state
        self.log = Recorders[KubeRequest, KubeRecorder](KubeRecorder)
        self.latency_ms = latency_ms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def started(status: int) -> None:
            if self.log.active:
                subject = scope.get(SUBJECT_SCOPE_KEY)
                if isinstance(subject, Subject):
                    entry = describe(scope, status, subject.name, subject.impersonator)
                else:
                    entry = describe(scope, status, self._user(scope))
                self.log.add(entry)
            if self.latency_ms > 0:
                await asyncio.sleep(self.latency_ms / 1000)

        await self.app(scope, receive, OnResponseStart(send, started))

    def _user(self, scope: Scope) -> str:
        for name, value in scope.get("headers") or []:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    return self.state.user_for_token(token.strip()) or ""
        return ""
