"""source-controller's GitRepository reconciliation: read the Secret, fetch the branch, and
write status as source-controller v1 does (conditions, artifact, observedGeneration)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from slipway.sandbox.flux._git import (
    Auth,
    Checkout,
    GitAuth,
    GitFetchError,
    SshAuth,
    fetch_branch,
)
from slipway.sandbox.flux._kubeapi import KubeAPI, status_message
from slipway.sandbox.flux._objects import (
    SOURCE,
    SOURCE_CONTROLLER,
    Key,
    generation_of,
    requested_at,
    user_agent,
)
from slipway.sandbox.flux._status import (
    Conditions,
    copy_conditions,
    delete_condition,
    get_condition,
    now,
    parse_duration,
    set_condition,
)

AUTH_FAILED = "AuthenticationFailed"
GIT_FAILED = "GitOperationFailed"
SUCCEEDED = "Succeeded"
RETRYING = "ProgressingWithRetry"
ARTIFACT_HOST = "http://source-controller.flux-system.svc.cluster.local."


class CredentialsError(Exception):
    """The Secret named by spec.secretRef is missing, unreadable or malformed."""


@dataclass(frozen=True)
class SourceResult:
    ok: bool


class SourceReconciler:
    """Keeps one checkout per GitRepository; Kustomizations render from it."""

    def __init__(self, api: KubeAPI, workdir: Path) -> None:
        self._api = api
        self._workdir = workdir
        self._user_agent = user_agent(SOURCE_CONTROLLER)
        self._checkouts: dict[Key, Checkout] = {}
        # One fetch per GitRepository at a time: its own reconciler thread and a Kustomization
        # that fetches a missing source may both get here, and they share a checkout folder.
        self._locks: dict[Key, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def forget(self, key: Key) -> None:
        self._checkouts.pop(key, None)

    def checkout(self, key: Key, revision: str) -> Checkout | None:
        """The checkout behind `revision` (`branch@sha1:<sha>`), if this controller has it."""
        found = self._checkouts.get(key)
        if found is None or not revision.endswith(f":{found.sha}") or not found.path.is_dir():
            return None
        return found

    def reconcile(self, key: Key, obj: dict[str, Any]) -> SourceResult:
        with self._locks_lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            return self._reconcile(key, obj)

    def _reconcile(self, key: Key, obj: dict[str, Any]) -> SourceResult:
        spec, generation = obj["spec"], generation_of(obj)
        old = obj.get("status") or {}
        conditions = copy_conditions(old)
        branch = (spec.get("ref") or {}).get("branch") or "master"
        try:
            auth = self._credentials(key.namespace, spec.get("secretRef"), spec["url"])
        except CredentialsError as exc:
            return self._failed(key, obj, conditions, AUTH_FAILED, str(exc))
        try:
            checkout = fetch_branch(
                spec["url"],
                branch,
                self._workdir / "gitrepository" / key.namespace / key.name,
                auth=auth,
                user_agent=self._user_agent,
                current=self._checkouts.get(key),
                timeout=parse_duration(spec.get("timeout"), 60.0),
            )
        except GitFetchError as exc:
            message = f"failed to checkout and determine revision: {exc}"
            return self._failed(key, obj, conditions, GIT_FAILED, message)
        self._checkouts[key] = checkout
        revision = f"{branch}@sha1:{checkout.sha}"
        artifact = old.get("artifact")
        if not artifact or artifact.get("revision") != revision:
            artifact = _artifact(key, revision, checkout.sha)
        message = f"stored artifact for revision '{revision}'"
        for stale in ("FetchFailed", "Reconciling", "Stalled", "ArtifactOutdated"):
            delete_condition(conditions, stale)
        set_condition(conditions, "ArtifactInStorage", True, SUCCEEDED, message, generation)
        set_condition(conditions, "Ready", True, SUCCEEDED, message, generation)
        status = {"observedGeneration": generation, "conditions": conditions, "artifact": artifact}
        self._write(key, obj, old, status)
        return SourceResult(ok=True)

    def _failed(
        self, key: Key, obj: dict[str, Any], conditions: Conditions, reason: str, message: str
    ) -> SourceResult:
        """A failed fetch keeps the last artifact and does not advance observedGeneration
        (source-controller only records it for a successful reconciliation)."""
        old, generation = obj.get("status") or {}, generation_of(obj)
        set_condition(conditions, "FetchFailed", True, reason, message, generation)
        reconciling = get_condition(conditions, "Reconciling")
        if not old.get("artifact"):
            progress = "building artifact"
            set_condition(conditions, "Reconciling", True, RETRYING, progress, generation)
        elif reconciling is not None:
            set_condition(
                conditions, "Reconciling", True, RETRYING, reconciling["message"], generation
            )
        set_condition(conditions, "Ready", False, reason, message, generation)
        self._write(key, obj, old, {"conditions": conditions})
        return SourceResult(ok=False)

    def _write(
        self, key: Key, obj: dict[str, Any], old: dict[str, Any], status: dict[str, Any]
    ) -> None:
        requested = requested_at(obj)
        if requested:
            status["lastHandledReconcileAt"] = requested
        if any(old.get(field) != value for field, value in status.items()):
            self._api.patch_status(SOURCE.path(key.namespace, key.name), status)

    def _credentials(
        self, namespace: str, secret_ref: dict[str, Any] | None, url: str
    ) -> Auth | None:
        """The Secret's credentials for `url`'s transport. An `ssh://` URL needs `identity` and
        `known_hosts`, with or without a Secret, as fluxcd/pkg/git's auth options demand."""
        ssh = url.startswith("ssh://")
        if not secret_ref:
            return _ssh_auth({}) if ssh else None
        name = secret_ref["name"]
        where = f"failed to get secret '{namespace}/{name}'"
        try:
            secret = self._api.get(f"/api/v1/namespaces/{namespace}/secrets/{name}")
        except httpx.HTTPStatusError as exc:
            raise CredentialsError(f"{where}: {status_message(exc.response)}") from None
        if secret is None:
            raise CredentialsError(f'{where}: secrets "{name}" not found')
        data: dict[str, str] = {}
        for field, value in (secret.get("data") or {}).items():
            try:
                data[field] = base64.b64decode(value).decode()
            except (binascii.Error, UnicodeDecodeError):
                continue
        if ssh:
            return _ssh_auth(data)
        auth = GitAuth(
            username=data.get("username", ""),
            password=data.get("password", ""),
            bearer_token=data.get("bearerToken", ""),
        )
        if auth.password and not auth.username:
            transport = url.split("://", 1)[0]
            raise CredentialsError(
                "failed to configure authentication options: "
                f"invalid '{transport}' auth option: 'password' requires 'username' to be set"
            )
        return auth


def _ssh_auth(data: dict[str, str]) -> SshAuth:
    for required in ("identity", "known_hosts"):
        if not data.get(required):
            raise CredentialsError(
                "failed to configure authentication options: "
                f"invalid 'ssh' auth option: '{required}' is required"
            )
    return SshAuth(identity=data["identity"], known_hosts=data["known_hosts"])


def _artifact(key: Key, revision: str, sha: str) -> dict[str, Any]:
    """What source-controller advertises for a stored tarball (the emulator keeps a checkout
    instead, so the digest is derived from the revision, not from archive bytes)."""
    path = f"gitrepository/{key.namespace}/{key.name}/{sha}.tar.gz"
    digest = hashlib.sha256(f"{path}#{revision}".encode()).hexdigest()
    return {
        "digest": f"sha256:{digest}",
        "lastUpdateTime": now(),
        "path": path,
        "revision": revision,
        "url": f"{ARTIFACT_HOST}/{path}",
    }
