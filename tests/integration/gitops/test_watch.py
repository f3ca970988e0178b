"""Waiting for Flux by watching: finalize's `settle_environment` and `watch_status` against
the Kubernetes emulator, with every request the client makes recorded by a proxy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, MutableMapping
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from tests.support.waiting import async_wait_until

from slipway.domain.model import ResourceKind, ResourceStatus
from slipway.domain.names import ResourceNames
from slipway.gitops import ClusterClient, settle_environment
from slipway.sandbox._server import ServerThread
from slipway.sandbox.kube import KubeEmulator, write_kubeconfig

from ._support import FAST_RETRY, USER, ASGIApp, Receive, Scope, Send, make_spec

KS_API = "kustomize.toolkit.fluxcd.io/v1"
REPO_API = "source.toolkit.fluxcd.io/v1"


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


@pytest.fixture
def recorder(kube: KubeEmulator) -> Recorder:
    return Recorder(kube.app)


@pytest.fixture
async def watched(
    recorder: Recorder, kube: KubeEmulator, tmp_path: Path
) -> AsyncIterator[ClusterClient]:
    """A client that reaches the shared emulator through the recording proxy."""
    with ServerThread(recorder) as server:
        config = write_kubeconfig(tmp_path / "kubeconfig", server.url, kube.token)
        async with ClusterClient.from_kubeconfig(config, retry_policy=FAST_RETRY) as client:
            yield client


def _ready(kube: KubeEmulator, api: str, kind: str, name: str, ns: str, **fields: Any) -> None:
    kube.set_condition(
        api, kind, name, ns, type="Ready", status="True", reason="Succeeded", **fields
    )


async def test_finalize_waits_on_one_watch_per_object_not_polling(
    kube: KubeEmulator, watched: ClusterClient, recorder: Recorder
) -> None:
    spec = make_spec("oscar")
    names, ns = spec.names, spec.names.namespace
    await watched.apply_environment(spec)
    recorder.seen.clear()
    settling = asyncio.create_task(settle_environment(watched, names, within=30))
    # Time is the subject here: for longer than the old one-second poll, nothing but the one
    # watch may reach the server (checked from the recorder below).
    await asyncio.sleep(1.5)
    assert not settling.done()
    _ready(kube, REPO_API, "GitRepository", names.git_repository, ns)
    # The source is Ready: settling moves on and opens its watch on the Kustomization.
    await async_wait_until(
        lambda: any(s.watching for s in recorder.on("kustomizations")),
        message="a watch on the Kustomization",
        timeout=5,
    )
    assert not settling.done()
    _ready(
        kube, KS_API, "Kustomization", names.kustomization, ns, lastAppliedRevision="main@sha1:1"
    )
    settled = await asyncio.wait_for(settling, 5)

    assert settled.status is ResourceStatus.READY
    assert settled.revision == "main@sha1:1"
    assert [s.ref.kind for s in settled.objects] == ["GitRepository", "Kustomization"]
    for plural, name in (
        ("gitrepositories", names.git_repository),
        ("kustomizations", names.kustomization),
    ):
        requests = recorder.on(plural)
        # One list (filtered to the object) for its resourceVersion, then one watch stream;
        # never a GET of the object, however long Flux takes.
        assert [(r.method, r.watching) for r in requests] == [("GET", False), ("GET", True)]
        assert all(r.path.endswith(f"/namespaces/{ns}/{plural}") for r in requests)
        assert all(r.query["fieldSelector"] == [f"metadata.name={name}"] for r in requests)
        assert requests[1].query["resourceVersion"] != ["0"]


async def test_a_lasting_failure_settles_without_waiting_for_the_timeout(
    kube: KubeEmulator, watched: ClusterClient
) -> None:
    spec = make_spec("papa")
    names, ns = spec.names, spec.names.namespace
    await watched.apply_environment(spec)
    kube.set_condition(
        REPO_API,
        "GitRepository",
        names.git_repository,
        ns,
        type="Ready",
        status="False",
        reason="GitOperationFailed",
        message="authentication required",
    )
    started = asyncio.get_running_loop().time()
    settled = await settle_environment(watched, names, within=60, grace=0.5)
    assert asyncio.get_running_loop().time() - started < 10  # the grace, not the 60 s timeout
    assert settled.status is ResourceStatus.FAILED
    assert settled.not_ready is not None and "authentication required" in settled.not_ready
    assert [s.ref.kind for s in settled.objects] == ["GitRepository", "Kustomization"]


@pytest.fixture
def small_emulator() -> Iterator[KubeEmulator]:
    """An emulator of its own: the test below overflows its watch history on purpose."""
    with KubeEmulator(user=USER, tls=False, watch_history=HISTORY) as kube:
        yield kube


HISTORY = 50  # events the small emulator remembers for watches


def _overflow_history(kube: KubeEmulator) -> None:
    """More writes than the history holds: every older resourceVersion is now 410 Expired."""
    rt = kube.resource("v1", "ConfigMap")
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "churn", "namespace": "default"},
    }
    for index in range(HISTORY + 1):
        kube.state.put(rt, obj, created=index == 0)


async def test_a_dropped_watch_resumes_and_an_expired_one_reads_again(
    small_emulator: KubeEmulator, tmp_path: Path
) -> None:
    kube = small_emulator
    recorder = Recorder(kube.app)
    spec = make_spec("quebec")
    ns, name = spec.names.namespace, spec.names.kustomization
    with ServerThread(recorder) as server:
        config = write_kubeconfig(tmp_path / "kubeconfig", server.url, kube.token)
        async with ClusterClient.from_kubeconfig(config, retry_policy=FAST_RETRY) as client:
            await client.apply_environment(spec)
            updates = client.watch_status(ResourceKind.KUSTOMIZATION, name, ns)
            async with aclosing(updates):
                first = await asyncio.wait_for(anext(updates), 5)
                assert first.exists and first.status is ResourceStatus.RECONCILING

                kube.state.close_watches()  # the server drops the stream
                kube.set_condition(
                    KS_API,
                    "Kustomization",
                    name,
                    ns,
                    type="Ready",
                    status="Unknown",
                    reason="Progressing",
                    message="reconciliation in progress",
                )
                progressing = await asyncio.wait_for(anext(updates), 5)
                assert progressing.ready is not None and progressing.ready.reason == "Progressing"
                assert (
                    len(recorder.lists("kustomizations")) == 1
                )  # resumed from the last version seen, not read again

                _overflow_history(kube)
                kube.state.close_watches()  # resuming now gets a 410 Expired ERROR event
                reread = await asyncio.wait_for(anext(updates), 5)
                assert reread.ready is not None and reread.ready.reason == "Progressing"
                assert len(recorder.lists("kustomizations")) == 2  # so it listed again

                _ready(kube, KS_API, "Kustomization", name, ns)
                ready = await asyncio.wait_for(anext(updates), 5)
                assert ready.status is ResourceStatus.READY


async def test_watching_a_missing_object_sees_it_created(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    names = ResourceNames("romeo", "development")
    updates = cluster.watch_status(ResourceKind.KUSTOMIZATION, names.kustomization, names.namespace)
    async with aclosing(updates):
        first = await asyncio.wait_for(anext(updates), 5)
        assert not first.exists and first.status is ResourceStatus.PENDING
        await cluster.apply_environment(make_spec("romeo"))
        created = await asyncio.wait_for(anext(updates), 5)
        assert created.exists and created.status is ResourceStatus.RECONCILING
