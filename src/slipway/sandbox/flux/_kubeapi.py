"""A small REST client for the Kubernetes API, as Flux's controllers use it: get, status
patches, server-side apply and delete, plus an asyncio client with the same identity for the
informers' list and watch. Plain httpx, so it works against any API server."""

from __future__ import annotations

import copy
import json
import ssl
from typing import Any

import httpx

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
IMPERSONATE_USER = "Impersonate-User"


class KubeAPI:
    """Bearer-token client of one API server for one controller: `user_agent` names it (the
    API server's log tells the controllers apart by it) and `field_manager` owns the status
    it writes, as controller-runtime's field owner does."""

    def __init__(
        self,
        server: str,
        token: str,
        *,
        user_agent: str,
        field_manager: str,
        verify: ssl.SSLContext | bool = True,
        timeout: float = 10.0,
    ) -> None:
        self._options: dict[str, Any] = {
            "base_url": server.rstrip("/"),
            "verify": verify,
            "headers": {"Authorization": f"Bearer {token}", "User-Agent": user_agent},
        }
        self._http = httpx.Client(**self._options, timeout=timeout)
        self._field_manager = field_manager
        self._plurals: dict[tuple[str, str], tuple[str, bool]] = {}
        self._as: dict[str, str] = {}

    def close(self) -> None:
        self._http.close()

    def impersonating(self, user: str) -> KubeAPI:
        """The same client acting as `user` (Impersonate-User on every request), as
        kustomize-controller acts as a Kustomization's spec.serviceAccountName; it shares
        the connection pool, so only the original is closed."""
        view = copy.copy(self)
        view._as = {IMPERSONATE_USER: user}
        return view

    def watch_client(self) -> httpx.AsyncClient:
        """An asyncio client with this identity for list and watch; reads never time out,
        since a watch is quiet for as long as nothing changes."""
        return httpx.AsyncClient(**self._options, timeout=httpx.Timeout(10.0, read=None))

    @staticmethod
    def collection(api_version: str, plural: str, namespace: str | None = None) -> str:
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        return f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}"

    def get(self, path: str) -> dict[str, Any] | None:
        response = self._http.get(path, headers=self._as)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def patch_status(self, path: str, status: dict[str, Any]) -> None:
        response = self._http.patch(
            f"{path}/status",
            params={"fieldManager": self._field_manager},
            content=json.dumps({"status": status}),
            headers={"Content-Type": MERGE, **self._as},
        )
        if response.status_code != 404:  # deleted meanwhile: nothing to report on
            response.raise_for_status()

    def patch_finalizers(self, path: str, finalizers: list[str], resource_version: str) -> bool:
        """Replaces metadata.finalizers (a merge patch, as controller-runtime's patch helper
        sends it), guarded by `resource_version`; False when the object is gone or changed
        meanwhile (the controller sees it again from its watch)."""
        body = {"metadata": {"finalizers": finalizers, "resourceVersion": resource_version}}
        response = self._http.patch(
            path,
            params={"fieldManager": self._field_manager},
            content=json.dumps(body),
            headers={"Content-Type": MERGE, **self._as},
        )
        if response.status_code in (404, 409):
            return False
        response.raise_for_status()
        return True

    def apply(self, obj: dict[str, Any], *, field_manager: str, dry_run: bool = False) -> None:
        """Server-side apply (forcing conflicts, as Flux does); raises ApplyError with the
        server's Status message, prefixed by the object the way fluxcd/pkg/ssa names it."""
        params = {"fieldManager": field_manager, "force": "true"}
        if dry_run:
            params["dryRun"] = "All"
        response = self._http.patch(
            self.object_path(obj),
            params=params,
            content=json.dumps(obj),
            headers={"Content-Type": APPLY, **self._as},
        )
        if response.is_error:
            action = "dry-run failed" if dry_run else "apply failed"
            reason = status_reason(response)
            action += f" ({reason})" if reason else ""
            raise ApplyError(f"{describe(obj)} {action}: {status_message(response)}")

    def delete(self, path: str) -> None:
        """Delete in the background, as Flux's garbage collection does; gone already is fine."""
        response = self._http.delete(
            path, params={"propagationPolicy": "Background"}, headers=self._as
        )
        if response.status_code != 404:
            response.raise_for_status()

    def object_path(self, obj: dict[str, Any]) -> str:
        api_version, kind = obj["apiVersion"], obj["kind"]
        plural, namespaced = self.resource_for(api_version, kind)
        namespace = obj["metadata"].get("namespace") if namespaced else None
        return f"{self.collection(api_version, plural, namespace)}/{obj['metadata']['name']}"

    def resource_for(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) for a kind, from discovery, like a RESTMapper."""
        key = (api_version, kind)
        if key not in self._plurals:
            base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            response = self._http.get(base, headers=self._as)
            resources = response.json().get("resources", []) if response.is_success else []
            for resource in resources:
                if "/" not in resource["name"]:
                    self._plurals[(api_version, resource["kind"])] = (
                        resource["name"],
                        bool(resource.get("namespaced")),
                    )
        if key not in self._plurals:
            raise ApplyError(f'no matches for kind "{kind}" in version "{api_version}"')
        return self._plurals[key]


class ApplyError(Exception):
    """An object of the rendered output could not be applied."""


def describe(obj: dict[str, Any]) -> str:
    """`Kind/namespace/name` (or `Kind/name`), fluxcd/pkg/ssa's FmtUnstructured."""
    meta = obj["metadata"]
    parts = [obj["kind"], meta.get("namespace") or "", meta["name"]]
    return "/".join(p for p in parts if p)


def status_message(response: httpx.Response) -> str:
    """The `message` of a Kubernetes Status body, else the raw text."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    return str(body.get("message", response.text)) if isinstance(body, dict) else response.text


def status_reason(response: httpx.Response) -> str:
    """The `reason` of a Status body ("" when absent or Unknown), which fluxcd/pkg/ssa puts in
    parentheses after "dry-run failed"."""
    try:
        body = response.json()
    except ValueError:
        return ""
    reason = str(body.get("reason") or "") if isinstance(body, dict) else ""
    return "" if reason == "Unknown" else reason
