"""The status sync against the whole sandbox: a commit whose overlay kustomize cannot build
turns the environment's Kustomization `failed` in the database, with kustomize's message,
within seconds and with no request about the project (the sync's watches were already open);
fixing the overlay turns it `ready` again. `slipway sync --once` prints what it changed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.e2e.conftest import sandbox_settings
from tests.e2e.helpers import FLUX_SOURCE, clone
from tests.e2e.test_pipeline import create, wait_final
from tests.support.cli import InProcessCli
from tests.support.commands import git
from tests.support.waiting import wait_until

from slipway import service, store
from slipway.bootstrap import App, bootstrap
from slipway.domain.names import ResourceNames
from slipway.pipeline.runtime import Worker
from slipway.sandbox.kube._emulator import DEFAULT_USER
from slipway.sandbox.runner import Sandbox
from slipway.service.sync import running_sync

BROKEN = (
    "apiVersion: kustomize.config.k8s.io/v1beta1\n"
    "kind: Kustomization\n"
    "resources:\n"
    "  - ../../base\n"
    "  - ../../does-not-exist\n"
)


@pytest.fixture
def synced_app(sandbox: Sandbox, tmp_path: Path) -> Iterator[App]:
    app = bootstrap(sandbox_settings(sandbox, tmp_path / "data", sync_lease_seconds=4.0))
    yield app
    app.close()


def _kustomization(app: App, project: str, env: str) -> tuple[str, str | None]:
    with app.session() as session:
        found = store.require_project(session, name=project)
        rows = store.list_gitops_resources(session, project_id=found.id)
        envs = {e.id: e.name for e in store.list_environments(session, project_id=found.id)}
        row = next(r for r in rows if r.type == "Kustomization" and envs[r.environment_id] == env)
        return row.status.value, row.error_message


def _failure(app: App, project: str, env: str) -> str | None:
    status, message = _kustomization(app, project, env)
    return (message or "no message") if status == "failed" else None


def _fetch_now(sandbox: Sandbox, project: str, env: str) -> None:
    """What `flux reconcile source git` does after a push (the source polls every minute)."""
    assert sandbox.kube is not None
    names = ResourceNames(project, env)
    repo = sandbox.kube.get(FLUX_SOURCE, "GitRepository", names.git_repository, names.namespace)
    assert repo is not None
    annotations = repo["metadata"].get("annotations") or {}
    annotations["reconcile.fluxcd.io/requestedAt"] = datetime.now(UTC).isoformat()
    sandbox.kube.apply(
        {
            "apiVersion": FLUX_SOURCE,
            "kind": "GitRepository",
            "metadata": {
                "name": names.git_repository,
                "namespace": names.namespace,
                "annotations": annotations,
            },
        },
        manager="flux-cli",
    )


def test_a_broken_overlay_is_recorded_failed_then_ready_when_fixed(
    synced_app: App, sandbox: Sandbox, tmp_path: Path
) -> None:
    app = synced_app
    assert sandbox.kube is not None
    worker = Worker(app).start()
    try:
        request = service.CreateRequest(
            name="synced", template="static-site", environments=("dev", "prod")
        )
        create(app, request, worker)
        assert wait_final(app, "synced") == "completed"
    finally:
        worker.stop()
    checkout = clone(sandbox, "synced", tmp_path / "synced")
    overlay = checkout / "k8s" / "overlays" / "dev" / "kustomization.yaml"
    good = overlay.read_text()

    with running_sync(app) as sync:
        wait_until(lambda: sync.leading and sync.passes, message="the sync to run", timeout=20)
        with sandbox.kube.recording() as log:
            overlay.write_text(BROKEN)
            git(checkout, "commit", "--quiet", "-am", "break dev")
            git(checkout, "push", "--quiet", "origin", "main")
            _fetch_now(sandbox, "synced", "dev")
            message = wait_until(
                lambda: _failure(app, "synced", "dev"),
                message="dev's Kustomization failed in the database",
                timeout=20,
            )
            assert message.startswith("kustomize build failed"), message
            assert "does-not-exist" in message
            assert _kustomization(app, "synced", "prod")[0] == "ready"

            overlay.write_text(good)
            git(checkout, "commit", "--quiet", "-am", "fix dev")
            git(checkout, "push", "--quiet", "origin", "main")
            _fetch_now(sandbox, "synced", "dev")
            wait_until(
                lambda: _kustomization(app, "synced", "dev") == ("ready", None),
                message="dev's Kustomization ready again",
                timeout=20,
            )
        # Slipway asked the cluster about nothing but its Lease meanwhile: no poll per project.
        # A watch across every namespace may be opened again (lightkube resumes a stream the
        # server ended at its timeoutSeconds; a client of an earlier test in this process may
        # do so in the window): never a read of one object or namespace.
        asked = [
            f"{r.verb} {r.path}?{r.query}"
            for r in log.requests(user=DEFAULT_USER)
            if not (r.resource == "leases" and r.verb in ("get", "update"))
            and not (r.verb == "watch" and not r.namespace and not r.name)
        ]
        assert asked == [], asked
        shown = service.show_project(app, "synced")
        dev = [r for r in shown.resources if r.kind == "Kustomization" and r.revision]
        assert dev, shown.resources


def test_sync_once_prints_what_it_changed(
    sandbox_cli: InProcessCli, sandbox: Sandbox, tmp_path: Path
) -> None:
    assert sandbox.kube is not None
    created = sandbox_cli("project", "create", "once", "--env", "dev", "--wait")
    assert created.returncode == 0, created.stderr
    names = ResourceNames("once", "dev")
    sandbox.kube.delete(
        "kustomize.toolkit.fluxcd.io/v1", "Kustomization", names.kustomization, names.namespace
    )

    summary = sandbox_cli("sync", "--once", "--json").json()
    changed = [(c["environment"], c["kind"], c["before"], c["after"]) for c in summary["changed"]]
    assert changed == [("dev", "Kustomization", "ready", "missing")]
    assert {c["project"] for c in summary["changed"]} == {"once"}
    again = sandbox_cli("sync", "--once")
    assert again.returncode == 0, again.stderr
    assert "0 changed" in again.stdout
