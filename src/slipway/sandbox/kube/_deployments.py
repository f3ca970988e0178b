"""kube-controller-manager's deployment controller, as far as status goes: no ReplicaSets or
Pods exist, but each Deployment's `.status` moves the way the real controller writes it, so
health checks (kstatus, Flux's `wait: true`, `kubectl rollout status`) see real rollouts.

A rollout of a generation takes `rollout_seconds`; a Deployment with a container image ending
in `:broken` never gets its new pods ready, and after `spec.progressDeadlineSeconds` (times
`deadline_scale`, so tests take seconds) its Progressing condition turns False with reason
ProgressDeadlineExceeded. Writes go through the status subresource as the controller's
service account, and show in the request log and `managedFields`.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slipway.sandbox.kube._operations import Operations, now
from slipway.sandbox.kube._recording import KubeRequest
from slipway.sandbox.kube._resources import DEPLOYMENTS
from slipway.sandbox.kube._status import KubeApiError
from slipway.sandbox.kube._store import WatchEvent
from slipway.sandbox.kube._validation import WriteOptions

MANAGER = "kube-controller-manager"
USER = "system:serviceaccount:kube-system:deployment-controller"
USER_AGENT = f"kube-controller-manager/v1.33.0 (linux/amd64) kubernetes/8adc0f0/{USER}"
BROKEN_SUFFIX = ":broken"
DEFAULT_DEADLINE = 600  # apps/v1 default of spec.progressDeadlineSeconds
_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # pod-template-hash uses rand's safe alphabet

Recorder = Callable[[KubeRequest], None]


@dataclass(order=True)
class _Due:
    at: float
    namespace: str = field(compare=False)
    name: str = field(compare=False)
    generation: int = field(compare=False)
    step: str = field(compare=False)  # "available" or "deadline"


class DeploymentController:
    """Runs in a thread while the emulator serves; `start()` / `stop()`."""

    def __init__(
        self,
        ops: Operations,
        record: Recorder,
        *,
        rollout_seconds: float = 1.0,
        deadline_scale: float = 0.01,
    ) -> None:
        self._ops = ops
        self._record = record
        self.rollout_seconds = rollout_seconds
        self.deadline_scale = deadline_scale
        self._wake = threading.Condition()
        self._pending: set[tuple[str, str]] = set()
        self._timers: list[_Due] = []
        self._thread: threading.Thread | None = None
        self._cancel: Callable[[], None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._stopping = False
        sub = self._ops.state.subscribe(DEPLOYMENTS.key, None, self._seen)
        self._cancel = sub.cancel
        for event in sub.backlog:
            self._seen(event)
        self._thread = threading.Thread(target=self._loop, name="deployment-controller")
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        if self._cancel is not None:
            self._cancel()
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _seen(self, event: WatchEvent | None) -> None:
        """Called under the store's lock: only queue the key."""
        if event is None or event.type == "DELETED":
            return
        meta = event.object["metadata"]
        with self._wake:
            self._pending.add((meta.get("namespace", ""), meta["name"]))
            self._wake.notify_all()

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and not self._pending and not self._ripe():
                    timeout = self._timers[0].at - time.monotonic() if self._timers else None
                    self._wake.wait(timeout)
                if self._stopping:
                    return
                keys, self._pending = self._pending, set()
                ripe: list[_Due] = []
                while self._ripe():
                    ripe.append(heapq.heappop(self._timers))
            for namespace, name in sorted(keys):
                self._sync(namespace, name)
            for due in ripe:
                self._fire(due)

    def _ripe(self) -> bool:
        return bool(self._timers) and self._timers[0].at <= time.monotonic()

    def _later(self, delay: float, obj: dict[str, Any], step: str) -> None:
        meta = obj["metadata"]
        due = _Due(
            time.monotonic() + delay, meta["namespace"], meta["name"], meta["generation"], step
        )
        with self._wake:
            heapq.heappush(self._timers, due)
            self._wake.notify_all()

    # --- the controller's decisions -------------------------------------------------------

    def _sync(self, namespace: str, name: str) -> None:
        """A generation not yet observed starts a rollout (the first status write)."""
        obj = self._ops.state.get(DEPLOYMENTS, namespace, name)
        if obj is None:
            return
        generation = int(obj["metadata"].get("generation", 1))
        status = obj.get("status") or {}
        if status.get("observedGeneration") == generation:
            return
        wanted = _replicas(obj)
        rs = _replica_set(obj)
        previous = int(status.get("availableReplicas") or 0)
        if previous and status.get("updatedReplicas") is not None:
            # A template change: old pods keep serving while one surge pod starts.
            surge = max(1, math.ceil(wanted / 4))
            available = min(previous, wanted - wanted // 4)
            new_status = _status(
                generation, wanted + surge, surge, available, wanted + surge - available
            )
        else:
            available = 0
            new_status = _status(generation, wanted, wanted, 0, wanted)
        minimum = wanted - wanted // 4 if previous else wanted
        new_status["conditions"] = [
            _available(available >= minimum and wanted > 0, status),
            _progressing("True", "ReplicaSetUpdated", f'ReplicaSet "{rs}" is progressing.', status),
        ]
        if wanted == 0:
            new_status["conditions"][0] = _available(True, status)
        written = self._write(obj, new_status)
        if written is None:
            return
        if _broken(obj):
            deadline = int(obj["spec"].get("progressDeadlineSeconds") or DEFAULT_DEADLINE)
            self._later(deadline * self.deadline_scale, written, "deadline")
        else:
            self._later(self.rollout_seconds, written, "available")

    def _fire(self, due: _Due) -> None:
        obj = self._ops.state.get(DEPLOYMENTS, due.namespace, due.name)
        if obj is None or obj["metadata"].get("generation") != due.generation:
            return  # deleted, or a newer rollout replaced this one
        status = obj.get("status") or {}
        rs = _replica_set(obj)
        wanted = _replicas(obj)
        if due.step == "available":
            new_status = _status(due.generation, wanted, wanted, wanted, 0)
            new_status["conditions"] = [
                _available(True, status),
                _progressing(
                    "True",
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{rs}" has successfully progressed.',
                    status,
                ),
            ]
        else:
            new_status = dict(status)
            conditions = [c for c in status.get("conditions", []) if c["type"] != "Progressing"]
            conditions.append(
                _progressing(
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{rs}" has timed out progressing.',
                    status,
                )
            )
            new_status["conditions"] = conditions
        self._write(obj, new_status)

    def _write(self, obj: dict[str, Any], status: dict[str, Any]) -> dict[str, Any] | None:
        """PUT .../status as the controller (a conflict means a newer event is queued)."""
        meta = obj["metadata"]
        body = {**obj, "status": status}
        code = 200
        try:
            written = self._ops.update(
                DEPLOYMENTS,
                meta["namespace"],
                meta["name"],
                body,
                WriteOptions(manager=MANAGER),
                "status",
            )
        except KubeApiError as exc:
            code, written = exc.code, None
        path = f"/apis/apps/v1/namespaces/{meta['namespace']}/deployments/{meta['name']}/status"
        self._record(
            KubeRequest(
                "update",
                "PUT",
                path,
                "",
                "apps",
                "deployments",
                "status",
                meta["namespace"],
                meta["name"],
                code,
                USER,
                USER_AGENT,
            )
        )
        return written


def _replicas(obj: dict[str, Any]) -> int:
    value = obj.get("spec", {}).get("replicas")
    return 1 if value is None else int(value)


def _broken(obj: dict[str, Any]) -> bool:
    pod = obj.get("spec", {}).get("template", {}).get("spec", {})
    containers = [*pod.get("containers", []), *pod.get("initContainers", [])]
    return any(str(c.get("image", "")).endswith(BROKEN_SUFFIX) for c in containers)


def _replica_set(obj: dict[str, Any]) -> str:
    """`<name>-<pod-template-hash>`: the hash of the pod template, as the controller names
    the template's ReplicaSet."""
    template = json.dumps(obj.get("spec", {}).get("template", {}), sort_keys=True)
    digest = hashlib.sha256(template.encode()).digest()
    suffix = "".join(_HASH_ALPHABET[b % len(_HASH_ALPHABET)] for b in digest[:10])
    return f"{obj['metadata']['name']}-{suffix}"


def _status(
    generation: int, replicas: int, updated: int, available: int, unavailable: int
) -> dict[str, Any]:
    """Zero counts are left out, as the API's omitempty fields are."""
    counts = {
        "replicas": replicas,
        "updatedReplicas": updated,
        "readyReplicas": available,
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
    }
    return {"observedGeneration": generation, **{k: v for k, v in counts.items() if v}}


def _condition(
    type_: str, status: str, reason: str, message: str, old: dict[str, Any]
) -> dict[str, Any]:
    """lastUpdateTime moves on every write, lastTransitionTime only when status flips."""
    stamp = now()
    previous = next((c for c in old.get("conditions", []) if c.get("type") == type_), None)
    moved = previous is None or previous.get("status") != status
    since = stamp if previous is None or moved else str(previous["lastTransitionTime"])
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": since,
        "reason": reason,
        "message": message,
    }


def _available(available: bool, old: dict[str, Any]) -> dict[str, Any]:
    if available:
        return _condition(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            old,
        )
    return _condition(
        "Available",
        "False",
        "MinimumReplicasUnavailable",
        "Deployment does not have minimum availability.",
        old,
    )


def _progressing(status: str, reason: str, message: str, old: dict[str, Any]) -> dict[str, Any]:
    return _condition("Progressing", status, reason, message, old)
