"""The status sync against the Kubernetes emulator and a real database: one pass by hand, the
running sync following changes with one watch per kind (no request per project), `missing`
for objects deleted out of band, another installation's objects ignored, and a restart of the
API server survived."""

from __future__ import annotations

import asyncio
import time

from tests.support.waiting import wait_until

from slipway import store
from slipway.bootstrap import App, bootstrap
from slipway.config import Settings
from slipway.domain.model import ProjectStatus, ResourceStatus
from slipway.domain.names import ResourceNames
from slipway.sandbox.kube import KubeEmulator
from slipway.service.sync import running_sync, sync_now
from slipway.sync import MISSING_MESSAGE

from ._support import (
    REVISION,
    USER,
    apply_project,
    environment_status,
    record_project,
    resources,
    set_ready,
)

KINDS = ("Namespace", "Secret", "ServiceAccount", "RoleBinding", "GitRepository", "Kustomization")


def _statuses(app: App, name: str) -> dict[str, str]:
    return {kind: status for kind, (status, _) in resources(app, name).items()}


def test_one_pass_records_ready_then_missing(app: App, kube: KubeEmulator) -> None:
    record_project(app, "once")
    apply_project(kube, "once", app.installation)

    summary = asyncio.run(sync_now(app))

    assert _statuses(app, "once") == dict.fromkeys(KINDS, "ready")
    assert environment_status(app, "once") == "ready"
    changed = {(c.kind, c.before, c.after) for c in summary.changes}
    assert changed == {
        ("GitRepository", "reconciling", "ready"),
        ("Kustomization", "reconciling", "ready"),
        ("Namespace", "reconciling", "ready"),
        ("Secret", "reconciling", "ready"),
        ("ServiceAccount", "reconciling", "ready"),
        ("RoleBinding", "reconciling", "ready"),
    }
    assert summary.checked == 6
    assert asyncio.run(sync_now(app)).changes == ()  # nothing changed: nothing written

    kube.delete("v1", "Namespace", ResourceNames("once", "dev").namespace)
    wait_until(
        lambda: kube.get("v1", "Namespace", ResourceNames("once", "dev").namespace) is None,
        message="the namespace to be gone",
    )
    asyncio.run(sync_now(app))
    assert resources(app, "once") == dict.fromkeys(KINDS, ("missing", MISSING_MESSAGE))
    assert environment_status(app, "once") == "missing"


def test_pending_rows_and_other_installations_objects_are_left_alone(
    app: App, kube: KubeEmulator
) -> None:
    record_project(app, "theirs", status=ResourceStatus.PENDING)
    apply_project(kube, "theirs", "otherinstallation0123")  # same names, not ours
    record_project(app, "leaving", project_status=ProjectStatus.DELETING)
    apply_project(kube, "leaving", app.installation)

    summary = asyncio.run(sync_now(app))

    assert _statuses(app, "theirs") == dict.fromkeys(KINDS, "pending")
    assert _statuses(app, "leaving") == dict.fromkeys(KINDS, "reconciling")
    assert summary.changes == ()


def test_running_sync_follows_failures_and_fixes_with_no_request_per_project(
    app: App, kube: KubeEmulator
) -> None:
    projects = [f"follow-{n}" for n in range(3)]
    for name in projects:
        record_project(app, name)
        apply_project(kube, name, app.installation)
    with running_sync(app) as sync:
        wait_until(
            lambda: all(_statuses(app, n)["Kustomization"] == "ready" for n in projects),
            message="the sync to record every project ready",
            timeout=20,
        )
        assert sync.leading
        with kube.recording() as log:
            set_ready(kube, "follow-1", "dev", "False", "BuildFailed", "kustomize build failed")
            wait_until(
                lambda: (
                    resources(app, "follow-1")["Kustomization"]
                    == ("failed", "kustomize build failed")
                ),
                message="the failure in the database",
                timeout=10,
            )
            assert environment_status(app, "follow-1") == "failed"
            set_ready(kube, "follow-1", "dev", "True", "ReconciliationSucceeded", "Applied")
            wait_until(
                lambda: _statuses(app, "follow-1")["Kustomization"] == "ready",
                message="the fix in the database",
                timeout=10,
            )
        assert environment_status(app, "follow-1") == "ready"
        # Only the Lease was asked for; the changes came on the watches already open.
        asked = {(r.verb, r.resource) for r in log.requests(user=USER)}
        assert asked <= {("get", "leases"), ("update", "leases")}, asked
        with app.session() as session:
            project = store.require_project(session, name="follow-1")
            rows = store.list_gitops_resources(session, project_id=project.id)
            kustomization = next(r for r in rows if r.type == "Kustomization")
            assert kustomization.last_applied_revision == REVISION
            assert kustomization.last_synced_at is not None


def test_running_sync_marks_out_of_band_deletions_missing(app: App, kube: KubeEmulator) -> None:
    record_project(app, "oob")
    apply_project(kube, "oob", app.installation)
    with running_sync(app):
        wait_until(
            lambda: set(_statuses(app, "oob").values()) == {"ready"},
            message="the project ready",
            timeout=20,
        )
        names = ResourceNames("oob", "dev")
        kube.delete(
            "kustomize.toolkit.fluxcd.io/v1", "Kustomization", names.kustomization, names.namespace
        )
        wait_until(
            lambda: _statuses(app, "oob")["Kustomization"] == "missing",
            message="the deleted Kustomization missing",
            timeout=10,
        )
        assert _statuses(app, "oob")["GitRepository"] == "ready"
        assert environment_status(app, "oob") == "missing"


def test_sync_resumes_after_the_api_server_restarts(settings: Settings, kube: KubeEmulator) -> None:
    # A Lease outlasting the outage: the same leader's watches must come back by themselves.
    app = bootstrap(settings.model_copy(update={"sync_lease_seconds": 15.0}))
    try:
        record_project(app, "restart")
        apply_project(kube, "restart", app.installation)
        with running_sync(app) as sync:
            wait_until(
                lambda: _statuses(app, "restart")["Kustomization"] == "ready",
                message="the project ready",
                timeout=20,
            )
            with kube.down():
                set_ready(kube, "restart", "dev", "False", "HealthCheckFailed", "broken while down")
                # Long enough for the watch to give up reconnecting and tell the sync so.
                time.sleep(4.0)
            wait_until(
                lambda: (
                    resources(app, "restart")["Kustomization"] == ("failed", "broken while down")
                ),
                message="the change made while the server was down, recorded after it",
                timeout=20,
            )
            assert (sync.elected, sync.leading) == (1, True)
    finally:
        app.close()
