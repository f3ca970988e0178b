"""Waiting for Flux does not hold a worker slot: the wait is a workflow of its own on a queue
with room for hundreds, so a worker with one slot applies every project while none is Ready."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.e2e.conftest import sandbox_settings
from tests.support.waiting import wait_until

from slipway import service
from slipway.bootstrap import bootstrap
from slipway.domain.names import ResourceNames
from slipway.gitops.kinds import apply_order
from slipway.pipeline.runtime import Worker
from slipway.sandbox.kube import KubeEmulator
from slipway.sandbox.runner import Sandbox

NAMES = ("slot-a", "slot-b", "slot-c")


def _waiting_for_flux(app: service.App, name: str) -> bool:
    return any(e.step == "finalize" for e in service.project_events(app, name))


def _final(app: service.App, name: str) -> str | None:
    events = service.project_events(app, name)
    return events[-1].final if events else None


def test_one_worker_slot_applies_every_project_while_flux_works(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # A cluster no Flux reconciles: nothing turns Ready until the test says so.
    with KubeEmulator() as cluster:
        settings = sandbox_settings(
            sandbox,
            tmp_path / "data",
            kubeconfig=cluster.write_kubeconfig(tmp_path / "kubeconfig"),
            worker_concurrency=1,
            ready_timeout=300.0,
        )
        app = bootstrap(settings)
        worker = Worker(app).start()
        try:
            for name in NAMES:
                request = service.CreateRequest(
                    name=name, template="static-site", environments=("dev", "prod")
                )
                asyncio.run(service.create_project(app, request, worker=worker))
            # With the slot held during the wait, the second project would start only after
            # the first one's ready timeout (300 s).
            wait_until(
                lambda: all(_waiting_for_flux(app, n) for n in NAMES),
                message="every project to wait for Flux",
                timeout=60,
            )
            assert [_final(app, n) for n in NAMES] == [None, None, None]

            for name in NAMES:
                for env in ("dev", "prod"):
                    names = ResourceNames(name, env)
                    for info in apply_order():
                        if info.has_ready:
                            cluster.set_condition(
                                info.api_version,
                                info.kind,
                                info.name(names),
                                names.namespace,
                                type="Ready",
                                status="True",
                                reason="Succeeded",
                                message="applied by the test",
                                lastAppliedRevision="main@sha1:0123456789abcdef",
                            )
            for name in NAMES:
                wait_until(
                    lambda n=name: _final(app, n),  # type: ignore[misc]
                    message=f"{name} to finish",
                    timeout=60,
                )
                assert _final(app, name) == "completed"
                assert service.show_project(app, name).status == "active"
        finally:
            worker.stop()
            app.close()
