"""The API verbs over the store, shared by the HTTP routes and the Python API.

Each write goes through one pipeline: identity checks, status-subresource rules, managed
fields, schema defaulting and validation, generation, and a no-op short-circuit (an unchanged
object keeps its resourceVersion, as on a real server).
"""

from __future__ import annotations

import base64
import copy
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from slipway.sandbox.kube import _apply, _finalizers, _names
from slipway.sandbox.kube._aggregation import aggregate
from slipway.sandbox.kube._patches import json_merge, json_patch
from slipway.sandbox.kube._resources import CLUSTERROLES, NAMESPACES, SECRETS, ResourceType
from slipway.sandbox.kube._selectors import field_selector, label_selector
from slipway.sandbox.kube._status import (
    already_exists,
    generate_name_conflict,
    namespace_not_found,
    namespace_terminating,
    not_found,
    update_conflict,
)
from slipway.sandbox.kube._store import KubeState
from slipway.sandbox.kube._validation import WriteOptions, check_identity, prepare

_SERVER_META = (
    "uid",
    "creationTimestamp",
    "generation",
    "resourceVersion",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ns(rt: ResourceType, namespace: str | None) -> str:
    return (namespace or "") if rt.namespaced else ""


def _body(obj: dict[str, Any]) -> dict[str, Any]:
    """What counts for `generation`: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _fold_string_data(secret: dict[str, Any]) -> None:
    """As the real server does: `stringData` is write-only, merged into `data` (base64), and
    `type` defaults to Opaque."""
    string_data = secret.pop("stringData", None) or {}
    if string_data:
        data = secret.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
    secret.setdefault("type", "Opaque")


class Operations:
    """create/get/list/update/patch/apply/delete with the real server's semantics."""

    def __init__(self, state: KubeState) -> None:
        self.state = state
        self.namespaces = _finalizers.NamespaceController(state)

    # --- reads ----------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.state.get(rt, _ns(rt, namespace), name)
        if obj is None:
            raise not_found(rt, name)
        return obj

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        labels: str | None = None,
        fields: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        match_labels, match_fields = label_selector(labels), field_selector(fields)
        items, rv = self.state.list(rt, namespace if rt.namespaced else None)
        return [o for o in items if match_labels(o) and match_fields(o)], rv

    # --- writes ---------------------------------------------------------------------------

    def _require_namespace(self, rt: ResourceType, namespace: str, name: str) -> None:
        if not rt.namespaced:
            return
        ns = self.state.get(NAMESPACES, "", namespace)
        if ns is None:
            raise namespace_not_found(namespace)
        if ns.get("status", {}).get("phase") == "Terminating":
            raise namespace_terminating(rt, name, namespace)

    def _commit(
        self,
        rt: ResourceType,
        old: dict[str, Any] | None,
        new: dict[str, Any],
        opts: WriteOptions,
        subresource: str = "",
    ) -> dict[str, Any]:
        """Validate, stamp server metadata and store `new` (unless dry-run or unchanged)."""
        meta = new["metadata"]
        if rt.status_subresource and subresource != "status":
            if old is not None and "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            elif old is None:
                new.pop("status", None)
            else:
                new.pop("status", None)
        if old is not None:
            for key in _SERVER_META:
                if key in old["metadata"]:
                    meta[key] = old["metadata"][key]
                else:
                    meta.pop(key, None)
        prepare(rt, new, opts)
        if rt == SECRETS:
            _fold_string_data(new)
        if old is None:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now()
            if rt.has_generation:
                meta["generation"] = 1
            if rt == NAMESPACES:
                meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
                new.setdefault("spec", {"finalizers": ["kubernetes"]})
                new["status"] = {"phase": "Active"}
        elif rt.has_generation and _body(old) != _body(new):
            meta["generation"] = int(old["metadata"].get("generation", 0)) + 1
        if old is not None and new == old:
            return old
        if old is not None:
            _finalizers.check_update(rt, old, new)
        if opts.dry_run:
            return new
        if _finalizers.finalized(old, new):  # its last finalizer removed: it goes now
            self.state.remove(rt, meta.get("namespace", ""), meta["name"])
            return new
        stored = self.state.put(rt, new, created=old is None)
        if rt == CLUSTERROLES:
            aggregate(self.state)  # the clusterrole-aggregation controller
            stored = self.state.get(rt, "", meta["name"]) or stored
        return stored

    def create(
        self, rt: ResourceType, namespace: str | None, body: dict[str, Any], opts: WriteOptions
    ) -> dict[str, Any]:
        ns = _ns(rt, namespace)
        new = copy.deepcopy(body)
        check_identity(rt, new, ns, None)
        name = str(new["metadata"].get("name") or "")
        for key in (*_SERVER_META, "managedFields"):
            new["metadata"].pop(key, None)
        prefix = str(new["metadata"].get("generateName") or "")
        with self.state.lock:
            self._require_namespace(rt, ns, name)
            if not name and prefix:
                name = self._free_name(rt, ns, prefix)
                new["metadata"]["name"] = name
            if name and self.state.get(rt, ns, name) is not None:
                raise already_exists(rt, name)
            _apply.track_update(None, new, rt=rt, manager=opts.manager, now=now())
            return self._commit(rt, None, new, opts)

    def _free_name(self, rt: ResourceType, namespace: str, prefix: str) -> str:
        """A generated name not taken yet, within the server's retry budget."""
        for _ in range(_names.ATTEMPTS):
            candidate = _names.generate(prefix)
            if self.state.get(rt, namespace, candidate) is None:
                return candidate
        raise generate_name_conflict(rt)

    def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: dict[str, Any],
        opts: WriteOptions,
        subresource: str = "",
    ) -> dict[str, Any]:
        ns = _ns(rt, namespace)
        new = copy.deepcopy(body)
        check_identity(rt, new, ns, name)
        with self.state.lock:
            old = self.state.get(rt, ns, name)
            if old is None:
                raise not_found(rt, name)
            wanted = new["metadata"].get("resourceVersion")
            if wanted and wanted != old["metadata"]["resourceVersion"]:
                raise update_conflict(rt, name)
            if subresource == "status":
                status = new.get("status")
                new = copy.deepcopy(old)
                if status is None:
                    new.pop("status", None)
                else:
                    new["status"] = status
            else:
                new["metadata"]["managedFields"] = old["metadata"].get("managedFields", [])
            _apply.track_update(
                old, new, rt=rt, manager=opts.manager, now=now(), subresource=subresource
            )
            return self._commit(rt, old, new, opts, subresource)

    def merge_patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        patch: dict[str, Any],
        opts: WriteOptions,
        subresource: str = "",
    ) -> dict[str, Any]:
        with self.state.lock:
            old = self.get(rt, namespace, name)
            wanted = (patch.get("metadata") or {}).get("resourceVersion")
            if wanted and wanted != old["metadata"]["resourceVersion"]:
                raise update_conflict(rt, name)
            new = json_merge(old, patch)
            return self.update(rt, namespace, name, new, opts, subresource)

    def json_patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        operations: Sequence[Any],
        opts: WriteOptions,
        subresource: str = "",
    ) -> dict[str, Any]:
        with self.state.lock:
            old = self.get(rt, namespace, name)
            new = json_patch(old, [*operations])
            if not isinstance(new, dict):
                raise update_conflict(rt, name)
            return self.update(rt, namespace, name, new, opts, subresource)

    def apply(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        config: dict[str, Any],
        opts: WriteOptions,
    ) -> dict[str, Any]:
        ns = _ns(rt, namespace)
        config = copy.deepcopy(config)
        check_identity(rt, config, ns, name)
        for key in _SERVER_META:
            config["metadata"].pop(key, None)
        with self.state.lock:
            old = self.state.get(rt, ns, name)
            if old is None:
                self._require_namespace(rt, ns, name)
            new = _apply.apply(
                old, config, rt=rt, manager=opts.manager, force=opts.force, now=now()
            )
            return self._commit(rt, old, new, opts)

    def delete(
        self, rt: ResourceType, namespace: str | None, name: str, *, dry_run: bool = False
    ) -> dict[str, Any]:
        """Returns the response body: the Terminating namespace, or a Success Status."""
        ns = _ns(rt, namespace)
        with self.state.lock:
            old = self.get(rt, ns, name)
            if dry_run:
                return old
            if rt == NAMESPACES:
                return self._terminate_namespace(old)
            if _finalizers.finalizers(old):  # marked; its controllers remove it when done
                if _finalizers.deleting(old):
                    return old
                return self.state.put(rt, _finalizers.marked(rt, old), created=False)
            self.state.remove(rt, ns, name)
            if rt == CLUSTERROLES:
                aggregate(self.state)
        details: dict[str, Any] = {"name": name, "kind": rt.plural, "uid": old["metadata"]["uid"]}
        if rt.group:
            details["group"] = rt.group
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }

    def _terminate_namespace(self, old: dict[str, Any]) -> dict[str, Any]:
        name = old["metadata"]["name"]
        if old.get("status", {}).get("phase") == "Terminating":
            return old
        terminating = copy.deepcopy(old)
        terminating["metadata"]["deletionTimestamp"] = now()
        terminating["status"] = {"phase": "Terminating"}
        stored = self.state.put(NAMESPACES, terminating, created=False)
        if self.state.namespace_finalize_delay > 0:
            timer = threading.Timer(self.state.namespace_finalize_delay, self._finalize, [name])
            timer.daemon = True
            timer.start()
        else:
            self._finalize(name)
        return stored

    def _finalize(self, namespace: str) -> None:
        """Empty a terminating namespace (objects with finalizers wait for their
        controllers), then remove it."""
        self.namespaces.finalize(namespace)
