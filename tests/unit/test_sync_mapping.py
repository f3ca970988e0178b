"""The status sync's rules, row by row: what the cluster says becomes the row, an object gone
from a complete list becomes missing (never a pending row), and nothing unchanged is written."""

from __future__ import annotations

from datetime import UTC, datetime

from slipway.domain.health import TAKEN_OVER_MESSAGE, resource_message
from slipway.domain.model import Condition, ResourceKind, ResourceStatus
from slipway.gitops import ObjectRef, ObjectStatus
from slipway.gitops.results import object_status
from slipway.store.status_sync import SyncedEnvironment, SyncedResource
from slipway.sync._mapping import MISSING_MESSAGE, observe, plan_sync

AT = datetime(2026, 1, 1, tzinfo=UTC)
KS = ObjectRef(ResourceKind.KUSTOMIZATION, "shop", "shop-dev")
NS = ObjectRef(ResourceKind.NAMESPACE, "shop-dev", None)
OURS = "0123456789abcdef"  # this installation's ID


def _row(ref: ObjectRef, status: ResourceStatus, row_id: int = 1) -> SyncedResource:
    return SyncedResource(
        id=row_id,
        environment_id=7,
        kind=ref.kind,
        name=ref.name,
        namespace=ref.namespace,
        status=status,
        error_message=None,
        ready_reason=None,
        ready_message=None,
        revision=None,
        observed_generation=None,
    )


def _ready(ref: ObjectRef, status: str, message: str = "") -> ObjectStatus:
    state = {"True": ResourceStatus.READY, "False": ResourceStatus.FAILED}.get(
        status, ResourceStatus.RECONCILING
    )
    return ObjectStatus(
        ref=ref,
        exists=True,
        status=state,
        ready=Condition("Ready", status, "Reason", message),
        revision="main@sha1:abc",
        generation=2,
        observed_generation=2,
    )


def test_a_failure_is_recorded_with_reason_message_and_revision() -> None:
    change = observe(
        _row(KS, ResourceStatus.READY),
        _ready(KS, "False", "build failed"),
        installation=OURS,
        listed=True,
        at=AT,
    )
    assert change is not None
    assert (change.status, change.error_message, change.ready_reason) == (
        ResourceStatus.FAILED,
        "build failed",
        "Reason",
    )
    assert (change.revision, change.observed_generation, change.observed_at) == (
        "main@sha1:abc",
        2,
        AT,
    )


def test_an_absent_object_is_missing_only_from_a_complete_list_and_never_when_pending() -> None:
    ready = _row(KS, ResourceStatus.READY)
    gone = observe(ready, None, installation=OURS, listed=True, at=AT)
    assert gone is not None
    assert (gone.status, gone.error_message) == (ResourceStatus.MISSING, MISSING_MESSAGE)
    assert observe(ready, None, installation=OURS, listed=False, at=AT) is None
    assert (
        observe(_row(KS, ResourceStatus.PENDING), None, installation=OURS, listed=True, at=AT)
        is None
    )
    assert (
        observe(_row(KS, ResourceStatus.MISSING), None, installation=OURS, listed=True, at=AT)
        is None
    )


def test_an_object_marked_for_deletion_is_missing_before_its_finalizers_end() -> None:
    """Flux keeps a deleted Kustomization while it prunes; the row says missing at once, not
    reconciling (the deletion bumps the generation past the observed one)."""
    marked = {
        "metadata": {"name": "shop", "generation": 3, "deletionTimestamp": "2026-01-01T00:00:00Z"},
        "status": {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True"}]},
    }
    terminating = object_status(KS, marked, has_ready=True)
    for listed in (True, False):
        gone = observe(
            _row(KS, ResourceStatus.READY), terminating, installation=OURS, listed=listed, at=AT
        )
        assert gone is not None
        assert (gone.status, gone.error_message) == (ResourceStatus.MISSING, MISSING_MESSAGE)
    assert (
        observe(
            _row(KS, ResourceStatus.MISSING), terminating, installation=OURS, listed=False, at=AT
        )
        is None
    )


def test_a_kustomization_waiting_for_its_source_is_reconciling_not_failed() -> None:
    """Right after creation kustomize-controller says Ready=False "Source artifact not found,
    retrying": the row (and so the health) says reconciling with that message; a missing
    overlay path (also ArtifactFailed) stays a failure."""

    def seen(reason: str, message: str) -> ObjectStatus:
        ready = {"type": "Ready", "status": "False", "reason": reason, "message": message}
        obj = {"metadata": {"generation": 1}, "status": {"conditions": [ready]}}
        return object_status(KS, obj, has_ready=True)

    waiting = observe(
        _row(KS, ResourceStatus.PENDING),
        seen("ArtifactFailed", "Source artifact not found, retrying in 30s"),
        installation=OURS,
        listed=True,
        at=AT,
    )
    assert waiting is not None
    assert (waiting.status, waiting.error_message, waiting.ready_message) == (
        ResourceStatus.RECONCILING,
        None,
        "Source artifact not found, retrying in 30s",
    )
    for reason, message in [
        ("DependencyNotReady", "dependency 'x' is not ready"),
        ("ArtifactFailed", 'GitRepository.source.toolkit.fluxcd.io "shop" not found'),
    ]:
        assert seen(reason, message).status is ResourceStatus.RECONCILING
    no_path = seen("ArtifactFailed", "kustomization path not found: stat /tmp/x: no such file")
    assert no_path.status is ResourceStatus.FAILED


def test_an_unchanged_row_is_not_written() -> None:
    row = _row(NS, ResourceStatus.READY)
    namespace = ObjectStatus(ref=NS, exists=True, status=ResourceStatus.READY)
    assert observe(row, namespace, installation=OURS, listed=True, at=AT) is None


def test_plan_changes_rows_and_the_environment_status() -> None:
    env = SyncedEnvironment(
        id=7,
        project="shop",
        name="dev",
        namespace="shop-dev",
        status=ResourceStatus.READY,
        resources=(_row(NS, ResourceStatus.READY, 1), _row(KS, ResourceStatus.READY, 2)),
    )
    seen = {
        NS: ObjectStatus(ref=NS, exists=True, status=ResourceStatus.READY),
        KS: _ready(KS, "Unknown", "Reconciliation in progress"),
    }
    plan = plan_sync([env], seen, installation=OURS, listed=True, at=AT)
    assert plan.checked == 2
    assert [(c.kind, c.before, c.after) for c in plan.changes] == [
        ("Kustomization", ResourceStatus.READY, ResourceStatus.RECONCILING)
    ]
    assert plan.environments == {7: ResourceStatus.RECONCILING}
    assert plan_sync([env], {}, installation=OURS, listed=False, at=AT).changes == []


def test_an_object_another_installation_adopted_is_missing_here_and_says_who_has_it() -> None:
    """`create --adopt` on another installation relabels the objects: for this installation
    they are gone, taken over rather than deleted (a row already missing learns why)."""
    adopted = {
        "metadata": {"name": "shop", "labels": {"slipway.dev/installation": "fedcba9876543210"}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    elsewhere = object_status(KS, adopted, has_ready=True)
    for before in (ResourceStatus.READY, ResourceStatus.MISSING):
        taken = observe(_row(KS, before), elsewhere, installation=OURS, listed=False, at=AT)
        assert taken is not None
        assert (taken.status, taken.error_message) == (ResourceStatus.MISSING, TAKEN_OVER_MESSAGE)
    assert "took it over" in str(resource_message(TAKEN_OVER_MESSAGE))
    ours = {**adopted, "metadata": {"name": "shop", "labels": {"slipway.dev/installation": OURS}}}
    kept = object_status(KS, ours, has_ready=True)
    still = observe(_row(KS, ResourceStatus.MISSING), kept, installation=OURS, listed=True, at=AT)
    assert still is not None and still.status is ResourceStatus.READY  # ours again: ready
