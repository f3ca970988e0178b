"""OpenAPI v3 documents, enough for kubectl: `kubectl apply` reads them to learn that the
server validates fields itself (the `fieldValidation` parameter of each kind's PATCH), and
`kubectl explain` reads the CRD schemas."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from slipway.sandbox.kube._resources import ResourceType

_QUERY = {
    "dryRun": "string",
    "fieldManager": "string",
    "fieldValidation": "string",
    "force": "boolean",
    "pretty": "string",
}
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def schema_name(rt: ResourceType) -> str:
    """`io.fluxcd.toolkit.kustomize.v1.Kustomization`, `io.k8s.api.core.v1.Namespace`."""
    if not rt.group:
        return f"io.k8s.api.core.v1.{rt.kind}"
    parts = rt.group.split(".")
    if rt.group.endswith(".k8s.io"):
        return f"io.k8s.api.{parts[0]}.{rt.version}.{rt.kind}"
    if "." not in rt.group:
        return f"io.k8s.api.{rt.group}.{rt.version}.{rt.kind}"
    return ".".join([*reversed(parts), rt.version, rt.kind])


def document_hash(doc: dict[str, Any]) -> str:
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:128].upper()


def root(types: Sequence[ResourceType], url_for: dict[str, str]) -> dict[str, Any]:
    """The `/openapi/v3` index: one entry per group-version; `url_for` maps path -> URL."""
    return {"paths": {path: {"serverRelativeURL": url} for path, url in url_for.items()}}


def group_versions(types: Sequence[ResourceType]) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    for rt in types:
        if (rt.group, rt.version) not in seen:
            seen.append((rt.group, rt.version))
    return seen


def _operation(rt: ResourceType, action: str, params: Sequence[str]) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema_name(rt)}"}
    content = {"application/json": {"schema": ref}}
    op: dict[str, Any] = {
        "operationId": f"{action}{rt.kind}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {
            "group": rt.group,
            "version": rt.version,
            "kind": rt.kind,
        },
        "parameters": [
            {"name": p, "in": "query", "schema": {"type": _QUERY[p]}, "uniqueItems": True}
            for p in params
        ],
        "responses": {"200": {"description": "OK", "content": content}},
    }
    if action in ("patch", "put", "post"):
        media = (
            [
                "application/apply-patch+yaml",
                "application/json-patch+json",
                "application/merge-patch+json",
            ]
            if action == "patch"
            else ["application/json"]
        )
        op["requestBody"] = {"content": {m: {"schema": {"type": "object"}} for m in media}}
    return op


def _schema(rt: ResourceType) -> dict[str, Any]:
    gvk = [{"group": rt.group, "version": rt.version, "kind": rt.kind}]
    if rt.schema is not None:
        body = json.loads(json.dumps(rt.schema))
        body.setdefault("properties", {})["metadata"] = {
            "allOf": [{"$ref": f"#/components/schemas/{OBJECT_META}"}],
            "default": {},
        }
        return {**body, "x-kubernetes-group-version-kind": gvk}
    return {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"allOf": [{"$ref": f"#/components/schemas/{OBJECT_META}"}], "default": {}},
        },
        "x-kubernetes-preserve-unknown-fields": True,
        "x-kubernetes-group-version-kind": gvk,
    }


def group_version_document(
    types: Sequence[ResourceType], group: str, version: str
) -> dict[str, Any] | None:
    selected = [rt for rt in types if (rt.group, rt.version) == (group, version)]
    if not selected:
        return None
    paths: dict[str, Any] = {}
    base = "/" + _gv_path(group, version)
    write = ["dryRun", "fieldManager", "fieldValidation", "pretty"]
    for rt in selected:
        scope = (
            f"{base}/namespaces/{{namespace}}/{rt.plural}"
            if rt.namespaced
            else f"{base}/{rt.plural}"
        )
        collection: dict[str, Any] = {}
        if "list" in rt.verbs:
            collection["get"] = _operation(rt, "list", ["pretty"])
        if "create" in rt.verbs:
            collection["post"] = _operation(rt, "post", write)
        paths[scope] = collection
        if "get" in rt.verbs:
            paths[f"{scope}/{{name}}"] = {
                "get": _operation(rt, "get", ["pretty"]),
                "put": _operation(rt, "put", write),
                "patch": _operation(rt, "patch", [*write, "force"]),
                "delete": _operation(rt, "delete", ["dryRun", "pretty"]),
            }
            if rt.status_subresource:
                paths[f"{scope}/{{name}}/status"] = {
                    "get": _operation(rt, "get", ["pretty"]),
                    "patch": _operation(rt, "patch", [*write, "force"]),
                }
    schemas = {schema_name(rt): _schema(rt) for rt in selected}
    schemas[OBJECT_META] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.36.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def index(types: Sequence[ResourceType]) -> dict[str, Any]:
    """`/openapi/v3`: each group-version's document URL, with a content hash."""
    url_for: dict[str, str] = {}
    for group, version in group_versions(types):
        doc = group_version_document(types, group, version)
        path = _gv_path(group, version)
        url_for[path] = f"/openapi/v3/{path}?hash={document_hash(doc or {})}"
    return root(types, url_for)
