"""A tiny router over the raw (still percent-encoded) path, because GitLab addresses projects
as `group%2Fname` and Starlette's router only sees the decoded path."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from slipway.sandbox.forge._state import ForgeState, Token


class ApiError(Exception):
    """Raised by a handler; the flavour's router renders it in that forge's error shape."""

    def __init__(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = dict(body)
        self.headers = dict(headers or {})


@dataclass
class Ctx:
    """What a handler gets: the request, the state, path parameters and the caller's token."""

    request: Request
    state: ForgeState
    params: dict[str, str]
    token: Token | None
    api_root: str
    web_root: str
    extra_headers: dict[str, str] = field(default_factory=dict)

    async def json(self) -> dict[str, Any]:
        raw = await self.request.body()
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            raise ApiError(400, {"message": "Problems parsing JSON"}) from None
        if not isinstance(data, dict):
            raise ApiError(400, {"message": "Body should be a JSON object"})
        return data

    def query(self, name: str, default: str | None = None) -> str | None:
        return self.request.query_params.get(name, default)

    def flag(self, name: str) -> bool:
        """A boolean query parameter as GitLab (Rails) and Gitea (Go's ParseBool) read the
        spellings clients send: `true` or `1`."""
        return (self.query(name) or "").lower() in ("true", "1")


Handler = Callable[[Ctx], Awaitable[Response]]


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def bearer_token(request: Request) -> str | None:
    """The token from `Authorization: token|Bearer X`, `PRIVATE-TOKEN`, or basic auth."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("token", "bearer") and value:
        return value.strip()
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return request.headers.get("private-token") or None


class Router:
    """Routes of one API flavour, mounted at `prefix` ("" for GitHub's api.github.com style)."""

    def __init__(self, error_body: Callable[[int, str], dict[str, Any]]) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.error_body = error_body

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        regex = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", pattern)
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
        compiled = re.compile(f"^{regex}/?$")

        def register(handler: Handler) -> Handler:
            self._routes.append((method.upper(), compiled, handler))
            return handler

        return register

    async def dispatch(
        self, request: Request, state: ForgeState, path: str, *, api_root: str, web_root: str
    ) -> Response:
        for method, regex, handler in self._routes:
            found = regex.match(path)
            if found is None or method != request.method.upper():
                continue
            params = {k: unquote(v) for k, v in found.groupdict().items()}
            token = state.token(bearer_token(request))
            ctx = Ctx(request, state, params, token, api_root, web_root)
            try:
                response = await handler(ctx)
            except ApiError as exc:
                body = exc.body if "message" in exc.body or "error" in exc.body else {}
                response = json_response(
                    body or self.error_body(exc.status, ""), exc.status, exc.headers
                )
            response.headers.update(ctx.extra_headers)
            return response
        # Real forges answer an unknown route, or a known one with another method, with 404.
        return json_response(self.error_body(404, ""), 404)
