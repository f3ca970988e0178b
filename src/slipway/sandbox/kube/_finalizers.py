"""Deletion as the API server and the namespace controller do it: an object with finalizers is
only marked (deletionTimestamp set, generation bumped) and goes once its last finalizer is
removed; a Terminating namespace is emptied (objects with finalizers wait for their
controllers), its conditions say what remains, and it goes once nothing is left."""

from __future__ import annotations

import copy
import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from slipway.sandbox.kube._resources import NAMESPACES, ResourceType
from slipway.sandbox.kube._status import Cause, invalid
from slipway.sandbox.kube._store import Key, KubeState

# How often the namespace controller looks again at a namespace whose content still waits
# for finalizers (the real one requeues with a backoff starting in this range).
NAMESPACE_RECHECK_SECONDS = 0.1


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def finalizers(obj: dict[str, Any]) -> list[str]:
    return list(obj.get("metadata", {}).get("finalizers") or [])


def deleting(obj: dict[str, Any]) -> bool:
    return bool(obj.get("metadata", {}).get("deletionTimestamp"))


def marked(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` as the server stores it when a delete must wait for finalizers (the apiserver's
    markAsDeleting): deletionTimestamp now, grace period 0, generation bumped once."""
    meta = copy.deepcopy(obj)
    metadata = meta["metadata"]
    if not metadata.get("deletionTimestamp") and rt.has_generation:
        metadata["generation"] = int(metadata.get("generation", 0)) + 1
    metadata.setdefault("deletionTimestamp", now())
    metadata["deletionGracePeriodSeconds"] = 0
    return meta


def check_update(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
    """No finalizer may be added to an object being deleted (the apiserver's validation)."""
    if not deleting(old):
        return
    added = [f for f in finalizers(new) if f not in finalizers(old)]
    if added:
        cause = Cause(
            "FieldValueForbidden",
            "Forbidden: no new finalizers can be added if the object is being deleted, "
            f"found new finalizers {added!r}",
            "metadata.finalizers",
        )
        raise invalid(rt, new["metadata"]["name"], [cause])


def finalized(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """An update that removed the last finalizer of an object being deleted: it goes now."""
    return old is not None and deleting(old) and not finalizers(new)


class NamespaceController:
    """Empties Terminating namespaces: deletes what is in them (marking what has finalizers),
    and removes a namespace once nothing is left, looking again while something waits."""

    def __init__(self, state: KubeState) -> None:
        self.state = state

    def finalize(self, namespace: str) -> None:
        with self.state.lock:
            current = self.state.get(NAMESPACES, "", namespace)
            if current is None or current.get("status", {}).get("phase") != "Terminating":
                return
            waiting = self._delete_content(namespace)
            if not waiting:
                self.state.remove(NAMESPACES, "", namespace)
                return
            self._report(current, waiting)
        timer = threading.Timer(NAMESPACE_RECHECK_SECONDS, self.finalize, [namespace])
        timer.daemon = True
        timer.start()

    def _delete_content(self, namespace: str) -> list[tuple[ResourceType, dict[str, Any]]]:
        """Deletes every object in `namespace`; returns those waiting for finalizers."""
        waiting = []
        for key, name in self.state.namespaces_in_use(namespace):
            rt = self._type(key)
            if rt is None:
                continue
            obj = self.state.get(rt, namespace, name)
            if obj is None:
                continue
            if not finalizers(obj):
                self.state.remove(rt, namespace, name)
                continue
            if not deleting(obj):
                obj = self.state.put(rt, marked(rt, obj), created=False)
            waiting.append((rt, obj))
        return waiting

    def _type(self, key: Key) -> ResourceType | None:
        return next((rt for rt in self.state.resource_types() if rt.key == key), None)

    def _report(
        self, namespace: dict[str, Any], waiting: list[tuple[ResourceType, dict[str, Any]]]
    ) -> None:
        """The namespace controller's conditions naming what is left and which finalizers."""
        kinds = Counter(rt.qualified for rt, _ in waiting)
        held = Counter(f for _, obj in waiting for f in finalizers(obj))
        stamp = now()
        conditions = [
            {
                "type": "NamespaceContentRemaining",
                "status": "True",
                "reason": "SomeResourcesRemain",
                "message": "Some resources are remaining: "
                + ", ".join(f"{k} has {n} resource instances" for k, n in sorted(kinds.items())),
                "lastTransitionTime": stamp,
            },
            {
                "type": "NamespaceFinalizersRemaining",
                "status": "True",
                "reason": "SomeFinalizersRemain",
                "message": "Some content in the namespace has finalizers remaining: "
                + ", ".join(f"{f} in {n} resource instances" for f, n in sorted(held.items())),
                "lastTransitionTime": stamp,
            },
        ]
        status = namespace.get("status") or {}
        if _without_times(status.get("conditions") or []) == _without_times(conditions):
            return
        updated = copy.deepcopy(namespace)
        updated["status"] = {**status, "conditions": conditions}
        self.state.put(NAMESPACES, updated, created=False)


def _without_times(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in conditions]
