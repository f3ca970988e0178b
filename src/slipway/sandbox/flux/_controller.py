"""The Flux emulator: source-controller and kustomize-controller behaviour, as a client of
the API server. It watches GitRepositories and Kustomizations, really fetches the repository
with the Secret's credentials, really renders the overlay with kustomize, applies the result,
and writes status the way Flux does (Ready condition, artifact revision, lastAppliedRevision)."""

from __future__ import annotations

import base64
import hashlib
import queue
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import structlog

from slipway.sandbox.flux import _kustomize
from slipway.sandbox.flux._git import Checkout, GitFetchError, fetch_branch
from slipway.sandbox.flux._kubeapi import ApplyError, KubeAPI
from slipway.sandbox.flux._status import condition, keep_transition_times, now, parse_duration

log = structlog.get_logger(__name__)

SOURCE = ("source.toolkit.fluxcd.io/v1", "gitrepositories", "GitRepository")
KUSTOMIZE = ("kustomize.toolkit.fluxcd.io/v1", "kustomizations", "Kustomization")
APPLY_MANAGER = "kustomize-controller"


@dataclass(frozen=True)
class Key:
    kind: str  # "GitRepository" or "Kustomization"
    namespace: str
    name: str


class FluxEmulator:
    """Runs both controllers in background threads until `stop()`.

    `resync_seconds` bounds how long a change outside the watch (a new commit on the branch)
    waits to be noticed; each object is still re-fetched no more often than its spec.interval
    unless its generation changed.
    """

    def __init__(
        self,
        server: str,
        token: str,
        *,
        verify: ssl.SSLContext | bool = True,
        workdir: Path | None = None,
        resync_seconds: int = 5,
        interval_scale: float = 1.0,
    ) -> None:
        self._api = KubeAPI(server, token, verify=verify)
        self._own_workdir = workdir is None
        self._workdir = workdir or Path(tempfile.mkdtemp(prefix="slipway-flux-"))
        self._resync = resync_seconds
        self._scale = interval_scale
        self._queue: queue.Queue[Key] = queue.Queue()
        self._queued: set[Key] = set()  # a key waits in the queue at most once
        self._queued_lock = threading.Lock()
        self._stop = threading.Event()
        self._checkouts: dict[Key, Checkout] = {}
        self._last_run: dict[Key, tuple[float, int]] = {}
        self._failures: dict[Key, int] = {}
        self._threads: list[threading.Thread] = []

    def start(self) -> FluxEmulator:
        for target, name in (
            (lambda: self._watch_loop(SOURCE), "flux:source-watch"),
            (lambda: self._watch_loop(KUSTOMIZE), "flux:kustomize-watch"),
            (self._work_loop, "flux:reconciler"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self._resync + 2)
        self._api.close()
        if self._own_workdir:
            import shutil

            shutil.rmtree(self._workdir, ignore_errors=True)

    # -- watching ---------------------------------------------------------------------------

    def _watch_loop(self, kind: tuple[str, str, str]) -> None:
        api_version, plural, kind_name = kind
        path = KubeAPI.collection(api_version, plural)
        while not self._stop.is_set():
            try:
                items, version = self._api.list(path)
                for item in items:
                    self._enqueue(Key(kind_name, *_ns_name(item)))
                for event in self._api.watch(path, version, self._resync):
                    if self._stop.is_set():
                        return
                    obj = event.get("object") or {}
                    if event.get("type") in ("ADDED", "MODIFIED", "DELETED") and obj:
                        self._enqueue(Key(kind_name, *_ns_name(obj)))
            except httpx.HTTPStatusError as exc:
                # CRDs not installed (404) or access denied: wait like a controller would.
                log.debug("flux watch failed", kind=kind_name, status=exc.response.status_code)
                self._stop.wait(self._resync)
            except httpx.HTTPError:
                self._stop.wait(1.0)

    def _enqueue(self, key: Key) -> None:
        with self._queued_lock:
            if key in self._queued:
                return
            self._queued.add(key)
        self._queue.put(key)

    def _work_loop(self) -> None:
        while not self._stop.is_set():
            try:
                key = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            with self._queued_lock:
                self._queued.discard(key)
            try:
                if key.kind == SOURCE[2]:
                    self._reconcile_source(key)
                else:
                    self._reconcile_kustomization(key)
            except httpx.HTTPError as exc:
                log.debug("flux reconcile failed", key=key, error=str(exc))
            except Exception:  # a controller never dies on one object
                log.exception("flux reconcile crashed", key=key)

    def _due(self, key: Key, obj: dict[str, Any], default_interval: float) -> bool:
        """Reconcile on a new generation, or when the object's interval has passed."""
        generation = int(obj["metadata"].get("generation", 1))
        interval = parse_duration(obj["spec"].get("interval"), default_interval) * self._scale
        last = self._last_run.get(key)
        if last is None or last[1] != generation:
            return True
        observed = obj.get("status", {}).get("observedGeneration")
        failures = self._failures.get(key, 0)
        if failures:  # controller-runtime style: failed objects are retried with backoff
            interval = min(interval, 0.5 * 2 ** min(failures, 10))
        return observed != generation or time.monotonic() - last[0] >= interval

    def _mark(self, key: Key, obj: dict[str, Any]) -> None:
        self._last_run[key] = (time.monotonic(), int(obj["metadata"].get("generation", 1)))

    def _outcome(self, key: Key, ok: bool) -> None:
        if ok:
            self._failures.pop(key, None)
        else:
            self._failures[key] = self._failures.get(key, 0) + 1

    # -- source-controller ------------------------------------------------------------------

    def _path(self, kind: tuple[str, str, str], namespace: str, name: str) -> str:
        return f"{KubeAPI.collection(kind[0], kind[1], namespace)}/{name}"

    def _reconcile_source(self, key: Key, *, force: bool = False) -> None:
        path = self._path(SOURCE, key.namespace, key.name)
        obj = self._api.get(path)
        if obj is None:
            self._checkouts.pop(key, None)
            self._last_run.pop(key, None)
            return
        if obj["spec"].get("suspend") or not (force or self._due(key, obj, 60.0)):
            return
        self._mark(key, obj)
        generation = int(obj["metadata"].get("generation", 1))
        spec = obj["spec"]
        branch = (spec.get("ref") or {}).get("branch") or "master"
        old = obj.get("status", {})
        try:
            username, password = self._credentials(key.namespace, spec.get("secretRef"))
            dest = self._workdir / "gitrepository" / key.namespace / key.name
            checkout = fetch_branch(spec["url"], branch, dest, username=username, password=password)
        except (GitFetchError, LookupError) as exc:
            message = f"failed to checkout and determine revision: {exc}"
            status = {
                "observedGeneration": generation,
                "conditions": keep_transition_times(
                    [
                        condition("Ready", False, "GitOperationFailed", message, generation),
                        condition("FetchFailed", True, "GitOperationFailed", message, generation),
                    ],
                    old.get("conditions", []),
                ),
            }
            if "artifact" in old:
                status["artifact"] = old["artifact"]
            self._api.patch_status(path, status)
            self._outcome(key, ok=False)
            self._requeue_dependents(key)
            return
        self._outcome(key, ok=True)
        self._checkouts[key] = checkout
        revision = f"{branch}@sha1:{checkout.sha}"
        previous = (old.get("artifact") or {}).get("revision")
        if previous == revision and old.get("observedGeneration") == generation:
            ready = [c for c in old.get("conditions", []) if c.get("type") == "Ready"]
            if ready and ready[0].get("status") == "True":
                return  # nothing changed: a real controller writes no status either
        message = f"stored artifact for revision '{revision}'"
        digest = hashlib.sha256(f"{spec['url']}#{revision}".encode()).hexdigest()
        status = {
            "observedGeneration": generation,
            "conditions": keep_transition_times(
                [
                    condition("Ready", True, "Succeeded", message, generation),
                    condition("ArtifactInStorage", True, "Succeeded", message, generation),
                ],
                old.get("conditions", []),
            ),
            "artifact": {
                "revision": revision,
                "digest": f"sha256:{digest}",
                "lastUpdateTime": now(),
                "path": f"gitrepository/{key.namespace}/{key.name}/{checkout.sha}.tar.gz",
                "url": (
                    "http://source-controller.flux-system.svc.cluster.local./gitrepository/"
                    f"{key.namespace}/{key.name}/{checkout.sha}.tar.gz"
                ),
            },
        }
        self._api.patch_status(path, status)
        self._requeue_dependents(key)

    def _credentials(
        self, namespace: str, secret_ref: dict[str, Any] | None
    ) -> tuple[str | None, str | None]:
        if not secret_ref:
            return None, None
        name = secret_ref["name"]
        secret = self._api.get(f"/api/v1/namespaces/{namespace}/secrets/{name}")
        if secret is None:
            raise LookupError(f'secrets "{name}" not found')
        data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
        data.update(secret.get("stringData") or {})
        if "username" not in data or "password" not in data:
            raise LookupError(f"invalid '{name}' auth option: 'username' and 'password' required")
        return data["username"], data["password"]

    def _requeue_dependents(self, source: Key) -> None:
        path = KubeAPI.collection(KUSTOMIZE[0], KUSTOMIZE[1], source.namespace)
        try:
            items, _ = self._api.list(path)
        except httpx.HTTPError:
            return
        for item in items:
            ref = item["spec"].get("sourceRef", {})
            if ref.get("name") == source.name and ref.get("namespace", source.namespace) == (
                source.namespace
            ):
                self._last_run.pop(Key(KUSTOMIZE[2], *_ns_name(item)), None)
                self._enqueue(Key(KUSTOMIZE[2], *_ns_name(item)))

    # -- kustomize-controller ---------------------------------------------------------------

    def _reconcile_kustomization(self, key: Key) -> None:
        path = self._path(KUSTOMIZE, key.namespace, key.name)
        obj = self._api.get(path)
        if obj is None:
            self._last_run.pop(key, None)
            return
        if obj["spec"].get("suspend") or not self._due(key, obj, 300.0):
            return
        self._mark(key, obj)
        spec, generation = obj["spec"], int(obj["metadata"].get("generation", 1))
        old = obj.get("status", {})
        ref = spec.get("sourceRef", {})
        source_key = Key(SOURCE[2], ref.get("namespace", key.namespace), ref.get("name", ""))
        source = self._api.get(self._path(SOURCE, source_key.namespace, source_key.name))
        artifact = (source or {}).get("status", {}).get("artifact")
        if source is None or not artifact:
            reason = (
                f'GitRepository.source.toolkit.fluxcd.io "{source_key.name}" not found'
                if source is None
                else "Source artifact not found, retrying in 30s"
            )
            self._write(path, old, generation, False, "ArtifactFailed", reason, {}, key)
            return
        revision = artifact["revision"]
        if source_key not in self._checkouts:
            self._reconcile_source(source_key, force=True)
        checkout = self._checkouts.get(source_key)
        if checkout is None or not revision.endswith(checkout.sha):
            self._write(
                path,
                old,
                generation,
                False,
                "ArtifactFailed",
                "Source artifact not found, retrying in 30s",
                {},
                key,
            )
            return
        extra: dict[str, Any] = {"lastAttemptedRevision": revision}
        try:
            objects = _kustomize.render(checkout.path, spec.get("path") or "./")
            inventory = self._apply(objects, spec.get("targetNamespace"))
        except _kustomize.BuildError as exc:
            self._write(path, old, generation, False, "BuildFailed", str(exc), extra, key)
            return
        except ApplyError as exc:
            self._write(path, old, generation, False, "ReconciliationFailed", str(exc), extra, key)
            return
        extra |= {"lastAppliedRevision": revision, "inventory": {"entries": inventory}}
        self._outcome(key, ok=True)
        if (
            old.get("lastAppliedRevision") == revision
            and old.get("observedGeneration") == generation
            and any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in old.get("conditions", [])
            )
        ):
            return
        self._write(
            path,
            old,
            generation,
            True,
            "ReconciliationSucceeded",
            f"Applied revision: {revision}",
            extra,
            key,
        )

    def _apply(
        self, objects: list[dict[str, Any]], target_namespace: str | None
    ) -> list[dict[str, str]]:
        inventory = []
        for obj in objects:
            api_version, kind = obj["apiVersion"], obj["kind"]
            _, namespaced = self._api.resource_for(api_version, kind)
            if namespaced and target_namespace:
                obj["metadata"]["namespace"] = target_namespace
            self._api.apply(obj, field_manager=APPLY_MANAGER)
            group = api_version.split("/")[0] if "/" in api_version else ""
            namespace = obj["metadata"].get("namespace", "") if namespaced else ""
            inventory.append(
                {
                    "id": f"{namespace}_{obj['metadata']['name']}_{group}_{kind}",
                    "v": api_version.split("/")[-1],
                }
            )
        return inventory

    def _write(
        self,
        path: str,
        old: dict[str, Any],
        generation: int,
        ok: bool,
        reason: str,
        message: str,
        extra: dict[str, Any],
        key: Key | None = None,
    ) -> None:
        if key is not None:
            self._outcome(key, ok)
        conditions = [condition("Ready", ok, reason, message, generation)]
        if not ok:
            conditions.append(
                condition("Reconciling", True, "ProgressingWithRetry", message, generation)
            )
        status: dict[str, Any] = {
            "observedGeneration": generation,
            "conditions": keep_transition_times(conditions, old.get("conditions", [])),
            **{k: v for k, v in old.items() if k in ("lastAppliedRevision", "inventory")},
            **extra,
        }
        self._api.patch_status(path, status)


def _ns_name(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
