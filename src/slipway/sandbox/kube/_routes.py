"""The ASGI app: authentication, authorization, discovery and the resource verbs.

Every error leaves as a `Status` body with Content-Type exactly `application/json`.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from slipway.sandbox.kube import _discovery, _openapi
from slipway.sandbox.kube._access import rules_review, self_review, subject_review
from slipway.sandbox.kube._authz import Authorizer
from slipway.sandbox.kube._http import (
    dry_run,
    error_response,
    json_response,
    manager_from_agent,
    parse_int,
    read_body,
)
from slipway.sandbox.kube._impersonation import ImpersonationMalformed, impersonate
from slipway.sandbox.kube._operations import Operations
from slipway.sandbox.kube._paths import Target, parse
from slipway.sandbox.kube._recording import SUBJECT_SCOPE_KEY
from slipway.sandbox.kube._resources import (
    LOCAL_SUBJECT_ACCESS_REVIEWS,
    NAMESPACES,
    SELF_SUBJECT_ACCESS_REVIEWS,
    SELF_SUBJECT_RULES_REVIEWS,
    SUBJECT_ACCESS_REVIEWS,
    ResourceType,
)
from slipway.sandbox.kube._rules import Attributes
from slipway.sandbox.kube._selectors import field_selector, label_selector
from slipway.sandbox.kube._status import (
    KubeApiError,
    bad_request,
    forbidden,
    method_not_allowed,
    not_found,
    path_not_found,
    unauthorized,
    unsupported_media_type,
)
from slipway.sandbox.kube._store import KubeState
from slipway.sandbox.kube._subject import Subject, authenticated
from slipway.sandbox.kube._table import as_table, wants_table
from slipway.sandbox.kube._validation import FIELD_VALIDATION, WriteOptions
from slipway.sandbox.kube._watch import event_filter, stream

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
HEALTH = ("/healthz", "/livez", "/readyz")
log = logging.getLogger(__name__)


class _Handler:
    """One instance per app; `handle` serves every path."""

    def __init__(self, state: KubeState) -> None:
        self.state = state
        self.ops = Operations(state)
        self.authz = Authorizer(state)

    async def handle(self, request: Request) -> Response:
        try:
            if request.url.path in HEALTH:
                return Response("ok", media_type="text/plain")
            requestor = authenticated(self._authenticate(request))
            request.scope[SUBJECT_SCOPE_KEY] = requestor
            subject = impersonate(self.authz, requestor, request.headers)
            request.scope[SUBJECT_SCOPE_KEY] = subject
            return await self._route(request, subject)
        except ImpersonationMalformed as exc:
            uri = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            text = f"Internal Server Error: {json.dumps(uri)}: {exc}\n"
            return Response(text, 500, media_type="text/plain; charset=utf-8")
        except KubeApiError as exc:
            return error_response(exc)
        except Exception as exc:
            log.exception(
                "kube emulator: unexpected error on %s %s", request.method, request.url.path
            )
            message = f"Internal error occurred: {type(exc).__name__}"
            return error_response(KubeApiError(500, "InternalError", message))

    def _authenticate(self, request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        user = self.state.user_for_token(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise unauthorized()
        return user

    async def _route(self, request: Request, user: Subject) -> Response:
        path = request.url.path.rstrip("/") or "/"
        if parse(path) is None or path.startswith("/openapi"):
            self._authorize_path(user, request.method.lower(), request.url.path)
        types = self.state.resource_types()
        accept = request.headers.get("accept", "")
        if path == "/version":
            return json_response(_discovery.SERVER_VERSION)
        if path in ("/api", "/apis") and _discovery.wants_aggregated(accept):
            body = _discovery.aggregated(types, core=path == "/api")
            return Response(json.dumps(body), media_type=_discovery.AGGREGATED_V2)
        if path == "/api":
            return json_response(_discovery.api_versions(request.url.netloc))
        if path == "/apis":
            return json_response(_discovery.api_group_list(types))
        parts = [p for p in path.split("/") if p]
        doc: dict[str, Any] | None = None
        if parts[:2] == ["openapi", "v3"]:
            return self._openapi(parts[2:], types)
        if len(parts) == 2 and parts[0] == "api":
            doc = _discovery.resource_list(types, "", parts[1])
        elif len(parts) == 2 and parts[0] == "apis":
            doc = _discovery.api_group(types, parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            doc = _discovery.resource_list(types, parts[1], parts[2])
        if doc is not None:
            return json_response(doc)
        target = parse(path)
        if target is None:
            raise path_not_found()
        rt = self.state.find_type(target.group, target.version, target.plural)
        if (
            rt is None
            or target.subresource not in ("", "status")
            or (target.subresource and not rt.status_subresource)
        ):
            raise path_not_found()
        if rt.namespaced and target.name is not None and target.namespace is None:
            raise path_not_found()
        return await self._resource(request, user, rt, target)

    def _openapi(self, parts: list[str], types: list[ResourceType]) -> Response:
        if not parts:
            return json_response(_openapi.index(types))
        if parts[0] == "api" and len(parts) == 2:
            doc = _openapi.group_version_document(types, "", parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            doc = _openapi.group_version_document(types, parts[1], parts[2])
        else:
            doc = None
        if doc is None:
            raise path_not_found()
        return json_response(doc)

    def _authorize_path(self, user: Subject, verb: str, path: str) -> None:
        attrs = Attributes(verb, path=path, resource_request=False)
        decision = self.authz.authorize(user, attrs)
        if not decision.allowed:
            raise forbidden(user.name, attrs, decision.reason)

    def _authorize(self, user: Subject, verb: str, rt: ResourceType, target: Target) -> None:
        namespace = (target.namespace or "") if rt.namespaced else ""
        if rt == NAMESPACES and target.name:
            namespace = target.name  # RequestInfo: a namespace is in its own namespace
        attrs = Attributes(
            verb,
            rt.group,
            rt.plural,
            target.subresource,
            name=target.name or "",
            namespace=namespace,
        )
        decision = self.authz.authorize(user, attrs)
        if not decision.allowed:
            raise forbidden(user.name, attrs, decision.reason)

    async def _resource(
        self, request: Request, user: Subject, rt: ResourceType, target: Target
    ) -> Response:
        q = request.query_params
        method = request.method
        watching = q.get("watch") in ("true", "1")
        verb = {
            "GET": "get" if target.name else ("watch" if watching else "list"),
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete" if target.name else "deletecollection",
        }.get(method)
        if verb is None:
            raise method_not_allowed()
        self._authorize(user, verb, rt, target)
        if verb not in rt.verbs or (verb == "create" and target.name):
            raise method_not_allowed()
        ns = target.namespace
        if verb == "get":
            obj = self.ops.get(rt, ns, target.name or "")
            return self._render(request, rt, [obj], single=True)
        if verb in ("list", "watch"):
            return await self._list(request, rt, target, verb == "watch")
        if verb == "delete":
            body = self.ops.delete(rt, ns, target.name or "", dry_run=dry_run(request))
            return json_response(body)
        if verb == "deletecollection":
            return self._delete_collection(request, rt, ns)
        body = await read_body(request)
        opts = self._options(request)
        if rt == SELF_SUBJECT_ACCESS_REVIEWS:
            return json_response(self_review(self.authz, user, body), 201)
        if rt == SELF_SUBJECT_RULES_REVIEWS:
            return json_response(rules_review(self.authz, user, body), 201)
        if rt == SUBJECT_ACCESS_REVIEWS:
            return json_response(subject_review(self.authz, body), 201)
        if rt == LOCAL_SUBJECT_ACCESS_REVIEWS:
            return json_response(subject_review(self.authz, body, ns or ""), 201)
        if verb == "create":
            obj = self.ops.create(rt, ns, body, opts)
            return self._written(obj, opts, 201)
        if verb == "update":
            obj = self.ops.update(rt, ns, target.name or "", body, opts, target.subresource)
            return self._written(obj, opts, 200)
        return self._patch(request, rt, target, body, opts)

    def _options(self, request: Request) -> WriteOptions:
        q = request.query_params
        validation = q.get("fieldValidation") or "Warn"
        if validation not in FIELD_VALIDATION:
            raise bad_request(
                f"fieldValidation must be one of Ignore, Warn, Strict, got {validation!r}"
            )
        manager = q.get("fieldManager") or manager_from_agent(request)
        return WriteOptions(
            manager=manager,
            dry_run=dry_run(request),
            field_validation=validation,
            force=q.get("force") in ("true", "1"),
        )

    def _patch(
        self,
        request: Request,
        rt: ResourceType,
        target: Target,
        body: Any,
        opts: WriteOptions,
    ) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        name, ns = target.name or "", target.namespace
        accepted = (
            [JSON_PATCH, MERGE, APPLY]
            if rt.schema is not None
            else [JSON_PATCH, MERGE, STRATEGIC, APPLY]
        )
        if content_type not in accepted:
            raise unsupported_media_type(content_type, accepted)
        if not isinstance(body, dict) and content_type != JSON_PATCH:
            raise bad_request("the patch body must be an object")
        if content_type == APPLY:
            if target.subresource:
                raise bad_request("server-side apply to a subresource is not supported here")
            if not request.query_params.get("fieldManager"):
                raise bad_request("PATCH, fieldManager is required for apply requests")
            existed = self.state.get(rt, ns or "", name) is not None
            obj = self.ops.apply(rt, ns, name, body, opts)
            return self._written(obj, opts, 200 if existed else 201)
        if opts.force:
            raise bad_request("force is only allowed for apply requests")
        if content_type == JSON_PATCH:
            if not isinstance(body, list):
                raise bad_request("a JSON patch must be a list of operations")
            obj = self.ops.json_patch(rt, ns, name, body, opts, target.subresource)
        else:
            obj = self.ops.merge_patch(rt, ns, name, body, opts, target.subresource)
        return self._written(obj, opts, 200)

    def _written(self, obj: dict[str, Any], opts: WriteOptions, status: int) -> Response:
        headers = {}
        if opts.warnings:
            headers["Warning"] = ", ".join(
                f"299 - {json.dumps(w)}" for w in dict.fromkeys(opts.warnings)
            )
        return json_response(obj, status, headers)

    async def _list(
        self, request: Request, rt: ResourceType, target: Target, watching: bool
    ) -> Response:
        q = request.query_params
        ns = target.namespace if rt.namespaced else None
        if watching:
            predicates = [
                label_selector(q.get("labelSelector")),
                field_selector(q.get("fieldSelector")),
            ]
            rv = q.get("resourceVersion")
            initial = q.get("sendInitialEvents") == "true"
            since = None if initial or rv in (None, "", "0") else parse_int(rv, "resourceVersion")
            timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None
            body = await stream(
                self.state,
                rt.key,
                since,
                event_filter(ns, predicates, None),
                timeout,
                bookmark=rt if initial else None,
                bookmarks=rt if q.get("allowWatchBookmarks") == "true" else None,
            )
            return StreamingResponse(body, media_type="application/json")
        items, listed_at = self.ops.list(
            rt, ns, labels=q.get("labelSelector"), fields=q.get("fieldSelector")
        )
        return self._render(request, rt, items, single=False, rv=listed_at)

    def _render(
        self,
        request: Request,
        rt: ResourceType,
        items: list[dict[str, Any]],
        *,
        single: bool,
        rv: int | None = None,
    ) -> Response:
        q = request.query_params
        if wants_table(request.headers.get("accept", "")):
            return json_response(as_table(rt, items, single=single, rv=rv))
        if single:
            return json_response(items[0])
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        limit = parse_int(q.get("limit") or "0", "limit")
        start = (
            parse_int(base64.b64decode(q["continue"]).decode(), "continue")
            if q.get("continue")
            else 0
        )
        if limit > 0:
            rest = items[start + limit :]
            items = items[start : start + limit]
            if rest:
                meta["continue"] = base64.b64encode(str(start + limit).encode()).decode()
                meta["remainingItemCount"] = len(rest)
        if rt.group == "":
            items = [{k: v for k, v in o.items() if k not in ("apiVersion", "kind")} for o in items]
        return json_response(
            {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version,
                "metadata": meta,
                "items": items,
            }
        )

    def _delete_collection(self, request: Request, rt: ResourceType, ns: str | None) -> Response:
        q = request.query_params
        items, _ = self.ops.list(
            rt, ns, labels=q.get("labelSelector"), fields=q.get("fieldSelector")
        )
        for obj in items:
            meta = obj["metadata"]
            self.ops.delete(rt, meta.get("namespace"), meta["name"], dry_run=dry_run(request))
        return json_response(
            {"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": {}, "items": items}
        )


def create_kube_app(state: KubeState) -> ASGIApp:
    """An ASGI app serving the Kubernetes REST API over `state`."""
    handler = _Handler(state)
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", handler.handle, methods=methods)])


__all__ = ["create_kube_app", "not_found"]
