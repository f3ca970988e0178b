"""kustomize-controller's health assessment for `spec.wait: true`: the applied objects are
polled, judged as kstatus judges them, until all are Current, one has Failed (fluxcd/pkg/ssa
`WaitForSet` with FailFast) or the timeout passes; the error texts are ssa's.

Only Deployments are judged; every other applied object counts as Current once applied.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CURRENT, IN_PROGRESS, FAILED, NOT_FOUND = "Current", "InProgress", "Failed", "NotFound"
POLL_SECONDS = 0.1  # ssa polls every 5 s (Flux's --wait interval); the emulator is quicker


@dataclass(frozen=True)
class Target:
    """One applied object to wait for: `Kind/namespace/name` as ssa's FmtObjMetadata."""

    kind: str
    namespace: str
    name: str
    path: str

    @property
    def label(self) -> str:
        return "/".join(p for p in (self.kind, self.namespace, self.name) if p)


class HealthCheckError(Exception):
    """The message is what kustomize-controller writes into Ready and Healthy."""


def deployment_status(obj: dict[str, Any] | None) -> str:
    """kstatus's rules for apps/v1 Deployment."""
    if obj is None:
        return NOT_FOUND
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        return IN_PROGRESS
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and (
            condition.get("reason") == "ProgressDeadlineExceeded"
        ):
            return FAILED
    wanted = 1 if spec.get("replicas") is None else int(spec["replicas"])
    replicas = int(status.get("replicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    ready = int(status.get("readyReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if updated < wanted or replicas > updated or available < updated or ready < wanted:
        return IN_PROGRESS
    return CURRENT


def wait_for_set(
    targets: list[Target],
    read: Callable[[str], dict[str, Any] | None],
    timeout: float,
) -> None:
    """Return once every target is Current; raise HealthCheckError as ssa words it."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = {t: deployment_status(read(t.path)) for t in targets}
        if all(s == CURRENT for s in statuses.values()):
            return
        failed = [t for t, s in statuses.items() if s == FAILED]
        if failed:
            listed = ", ".join(f"{t.label} status: '{FAILED}'" for t in failed)
            raise HealthCheckError(f"failed early due to stalled resources: [{listed}]")
        if time.monotonic() >= deadline:
            waiting = [(t, s) for t, s in statuses.items() if s != CURRENT]
            listed = ", ".join(f"{t.label} status: '{s}'" for t, s in waiting)
            raise HealthCheckError(f"timeout waiting for: [{listed}]")
        time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.01)))
