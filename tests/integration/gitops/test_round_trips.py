"""How many requests, and how many sequential round trips, one project's cluster work takes
through one long-lived `ClusterClient`: preflight (remembered), the ownership read (one round
trip), apply (two round trips), and waiting for Flux (the shared watch)."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from tests.support.waiting import async_wait_until

from slipway.domain.model import ResourceStatus
from slipway.gitops import ClusterClient, require_preflight, settle_environment
from slipway.sandbox.kube import KubeEmulator

from ._support import (
    ASGIApp,
    Receive,
    Recorder,
    Scope,
    Send,
    client_through,
    flux_ready,
    make_spec,
)

ENVS = ("development", "staging", "production")
OBJECTS_PER_ENVIRONMENT = 6
STEADY_STATE_TARGET = 25  # issue 9: requests per creation with 3 environments


async def _create(client: ClusterClient, kube: KubeEmulator, project: str) -> None:
    """A project's cluster work as the pipeline does it; Flux (played by the test) marks each
    environment Ready as soon as it is applied, before anyone waits."""
    await require_preflight(client)
    specs = [make_spec(project, env) for env in ENVS]
    results = await client.apply_environments(specs)
    assert all(r.ok for r in results.values())
    for spec in specs:
        flux_ready(kube, spec.names)
    settled = await asyncio.wait_for(
        asyncio.gather(*(settle_environment(client, s.names, within=30) for s in specs)), 10
    )
    assert all(s.status is ResourceStatus.READY for s in settled)


async def test_a_creation_in_steady_state_is_only_its_applies(
    kube: KubeEmulator, tmp_path: Path
) -> None:
    recorder = Recorder(kube.app)
    async with client_through(recorder, kube, tmp_path) as client:
        await _create(client, kube, "yankee")
        # Settling may answer from the first lists before the watches open: steady state is
        # once they are.
        await async_wait_until(
            lambda: recorder.verbs()["watch"] == 2, message="a watch per Flux kind", timeout=5
        )
        first = recorder.verbs()
        recorder.seen.clear()
        await _create(client, kube, "zulu")
        second = recorder.verbs()
    # The first: /version, two CRDs and two controllers read, one rules review; each
    # environment's Namespace read (whose is it?); the applies; one list and one watch per
    # Flux kind, which the next projects share.
    assert first == {"get": 5 + len(ENVS), "create": 1, "patch": 18, "list": 2, "watch": 2}
    # Then: the Namespace reads and the applies, nothing else (preflight remembered,
    # readiness from the watch).
    assert second == {"get": len(ENVS), "patch": len(ENVS) * OBJECTS_PER_ENVIRONMENT}
    assert sum(second.values()) <= STEADY_STATE_TARGET


def _inside_a_namespace(path: str) -> bool:
    """`/api/v1/namespaces/x` is a Namespace; `.../namespaces/x/secrets/y` lives in one."""
    parts = path.strip("/").split("/")
    return len(parts) - parts.index("namespaces") > 2


class Phases:
    """An ASGI proxy that holds each PATCH until every PATCH of its phase has arrived (phase
    sizes given), so requests sent one after another time out here instead of passing; it
    also notes the order of arrivals and answers."""

    def __init__(self, app: ASGIApp, sizes: list[int], timeout: float = 10.0) -> None:
        self.app = app
        self.bounds = [sum(sizes[: i + 1]) for i in range(len(sizes))]
        self.timeout = timeout
        self.arrived = 0
        self.timed_out = False
        self.log: list[tuple[str, str]] = []  # ("arrived" | "answered", path)
        self._all_in: list[asyncio.Event] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "PATCH":
            await self.app(scope, receive, send)
            return
        if not self._all_in:  # created on the server's own event loop
            self._all_in = [asyncio.Event() for _ in self.bounds]
        index, self.arrived = self.arrived, self.arrived + 1
        phase = next((p for p, bound in enumerate(self.bounds) if index < bound), -1)
        self.log.append(("arrived", scope["path"]))
        if phase >= 0:
            if index + 1 == self.bounds[phase]:
                self._all_in[phase].set()
            try:
                await asyncio.wait_for(self._all_in[phase].wait(), self.timeout)
            except TimeoutError:
                self.timed_out = True

        async def note(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.log.append(("answered", scope["path"]))
            await send(message)

        await self.app(scope, receive, note)


async def test_apply_takes_three_round_trips_for_all_environments(
    kube: KubeEmulator, tmp_path: Path
) -> None:
    per_env_rest = OBJECTS_PER_ENVIRONMENT - 1
    phases = Phases(kube.app, [len(ENVS), len(ENVS) * per_env_rest])
    async with client_through(phases, kube, tmp_path) as client:
        results = await client.apply_environments([make_spec("alfa", env) for env in ENVS])
    assert all(r.ok for r in results.values())
    assert not phases.timed_out  # every Namespace at once, then every other object at once
    namespaced = [i for i, (_, path) in enumerate(phases.log) if _inside_a_namespace(path)]
    namespaces = [i for i in range(len(phases.log)) if i not in namespaced]
    assert len(namespaces) == 2 * len(ENVS)  # arrived and answered
    assert max(namespaces) < min(namespaced)  # nothing inside before every Namespace exists
