"""Waiting for Flux from one shared watch: finalize's `settle_environment` on the client's
`StatusWatch` (one list+watch per kind across the cluster), and the single-object
`watch_status`, against the Kubernetes emulator with every request recorded by a proxy."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator, Iterator, MutableMapping
from contextlib import aclosing, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.support.waiting import async_wait_until

from slipway.domain.errors import ClusterError
from slipway.domain.model import ResourceKind, ResourceStatus
from slipway.domain.names import ResourceNames
from slipway.gitops import (
    ClusterClient,
    EnvironmentSpec,
    ObjectRef,
    ObjectStatus,
    settle_environment,
)
from slipway.gitops.kinds import kind_info
from slipway.sandbox.kube import KubeEmulator

from ._support import (
    KS_API,
    REPO_API,
    ASGIApp,
    Receive,
    Recorder,
    Scope,
    Send,
    client_through,
    flux_ready,
    make_spec,
)

MANAGED = ["app.kubernetes.io/managed-by=slipway"]


def _ready(kube: KubeEmulator, api: str, kind: str, name: str, ns: str, **fields: Any) -> None:
    kube.set_condition(
        api, kind, name, ns, type="Ready", status="True", reason="Succeeded", **fields
    )


def _ref(kind: ResourceKind, names: ResourceNames) -> ObjectRef:
    return kind_info(kind).ref(names)


async def test_finalize_waits_on_one_shared_watch_per_kind(
    kube: KubeEmulator, recorder: Recorder, tmp_path: Path
) -> None:
    async with client_through(recorder, kube, tmp_path) as client:
        spec = make_spec("oscar")
        names, ns = spec.names, spec.names.namespace
        await client.apply_environment(spec)
        recorder.seen.clear()
        settling = asyncio.create_task(settle_environment(client, names, within=30))
        # Time is the subject here: for longer than the old one-second poll, nothing but one
        # list and one watch per kind may reach the server (checked from the recorder below).
        await asyncio.sleep(1.5)
        assert not settling.done()
        _ready(kube, REPO_API, "GitRepository", names.git_repository, ns)
        _ready(kube, KS_API, "Kustomization", names.kustomization, ns, lastAppliedRevision="r1")
        settled = await asyncio.wait_for(settling, 5)

        assert settled.status is ResourceStatus.READY
        assert settled.revision == "r1"
        assert [s.ref.kind for s in settled.objects] == ["GitRepository", "Kustomization"]
        for plural, group in (
            ("gitrepositories", "source.toolkit.fluxcd.io"),
            ("kustomizations", "kustomize.toolkit.fluxcd.io"),
        ):
            requests = recorder.on(plural)
            # One list across the cluster for its resourceVersion, then one watch stream, both
            # filtered to Slipway's objects; never a GET of the object, however long Flux takes.
            assert [r.verb for r in requests] == ["list", "watch"]
            assert all(r.path == f"/apis/{group}/v1/{plural}" for r in requests)
            assert all(r.query["labelSelector"] == MANAGED for r in requests)
            assert requests[1].query["resourceVersion"] != ["0"]

        # The next environment settles from the same watch: not one request more, although
        # Flux marked it Ready before anyone waited (the waiter finds it in the cache).
        other = make_spec("oscar", "production")
        await client.apply_environment(other)
        flux_ready(kube, other.names)
        recorder.seen.clear()
        again = await asyncio.wait_for(settle_environment(client, other.names, within=30), 5)
        assert again.status is ResourceStatus.READY
        assert recorder.seen == []


async def test_a_lasting_failure_settles_without_waiting_for_the_timeout(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    spec = make_spec("papa")
    names, ns = spec.names, spec.names.namespace
    await cluster.apply_environment(spec)
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
    settled = await settle_environment(cluster, names, within=60, grace=0.5)
    assert asyncio.get_running_loop().time() - started < 10  # the grace, not the 60 s timeout
    assert settled.status is ResourceStatus.FAILED
    assert settled.not_ready is not None and "authentication required" in settled.not_ready
    assert [s.ref.kind for s in settled.objects] == ["GitRepository", "Kustomization"]


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("ArtifactFailed", "Source artifact not found, retrying in 30s"),
        ("HealthCheckFailed", "health check failed after 2m0s: timeout waiting for: [x]"),
    ],
)
async def test_a_failure_flux_still_retries_when_time_runs_out_is_reconciling(
    kube: KubeEmulator, cluster: ClusterClient, reason: str, message: str
) -> None:
    """A source not fetched yet, or a rollout slower than spec.timeout: Flux tries again, so
    the environment is still reconciling, not failed (the project stays active)."""
    spec = make_spec(f"quebec-{reason.lower()}")
    names, ns = spec.names, spec.names.namespace
    await cluster.apply_environment(spec)
    _ready(kube, REPO_API, "GitRepository", names.git_repository, ns)
    kube.set_condition(
        KS_API,
        "Kustomization",
        names.kustomization,
        ns,
        type="Ready",
        status="False",
        reason=reason,
        message=message,
    )
    settled = await settle_environment(cluster, names, within=2, grace=0.5)
    assert settled.status is ResourceStatus.RECONCILING
    assert settled.not_ready is not None and message in settled.not_ready


HOLD_AT_MOST = 30.0  # seconds: a failed test must not leave the server thread stuck


class HeldWatches:
    """An ASGI proxy that can hold back what watch streams send (`hold`, `release`), so a test
    can see what the client knows while its watch lags behind the server."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.flowing = threading.Event()
        self.flowing.set()

    def hold(self) -> None:
        self.flowing.clear()

    def release(self) -> None:
        self.flowing.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or b"watch=true" not in scope["query_string"]:
            await self.app(scope, receive, send)
            return

        async def held(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.body" and not self.flowing.is_set():
                await asyncio.to_thread(self.flowing.wait, HOLD_AT_MOST)
            await send(message)

        await self.app(scope, receive, held)


async def test_a_status_older_than_our_own_apply_is_not_taken_for_an_answer(
    kube: KubeEmulator, tmp_path: Path
) -> None:
    """Re-applying a changed spec while the watch still holds the Ready of the old one: the
    cache must not answer Ready for the new generation."""
    proxy = HeldWatches(kube.app)
    async with client_through(proxy, kube, tmp_path) as client:
        spec = make_spec("quebec")
        names = spec.names
        await client.apply_environment(spec)
        flux_ready(kube, names)
        first = await asyncio.wait_for(settle_environment(client, names, within=30), 5)
        assert first.status is ResourceStatus.READY
        ref = _ref(ResourceKind.GIT_REPOSITORY, names)
        assert client.status_watch.status(ref) == first.objects[0]

        proxy.hold()
        try:
            changed = dataclasses.replace(spec, branch="release")  # a new spec: generation 2
            applied = await client.apply_environment(changed)
            repo = next(o for o in applied if o.kind is ResourceKind.GIT_REPOSITORY)
            assert repo.generation == 2
            # The watch has not seen the write: the cached Ready (generation 1) is no answer.
            assert client.status_watch.status(ref) is None
            settling = asyncio.create_task(settle_environment(client, names, within=30))
        finally:
            proxy.release()
        await async_wait_until(
            lambda: client.status_watch.status(ref),
            message="the watch to see generation 2",
            timeout=5,
        )
        assert not settling.done()
        current = client.status_watch.status(ref)
        assert current is not None and current.generation == 2
        assert current.status is ResourceStatus.RECONCILING
        flux_ready(kube, names)
        settled = await asyncio.wait_for(settling, 5)
        assert settled.status is ResourceStatus.READY
        assert settled.objects[0].generation == settled.objects[0].observed_generation == 2


@pytest.fixture
def recorder(kube: KubeEmulator) -> Recorder:
    return Recorder(kube.app)


@pytest.fixture
def small_emulator() -> Iterator[KubeEmulator]:
    """An emulator of its own: the tests below overflow its watch history on purpose."""
    with KubeEmulator(tls=False, watch_history=HISTORY) as kube:
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


async def _next(updates: Any) -> ObjectStatus:
    status: ObjectStatus = await asyncio.wait_for(anext(updates), 5)
    return status


@asynccontextmanager
async def _applied_through_recorder(
    kube: KubeEmulator, spec: EnvironmentSpec, folder: Path
) -> AsyncIterator[tuple[ClusterClient, Recorder]]:
    """A client reaching `kube` through a `Recorder`, with `spec` already applied."""
    recorder = Recorder(kube.app)
    async with client_through(recorder, kube, folder) as client:
        await client.apply_environment(spec)
        yield client, recorder


async def _resumes_after_a_drop(
    kube: KubeEmulator, recorder: Recorder, updates: Any, name: str, ns: str
) -> None:
    """The first update is the applied Kustomization; then the server drops the streams and
    it moves on: the watch hears that from where it was, without listing again."""
    first = await _next(updates)
    assert first.exists and first.status is ResourceStatus.RECONCILING
    kube.state.close_watches()
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
    progressing = await _next(updates)
    assert progressing.ready is not None and progressing.ready.reason == "Progressing"
    assert len(recorder.lists("kustomizations")) == 1


async def test_the_shared_watch_resumes_and_lists_again_after_410(
    small_emulator: KubeEmulator, tmp_path: Path
) -> None:
    kube = small_emulator
    spec = make_spec("romeo")
    names, ns = spec.names, spec.names.namespace
    ks = _ref(ResourceKind.KUSTOMIZATION, names)
    async with _applied_through_recorder(kube, spec, tmp_path) as (client, recorder):
        updates = client.status_watch.changes(ks)
        async with aclosing(updates):
            await _resumes_after_a_drop(kube, recorder, updates, ks.name, ns)
            _overflow_history(kube)
            kube.delete(REPO_API, "GitRepository", names.git_repository, ns)  # while away
            kube.state.close_watches()  # resuming now gets a 410 Expired ERROR event
            _ready(kube, KS_API, "Kustomization", ks.name, ns)
            ready = await _next(updates)
            assert ready.status is ResourceStatus.READY
            assert len(recorder.lists("kustomizations")) == 2  # so it listed again
            repo = _ref(ResourceKind.GIT_REPOSITORY, names)
            gone = await async_wait_until(
                lambda: (s := client.status_watch.status(repo)) is not None and not s.exists,
                message="the GitRepository's relist to find it gone",
                timeout=5,
            )
            assert gone


async def test_watching_a_missing_object_sees_it_created(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    names = ResourceNames("sierra", "development")
    updates = cluster.status_watch.changes(_ref(ResourceKind.KUSTOMIZATION, names))
    async with aclosing(updates):
        first = await _next(updates)
        assert not first.exists and first.status is ResourceStatus.PENDING
        await cluster.apply_environment(make_spec("sierra"))
        created = await _next(updates)
        assert created.exists and created.status is ResourceStatus.RECONCILING


async def test_a_subscriber_to_everything_hears_each_change(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    """What the status sync will subscribe to: every managed object's status, then changes."""
    known = make_spec("tango")
    await cluster.apply_environment(known)
    everything = cluster.status_watch.changes()
    async with aclosing(everything):
        seen: dict[ObjectRef, ObjectStatus] = {}
        wanted = {_ref(k, known.names) for k in (ResourceKind.GIT_REPOSITORY,)}
        while not wanted <= seen.keys():
            status = await _next(everything)
            seen[status.ref] = status
        fresh = make_spec("uniform")
        await cluster.apply_environment(fresh)
        flux_ready(kube, fresh.names)
        ks = _ref(ResourceKind.KUSTOMIZATION, fresh.names)
        while seen.get(ks) is None or seen[ks].status is not ResourceStatus.READY:
            status = await _next(everything)
            seen[status.ref] = status
        assert seen[ks].revision == "main@1"


async def test_closing_the_client_stops_the_watch_and_its_subscribers(tmp_path: Path) -> None:
    """On an emulator of its own: the shared one may still be closing an earlier test's
    streams, which would make the count of open watches move under this test."""
    with KubeEmulator(tls=False) as kube:
        await _closing_stops_watching(kube, kube.write_kubeconfig(tmp_path / "kubeconfig"))


async def _closing_stops_watching(kube: KubeEmulator, kubeconfig: Path) -> None:
    before = kube.state.open_watches()
    client = ClusterClient.from_kubeconfig(kubeconfig)
    names = ResourceNames("victor", "development")
    updates = client.status_watch.changes(_ref(ResourceKind.KUSTOMIZATION, names))
    first = await _next(updates)
    assert not first.exists
    await async_wait_until(
        lambda: kube.state.open_watches() >= before + 2,
        message="a stream per watched kind",
        timeout=5,
    )
    await client.aclose()
    with pytest.raises(ClusterError, match="closed"):
        await _next(updates)
    await updates.aclose()
    await async_wait_until(
        lambda: kube.state.open_watches() <= before,
        message="the emulator to see both streams closed",
        timeout=5,
    )
    with pytest.raises(ClusterError, match="closed"):
        _ = client.status_watch
    await client.aclose()  # idempotent


async def test_an_unreachable_cluster_fails_the_wait_at_once(tmp_path: Path) -> None:
    stopped = KubeEmulator(tls=False).start()
    config = stopped.write_kubeconfig(tmp_path / "kubeconfig")
    stopped.stop()
    async with ClusterClient.from_kubeconfig(config) as client:
        names = ResourceNames("whiskey", "development")
        with pytest.raises(ClusterError, match="cannot reach"):
            await asyncio.wait_for(settle_environment(client, names, within=30), 10)


async def test_the_single_object_watch_resumes_and_reads_again(
    small_emulator: KubeEmulator, tmp_path: Path
) -> None:
    """`watch_status`, one object's stream (fieldSelector), for callers that want just that."""
    kube = small_emulator
    spec = make_spec("xray")
    ns, name = spec.names.namespace, spec.names.kustomization
    async with _applied_through_recorder(kube, spec, tmp_path) as (client, recorder):
        updates = client.watch_status(ResourceKind.KUSTOMIZATION, name, ns)
        async with aclosing(updates):
            await _resumes_after_a_drop(kube, recorder, updates, name, ns)
            _overflow_history(kube)
            kube.state.close_watches()
            reread = await _next(updates)
            assert reread.ready is not None and reread.ready.reason == "Progressing"
            assert len(recorder.lists("kustomizations")) == 2
            _ready(kube, KS_API, "Kustomization", name, ns)
            assert (await _next(updates)).status is ResourceStatus.READY
