"""Plain values the cluster adapter returns; no lightkube type crosses this boundary.

`object_status` reads an object the way Flux's kstatus does: Ready from the `Ready`
condition, but only once the controller has observed the latest generation; and a Ready=False
that only says the source is not fetched yet is reconciling (Flux retries it by itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from slipway.domain.errors import SlipwayError
from slipway.domain.model import Condition, ResourceKind, ResourceStatus, resource_status_from_ready
from slipway.gitops.defaults import LABEL_INSTALLATION


@dataclass(frozen=True)
class ObjectRef:
    kind: ResourceKind
    name: str
    namespace: str | None


@dataclass(frozen=True)
class AppliedObject:
    """An object as the server stored it after server-side apply."""

    kind: ResourceKind
    name: str
    namespace: str | None
    uid: str
    resource_version: str
    generation: int | None


@dataclass(frozen=True)
class ObjectResult:
    """One object's outcome within an environment: applied, failed, or skipped (because the
    namespace it lives in could not be applied)."""

    ref: ObjectRef
    applied: AppliedObject | None = None
    error: SlipwayError | None = None
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.applied is not None


@dataclass(frozen=True)
class EnvironmentResult:
    environment: str
    objects: tuple[ObjectResult, ...]

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.objects)

    @property
    def error(self) -> SlipwayError | None:
        """The first real failure (a skipped object only repeats its cause)."""
        return next((o.error for o in self.objects if o.error and not o.skipped), None)


@dataclass(frozen=True)
class ObjectStatus:
    """What `slipway project show` prints per GitOps resource."""

    ref: ObjectRef
    exists: bool
    status: ResourceStatus
    ready: Condition | None = None
    revision: str | None = None
    generation: int | None = None
    observed_generation: int | None = None
    resource_version: str | None = None
    # Marked for deletion (deletionTimestamp set): its finalizers run, then it is gone.
    terminating: bool = False
    # Its `slipway.dev/installation` label: another installation's once it adopted the project.
    installation: str | None = None

    @property
    def message(self) -> str:
        return self.ready.message if self.ready else ""


def ready_condition(obj: dict[str, Any]) -> Condition | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return Condition(
                type="Ready",
                status=str(cond.get("status", "Unknown")),
                reason=str(cond.get("reason") or ""),
                message=str(cond.get("message") or ""),
            )
    return None


# Ready=False that kustomize-controller clears by itself once its source has an artifact (it
# requeues after `requeueDependency`). It also says ArtifactFailed for a missing overlay path,
# which is final, so the reason alone does not tell.
WAITING_REASONS: Final = frozenset({"DependencyNotReady", "Progressing"})
WAITING_ARTIFACT_MESSAGES: Final = ("Source artifact not found", "Source is not ready")


def waiting_for_source(ready: Condition) -> bool:
    """Whether a Ready=False only says the source is not there yet (not fetched, or the
    GitRepository not created yet): waiting, not failing."""
    if ready.reason == "ArtifactFailed":
        return ready.message.startswith(WAITING_ARTIFACT_MESSAGES) or (
            ready.message.endswith("not found") and "GitRepository" in ready.message
        )
    return ready.reason in WAITING_REASONS


def object_status(ref: ObjectRef, obj: dict[str, Any] | None, *, has_ready: bool) -> ObjectStatus:
    """`has_ready` is true for kinds a controller reconciles (Flux); the others are ready as
    soon as they exist."""
    if obj is None:
        return ObjectStatus(ref=ref, exists=False, status=ResourceStatus.PENDING)
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    generation = meta.get("generation")
    ready = ready_condition(obj)
    # Flux stamps each condition with the generation it describes but moves
    # status.observedGeneration only after a success: a failure is judged by its condition.
    ready_raw: dict[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {}
    )
    observed = ready_raw.get("observedGeneration", status.get("observedGeneration"))
    if not has_ready:
        state = ResourceStatus.READY
    elif generation is not None and observed is not None and observed < generation:
        state = ResourceStatus.RECONCILING  # the Ready condition describes an older spec
    elif ready is not None and ready.status == "False" and waiting_for_source(ready):
        state = ResourceStatus.RECONCILING
    else:
        state = resource_status_from_ready(ready)
    revision = status.get("lastAppliedRevision") or (status.get("artifact") or {}).get("revision")
    return ObjectStatus(
        ref=ref,
        exists=True,
        status=state,
        ready=ready,
        revision=revision,
        generation=generation,
        observed_generation=observed,
        resource_version=meta.get("resourceVersion"),
        terminating=bool(meta.get("deletionTimestamp")),
        installation=(meta.get("labels") or {}).get(LABEL_INSTALLATION),
    )


@dataclass(frozen=True)
class SettledEnvironment:
    """What an environment's objects with a Ready condition said once settled, in apply order
    (`settle_environment`)."""

    objects: tuple[ObjectStatus, ...]

    @property
    def status(self) -> ResourceStatus:
        states = {s.status for s in self.objects}
        if ResourceStatus.FAILED in states:
            return ResourceStatus.FAILED
        if states == {ResourceStatus.READY}:
            return ResourceStatus.READY
        return ResourceStatus.RECONCILING

    @property
    def not_ready(self) -> str | None:
        """Why it is not Ready: each object that is not, with its controller's message."""
        reasons = [
            f"{s.ref.kind} {s.ref.name}: {s.status.value}"
            + (f" ({s.message})" if s.message else "")
            for s in self.objects
            if s.status is not ResourceStatus.READY
        ]
        return "; ".join(reasons) or None

    @property
    def revision(self) -> str | None:
        """The revision the last object (the one deploying) reports, else an earlier one's."""
        return next((s.revision for s in reversed(self.objects) if s.revision), None)
