"""kustomize-controller's Kustomization reconciliation: resolve the source artifact, build the
path with kustomize, validate (dry-run) and server-side apply the result with Flux's owner
labels, prune what left the inventory, and write status as kustomize-controller v1 does."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from slipway.sandbox.flux import _health, _kustomize
from slipway.sandbox.flux._kubeapi import ApplyError, KubeAPI, describe, status_message
from slipway.sandbox.flux._objects import KUSTOMIZE, SOURCE, Key, generation_of, requested_at
from slipway.sandbox.flux._source import SourceReconciler
from slipway.sandbox.flux._status import (
    copy_conditions,
    delete_condition,
    format_duration,
    get_condition,
    parse_duration,
    set_condition,
)

APPLY_MANAGER = "kustomize-controller"
GROUP = "kustomize.toolkit.fluxcd.io"
OWNER_NAME, OWNER_NAMESPACE = f"{GROUP}/name", f"{GROUP}/namespace"
DEPENDENCY_REQUEUE = "30s"
NOT_FOUND = "the server could not find the requested resource"
HEALTH_CHECK_FAILED = "HealthCheckFailed"
DEFAULT_TIMEOUT_SCALE = 0.05  # spec.timeout of 5m waits 15 s in the emulator


class Failure(Exception):
    """Ends a reconciliation with Ready=False for `reason`; `progress` is the Reconciling
    message the controller had written when it failed (None: it had not started)."""

    def __init__(
        self,
        reason: str,
        message: str,
        progress: str | None = None,
        stored: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.reason, self.message, self.progress = reason, message, progress
        self.stored = stored  # the object as last written, when the failure wrote status
        self.detail = message  # the Healthy condition's message, for health checks


class KustomizationReconciler:
    """Renders from the checkouts the SourceReconciler keeps (Flux downloads a tarball);
    `read_source` reads a GitRepository from the informer cache, as the controller's cached
    client does."""

    def __init__(
        self,
        api: KubeAPI,
        sources: SourceReconciler,
        read_source: Callable[[Key], dict[str, Any] | None],
        *,
        timeout_scale: float = DEFAULT_TIMEOUT_SCALE,
    ) -> None:
        self._api = api
        self._sources = sources
        self._read_source = read_source
        self._timeout_scale = timeout_scale

    def reconcile(self, key: Key, obj: dict[str, Any]) -> bool:
        """One reconciliation; True when the revision was applied (and pruned)."""
        status: dict[str, Any] = {}
        try:
            revision = self._run(key, obj, status)
            obj, passed = self._check_health(key, obj, status, revision)
        except Failure as failure:
            self._failed(key, obj, status, failure)
            return False
        conditions = copy_conditions(obj.get("status") or {})
        for stale in ("Reconciling", "Stalled", "Healthy"):  # no health checks: no Healthy
            delete_condition(conditions, stale)
        if passed is not None:
            set_condition(conditions, "Healthy", True, "Succeeded", passed, generation_of(obj))
        message = f"Applied revision: {revision}"
        set_condition(
            conditions, "Ready", True, "ReconciliationSucceeded", message, generation_of(obj)
        )
        status |= {
            "observedGeneration": generation_of(obj),
            "conditions": conditions,
            "lastAppliedRevision": revision,
        }
        self._write(key, obj, status)
        return True

    def _run(self, key: Key, obj: dict[str, Any], status: dict[str, Any]) -> str:
        """Everything up to a successful apply and prune; returns the applied revision."""
        spec = obj["spec"]
        ref = spec.get("sourceRef") or {}
        if ref.get("kind", SOURCE.kind) != SOURCE.kind:
            name, kind = ref.get("name", ""), ref.get("kind")
            raise Failure("ArtifactFailed", f"source `{name}` kind '{kind}' not supported")
        source_key = Key(SOURCE.kind, ref.get("namespace") or key.namespace, ref.get("name", ""))
        source = self._read_source(source_key)
        if source is None:
            message = f'GitRepository.source.toolkit.fluxcd.io "{source_key.name}" not found'
            raise Failure("ArtifactFailed", message)
        artifact = (source.get("status") or {}).get("artifact")
        if not artifact:
            message = f"Source artifact not found, retrying in {DEPENDENCY_REQUEUE}"
            raise Failure("ArtifactFailed", message)
        revision = str(artifact["revision"])
        timeout = format_duration(parse_duration(spec.get("timeout") or spec.get("interval"), 0))
        step = f"for revision {revision} with a timeout of {timeout}"
        progress = f"Fetching manifests {step}"
        checkout = self._sources.checkout(source_key, revision)
        if checkout is None:  # e.g. after a restart: fetch the source before giving up
            self._sources.reconcile(source_key, source)
            checkout = self._sources.checkout(source_key, revision)
        if checkout is None:
            message = f"Source is not ready, artifact not found, retrying in {DEPENDENCY_REQUEUE}"
            raise Failure("ArtifactFailed", message, progress)
        try:
            target = _kustomize.locate(checkout.path, spec.get("path") or "./")
        except _kustomize.PathNotFound as exc:
            message = f"kustomization path not found: {exc}"
            raise Failure("ArtifactFailed", message, progress) from None
        status["lastAttemptedRevision"] = revision
        progress = f"Building manifests {step}"
        try:
            objects = _kustomize.render(checkout.path, target)
        except _kustomize.BuildError as exc:
            raise Failure("BuildFailed", f"kustomize build failed: {exc}", progress) from None
        progress = f"Detecting drift {step}"
        api = self.client_for(key, spec)
        try:
            entries = self._apply(api, key, objects, spec.get("targetNamespace"))
        except ApplyError as exc:
            raise Failure("ReconciliationFailed", str(exc), progress) from None
        old_entries = ((obj.get("status") or {}).get("inventory") or {}).get("entries") or []
        status["inventory"] = {"entries": entries}
        if spec.get("prune"):
            kept = {e["id"] for e in entries}
            stale = [e for e in old_entries if e.get("id") not in kept]
            try:
                self.prune(key, stale, spec)
            except httpx.HTTPStatusError as exc:
                status["inventory"] = {"entries": entries + stale}
                raise Failure("PruneFailed", status_message(exc.response), progress) from None
        return revision

    def _check_health(
        self, key: Key, obj: dict[str, Any], status: dict[str, Any], revision: str
    ) -> tuple[dict[str, Any], str | None]:
        """With `spec.wait`, Ready=Unknown while the applied objects become healthy, as
        kustomize-controller's checkHealth; returns the object as now stored and the
        Healthy message (None: no health checks)."""
        spec = obj["spec"]
        if not spec.get("wait"):
            return obj, None
        targets = [
            _health.Target(
                "Deployment", ns, name, f"/apis/apps/v1/namespaces/{ns}/deployments/{name}"
            )
            for ns, name, group, kind in _entries(status)
            if (group, kind) == ("apps", "Deployment")
        ]
        seconds = parse_duration(spec.get("timeout") or spec.get("interval"), 0)
        message = (
            f"Running health checks for revision {revision} with a timeout of "
            f"{format_duration(seconds)}"
        )
        generation = generation_of(obj)
        conditions = copy_conditions(obj.get("status") or {})
        set_condition(conditions, "Reconciling", True, "Progressing", message, generation)
        set_condition(conditions, "Ready", "Unknown", "Progressing", message, generation)
        progress = {**status, "conditions": conditions}
        self._write(key, obj, progress)
        obj = {**obj, "status": {**(obj.get("status") or {}), **progress}}
        started = time.monotonic()
        api = self.client_for(key, spec)
        try:
            _health.wait_for_set(targets, api.get, seconds * self._timeout_scale)
        except _health.HealthCheckError as exc:
            elapsed = format_duration(time.monotonic() - started)
            failure = Failure(
                HEALTH_CHECK_FAILED, f"health check failed after {elapsed}: {exc}", message, obj
            )
            failure.detail = str(exc)
            raise failure from None
        return obj, f"Health check passed in {format_duration(time.monotonic() - started)}"

    def client_for(self, key: Key, spec: dict[str, Any]) -> KubeAPI:
        """The controller's own client, or one acting as `spec.serviceAccountName` of the
        Kustomization's namespace (upstream: a token of that account; here impersonation,
        which the API server authorizes the same way), for applying and pruning."""
        account = spec.get("serviceAccountName")
        if not account:
            return self._api
        return self._api.impersonating(f"system:serviceaccount:{key.namespace}:{account}")

    def _apply(
        self,
        api: KubeAPI,
        key: Key,
        objects: list[dict[str, Any]],
        target_namespace: str | None,
    ) -> list[dict[str, str]]:
        """Validate every object with a dry-run first, so a bad one applies nothing."""
        for obj in objects:
            _, namespaced = api.resource_for(obj["apiVersion"], obj["kind"])
            meta = obj.setdefault("metadata", {})
            if namespaced and target_namespace:
                meta["namespace"] = target_namespace
            elif namespaced and not meta.get("namespace"):
                raise ApplyError(f"{describe(obj)} namespace not specified: {NOT_FOUND}")
            labels = meta.setdefault("labels", {})
            labels |= {OWNER_NAME: key.name, OWNER_NAMESPACE: key.namespace}
        for obj in objects:
            api.apply(obj, field_manager=APPLY_MANAGER, dry_run=True)
        for obj in objects:
            api.apply(obj, field_manager=APPLY_MANAGER)
        return [_inventory_entry(obj) for obj in objects]

    def can_impersonate(self, key: Key, spec: dict[str, Any]) -> bool:
        """Whether the account pruning acts as still exists (upstream's CanImpersonate): on
        delete, a Kustomization whose ServiceAccount is gone skips pruning."""
        account = spec.get("serviceAccountName")
        if not account:
            return True
        path = f"{KubeAPI.collection('v1', 'serviceaccounts', key.namespace)}/{account}"
        return self._api.get(path) is not None

    def prune(self, key: Key, entries: list[dict[str, Any]], spec: dict[str, Any]) -> None:
        """Delete inventory entries that still carry this Kustomization's owner labels, as
        the Kustomization's service account when it names one."""
        api = self.client_for(key, spec)
        for entry in entries:
            try:
                namespace, name, group, kind = str(entry["id"]).split("_", 3)
            except ValueError:
                continue
            api_version = f"{group}/{entry.get('v', 'v1')}" if group else entry.get("v", "v1")
            meta = {"name": name, **({"namespace": namespace} if namespace else {})}
            ref = {"apiVersion": api_version, "kind": kind, "metadata": meta}
            try:
                path = api.object_path(ref)
            except ApplyError:
                continue  # the kind is gone from the cluster, and its objects with it
            current = api.get(path)
            labels = ((current or {}).get("metadata") or {}).get("labels") or {}
            if labels.get(OWNER_NAME) == key.name and labels.get(OWNER_NAMESPACE) == key.namespace:
                api.delete(path)

    def _failed(
        self, key: Key, obj: dict[str, Any], status: dict[str, Any], failure: Failure
    ) -> None:
        """Ready=False; observedGeneration stays (kustomize-controller advances it only on
        success); Reconciling stays with reason ProgressingWithRetry once it had started."""
        obj = failure.stored or obj
        generation = generation_of(obj)
        conditions = copy_conditions(obj.get("status") or {})
        if failure.reason == HEALTH_CHECK_FAILED:
            set_condition(conditions, "Healthy", False, failure.reason, failure.detail, generation)
        reconciling = get_condition(conditions, "Reconciling")
        progress = failure.progress or (reconciling or {}).get("message")
        if progress:
            set_condition(
                conditions, "Reconciling", True, "ProgressingWithRetry", progress, generation
            )
        set_condition(conditions, "Ready", False, failure.reason, failure.message, generation)
        status["conditions"] = conditions
        self._write(key, obj, status)

    def _write(self, key: Key, obj: dict[str, Any], status: dict[str, Any]) -> None:
        old = obj.get("status") or {}
        requested = requested_at(obj)
        if requested:
            status["lastHandledReconcileAt"] = requested
        if any(old.get(field) != value for field, value in status.items()):
            self._api.patch_status(KUSTOMIZE.path(key.namespace, key.name), status)


def _entries(status: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(namespace, name, group, kind) of each inventory entry."""
    found = []
    for entry in (status.get("inventory") or {}).get("entries") or []:
        parts = str(entry.get("id", "")).split("_", 3)
        if len(parts) == 4:
            found.append((parts[0], parts[1], parts[2], parts[3]))
    return found


def _inventory_entry(obj: dict[str, Any]) -> dict[str, str]:
    """`<namespace>_<name>_<group>_<kind>` plus the version, as in status.inventory.entries."""
    api_version, meta = obj["apiVersion"], obj["metadata"]
    group, _, version = api_version.rpartition("/")
    return {
        "id": f"{meta.get('namespace', '')}_{meta['name']}_{group}_{obj['kind']}",
        "v": version,
    }
