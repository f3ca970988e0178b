"""Health as a user sees it after creation (issue 11, items 3 and 4), with the status sync
running: Kustomizations wait for the workloads (`wait: true`), so an image that never becomes
available makes its environment unhealthy with Flux's health-check message, and fixing it
makes it healthy; a namespace deleted out of band is missing (degraded) until `repair` brings
it back; `repair --all-stuck` repairs exactly the projects that need it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.conftest import sandbox_settings
from tests.e2e.helpers import clone
from tests.e2e.test_pipeline import create, wait_final
from tests.e2e.test_sync import _fetch_now
from tests.support.commands import git
from tests.support.waiting import wait_until

from slipway import service
from slipway.bootstrap import App, bootstrap
from slipway.domain.names import ResourceNames
from slipway.pipeline.runtime import Worker
from slipway.sandbox.runner import Sandbox
from slipway.service.sync import running_sync

BROKEN_IMAGE = "images:\n  - name: ghcr.io/example/{project}\n    newTag: broken\n"


@pytest.fixture
def synced_app(sandbox: Sandbox, tmp_path: Path) -> Iterator[App]:
    app = bootstrap(sandbox_settings(sandbox, tmp_path / "data", sync_lease_seconds=4.0))
    yield app
    app.close()


def _created(app: App, name: str, envs: tuple[str, ...]) -> None:
    worker = Worker(app).start()
    try:
        create(
            app, service.CreateRequest(name=name, template="static-site", environments=envs), worker
        )
        assert wait_final(app, name) == "completed"
    finally:
        worker.stop()


def _health(app: App, name: str) -> dict[str, tuple[str, str | None]]:
    view = service.show_project(app, name)
    return {
        "project": (view.health, view.health_reason),
        **{e.name: (e.health, e.health_reason) for e in view.environments},
    }


def _health_if(app: App, name: str, env: str, wanted: str) -> tuple[str, str | None] | None:
    found = _health(app, name)[env]
    return found if found[0] == wanted else None


def _repaired(app: App, name: str) -> str | None:
    worker = Worker(app, shared=False).start()
    try:
        started = service.repair_project(app, name, worker=worker)
        return wait_final_after(app, name, started.after_sequence)
    finally:
        worker.stop()


def wait_final_after(app: App, name: str, after: int) -> str | None:
    async def last() -> str | None:
        final = None
        async for event in service.follow_events(app, name, after=after):
            final = event.final
        return final

    return asyncio.run(asyncio.wait_for(last(), timeout=120))


def test_an_image_that_never_becomes_available_is_unhealthy_until_fixed(
    synced_app: App, sandbox: Sandbox, tmp_path: Path
) -> None:
    app = synced_app
    _created(app, "imagery", ("dev", "prod"))
    assert _health(app, "imagery")["project"] == ("healthy", None)
    checkout = clone(sandbox, "imagery", tmp_path / "imagery")
    overlay = checkout / "k8s" / "overlays" / "dev" / "kustomization.yaml"
    good = overlay.read_text()

    with running_sync(app) as sync:
        wait_until(lambda: sync.leading and sync.passes, message="the sync to run", timeout=20)
        overlay.write_text(good + BROKEN_IMAGE.format(project="imagery"))
        git(checkout, "commit", "--quiet", "-am", "dev: an image that never starts")
        git(checkout, "push", "--quiet", "origin", "main")
        _fetch_now(sandbox, "imagery", "dev")
        _, reason = wait_until(
            lambda: _health_if(app, "imagery", "dev", "unhealthy"),
            message="dev unhealthy",
            timeout=40,
        )
        assert reason is not None and "Kustomization imagery-dev failed" in reason
        assert "Deployment/project-imagery-dev/imagery" in reason  # Flux's health-check words
        assert _health(app, "imagery")["prod"] == ("healthy", None)
        assert _health(app, "imagery")["project"][0] == "unhealthy"

        overlay.write_text(good)
        git(checkout, "commit", "--quiet", "-am", "dev: back to the working image")
        git(checkout, "push", "--quiet", "origin", "main")
        _fetch_now(sandbox, "imagery", "dev")
        wait_until(
            lambda: _health(app, "imagery")["project"] == ("healthy", None),
            message="imagery healthy again",
            timeout=40,
        )
    assert service.show_project(app, "imagery").observed_at is not None


def test_a_deleted_namespace_is_missing_until_repair_and_all_stuck_picks_only_it(
    synced_app: App, sandbox: Sandbox
) -> None:
    app = synced_app
    assert sandbox.kube is not None
    _created(app, "holed", ("dev", "prod"))
    _created(app, "intact", ("dev",))
    namespace = ResourceNames("holed", "prod").namespace

    with running_sync(app) as sync:
        wait_until(lambda: sync.leading and sync.passes, message="the sync to run", timeout=20)
        sandbox.kube.delete("v1", "Namespace", namespace)
        _, reason = wait_until(
            lambda: _health_if(app, "holed", "prod", "degraded"),
            message="prod degraded",
            timeout=30,
        )
        assert reason is not None and "missing from the cluster" in reason
        assert service.stuck_projects(app) == ["holed"]

        assert _repaired(app, "holed") == "completed"

        wait_until(
            lambda: _health(app, "holed")["project"] == ("healthy", None),
            message="holed healthy after repair",
            timeout=30,
        )
    assert sandbox.kube.get("v1", "Namespace", namespace) is not None
    assert service.stuck_projects(app) == []
    assert service.show_project(app, "intact").run == 1
