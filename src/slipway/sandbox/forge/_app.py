"""The emulator's ASGI app: picks the API flavour by path prefix, serves git smart HTTP, the
`/_sandbox` control API, and wraps everything in request recording, latency and faults."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, fields
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from slipway.sandbox._recording import OnResponseStart
from slipway.sandbox.forge._gitea import create_gitea_router
from slipway.sandbox.forge._github import create_github_router
from slipway.sandbox.forge._gitlab import create_gitlab_router
from slipway.sandbox.forge._oauth import serve_oauth
from slipway.sandbox.forge._smart_http import serve_git
from slipway.sandbox.forge._state import Fault, ForgeState, RecordedRequest

CONTROL_PREFIX = "/_sandbox"
_DEFAULT_FAULT_MESSAGES = {
    429: "API rate limit exceeded",
    403: "You have exceeded a secondary rate limit. Please wait a few minutes, then try again.",
    404: "Not Found",
}


def create_forge_app(state: ForgeState) -> ASGIApp:
    """GitHub at `/` and `/api/v3`, GitLab at `/api/v4`, Gitea at `/api/v1`, git at
    `/<owner>/<repo>.git/...`, OAuth at the forges' own paths (`_oauth`), control at
    `/_sandbox/...`; every other path is a 404."""
    github, gitlab, gitea = create_github_router(), create_gitlab_router(), create_gitea_router()

    async def forge(request: Request) -> Response:
        path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
        path = path.split("?", 1)[0]
        web_root = f"{request.url.scheme}://{request.url.netloc}"
        git_response = await serve_git(request, state, request.url.path)
        if git_response is not None:
            return git_response
        oauth_response = await serve_oauth(request, state)
        if oauth_response is not None:
            return oauth_response
        for prefix, router in (("/api/v4", gitlab), ("/api/v1", gitea), ("/api/v3", github)):
            if path == prefix or path.startswith(prefix + "/"):
                return await router.dispatch(
                    request,
                    state,
                    path[len(prefix) :] or "/",
                    api_root=web_root + prefix,
                    web_root=web_root,
                )
        return await github.dispatch(request, state, path, api_root=web_root, web_root=web_root)

    async def list_requests(request: Request) -> Response:
        return JSONResponse({"requests": [r.to_dict() for r in state.requests()]})

    async def clear_requests(request: Request) -> Response:
        state.clear_requests()
        return Response(status_code=204)

    async def add_fault(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
            known = {f.name for f in fields(Fault)}
            fault = Fault(**{k: v for k, v in body.items() if k in known})
            if not isinstance(fault.status, int) or not 100 <= fault.status <= 599:
                raise ValueError("status")
        except (ValueError, TypeError, AttributeError):
            return JSONResponse({"message": "a fault needs an integer `status`"}, status_code=422)
        state.add_fault(fault)
        return JSONResponse(asdict(fault), status_code=201)

    async def list_faults(request: Request) -> Response:
        return JSONResponse({"faults": [asdict(f) for f in state.faults()]})

    async def clear_faults(request: Request) -> Response:
        state.clear_faults()
        return Response(status_code=204)

    async def add_user(request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        if not isinstance(body.get("login"), str) or not isinstance(body.get("token"), str):
            return JSONResponse({"message": "`login` and `token` are required"}, status_code=422)
        scopes = tuple(body["scopes"]) if isinstance(body.get("scopes"), list) else None
        state.add_user(body["login"], body["token"], scopes=scopes, kind=body.get("kind", "pat"))
        return JSONResponse({"login": body["login"]}, status_code=201)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    app = Starlette(
        routes=[
            Route(f"{CONTROL_PREFIX}/requests", list_requests, methods=["GET"]),
            Route(f"{CONTROL_PREFIX}/requests", clear_requests, methods=["DELETE"]),
            Route(f"{CONTROL_PREFIX}/faults", add_fault, methods=["POST"]),
            Route(f"{CONTROL_PREFIX}/faults", list_faults, methods=["GET"]),
            Route(f"{CONTROL_PREFIX}/faults", clear_faults, methods=["DELETE"]),
            Route(f"{CONTROL_PREFIX}/users", add_user, methods=["POST"]),
            Route("/{path:path}", forge, methods=methods),
        ]
    )
    return SandboxMiddleware(app, state)


class SandboxMiddleware:
    """Records each forge request (method, path, status; never headers), adds the configured
    latency, and answers scripted faults before the forge sees the request."""

    def __init__(self, app: ASGIApp, state: ForgeState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        agent = _header(scope, b"user-agent")
        client = scope.get("client")
        peer = f"{client[0]}:{client[1]}" if client else ""
        if self.state.latency_ms > 0:
            await asyncio.sleep(self.state.latency_ms / 1000)
        fault = self.state.take_fault(method, path)
        if fault is not None:
            self.state.record(RecordedRequest(method, path, query, fault.status, True, agent, peer))
            await _fault_response(fault)(scope, receive, send)
            return

        async def record(status: int) -> None:
            # Before the client can see the answer, so a test reading the log right after
            # a call always finds that call.
            self.state.record(RecordedRequest(method, path, query, status, False, agent, peer))

        respond = OnResponseStart(send, record)
        try:
            await self.app(scope, receive, respond)
        finally:
            if not respond.started:
                await record(500)


def _header(scope: Scope, name: bytes) -> str:
    """The first header `name` (lower case) of the request, or ""."""
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


def _fault_response(fault: Fault) -> Response:
    headers = {k.lower(): str(v) for k, v in fault.headers.items()}
    if fault.retry_after is not None:
        headers["retry-after"] = str(int(fault.retry_after))
    if fault.status in (403, 429) and "x-ratelimit-remaining" in headers:
        headers.setdefault("x-ratelimit-reset", str(int(time.time()) + 1))
    message = fault.message or _DEFAULT_FAULT_MESSAGES.get(fault.status, "Server Error")
    body: dict[str, Any] = {"message": message}
    return JSONResponse(body, status_code=fault.status, headers=headers)
