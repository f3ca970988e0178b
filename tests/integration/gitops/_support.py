"""Values and builders shared by the gitops integration tests, and the ASGI proxy that records
what the API server is asked."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from pydantic import SecretStr

from slipway.domain.names import ResourceNames
from slipway.gitops import BasicAuth, ClusterClient, EnvironmentSpec
from slipway.retry import RetryPolicy
from slipway.sandbox._server import ServerThread
from slipway.sandbox.kube import KubeEmulator, write_kubeconfig

# ASGI, for the proxies tests put in front of the Kubernetes emulator.
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KS_API = "kustomize.toolkit.fluxcd.io/v1"
REPO_API = "source.toolkit.fluxcd.io/v1"
GIT_TOKEN = "glpat-TopSecretGitToken0123456789"
USER = "sandbox-admin"
# Fast retries: the tests exercise the retry path, not its wall-clock backoff.
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, max_retry_after=1.0)


INSTALLATION = "0123456789abcdef"


def make_spec(project: str, environment: str = "development") -> EnvironmentSpec:
    return EnvironmentSpec(
        project=project,
        environment=environment,
        installation=INSTALLATION,
        repository_url=f"https://git.example.test/acme/{project}.git",
        credentials=BasicAuth(username="oauth2", password=SecretStr(GIT_TOKEN)),
    )


def flux_ready(kube: KubeEmulator, names: ResourceNames, revision: str = "main@1") -> None:
    """What Flux does for a healthy environment: the source Ready, then the Kustomization."""
    ns = names.namespace
    for api, kind, name, fields in (
        (REPO_API, "GitRepository", names.git_repository, {}),
        (KS_API, "Kustomization", names.kustomization, {"lastAppliedRevision": revision}),
    ):
        kube.set_condition(
            api, kind, name, ns, type="Ready", status="True", reason="Succeeded", **fields
        )


@dataclass(frozen=True)
class Seen:
    """One request as the API server saw it, and the status it answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int

    @property
    def watching(self) -> bool:
        return self.query.get("watch") == ["true"]

    @property
    def verb(self) -> str:
        """The Kubernetes verb (a GET of a collection is a list, with watch=true a watch)."""
        if self.method != "GET":
            return {"POST": "create", "PATCH": "patch", "PUT": "update"}.get(
                self.method, self.method.lower()
            )
        if self.watching:
            return "watch"
        collection = "labelSelector" in self.query or "fieldSelector" in self.query
        return "list" if collection else "get"


class Recorder:
    """An ASGI proxy in front of the emulator that keeps every request it passes on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[Seen] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def record(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                query = parse_qs(scope["query_string"].decode())
                self.seen.append(Seen(scope["method"], scope["path"], query, message["status"]))
            await send(message)

        await self.app(scope, receive, record)

    def on(self, plural: str) -> list[Seen]:
        """The reads (GET) of objects of one kind: lists, watches and GETs of one object."""
        return [s for s in self.seen if f"/{plural}" in s.path and s.method == "GET"]

    def lists(self, plural: str) -> list[Seen]:
        return [s for s in self.on(plural) if not s.watching and s.path.endswith(plural)]

    def verbs(self) -> Counter[str]:
        return Counter(s.verb for s in self.seen)


@asynccontextmanager
async def client_through(
    proxy: ASGIApp, kube: KubeEmulator, folder: Path
) -> AsyncIterator[ClusterClient]:
    """A client that reaches `kube` through `proxy` (served over plain HTTP)."""
    with ServerThread(proxy) as server:
        config = write_kubeconfig(folder / "kubeconfig", server.url, kube.token)
        async with ClusterClient.from_kubeconfig(config, retry_policy=FAST_RETRY) as client:
            yield client
