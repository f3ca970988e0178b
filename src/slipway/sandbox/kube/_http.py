"""Request and response plumbing shared by the routes: JSON bodies, Status errors, query
options and request bodies in JSON, YAML or Kubernetes protobuf."""

from __future__ import annotations

import json
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import Response

from slipway.sandbox.kube import _protobuf
from slipway.sandbox.kube._status import KubeApiError, bad_request


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def error_response(exc: KubeApiError) -> Response:
    return json_response(exc.to_status(), exc.code, exc.headers or None)


def parse_int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"invalid {name}: {value!r}") from None


def dry_run(request: Request) -> bool:
    values = request.query_params.getlist("dryRun")
    if any(v != "All" for v in values):
        raise bad_request('dryRun: Unsupported value: supported values: "All"')
    return bool(values)


def manager_from_agent(request: Request) -> str:
    """The default field manager: the User-Agent's program name, as the real server derives."""
    agent = request.headers.get("user-agent", "unknown")
    return agent.split("/")[0][:128] or "unknown"


async def read_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise bad_request("the request body is empty")
    if request.headers.get("content-type", "").startswith(_protobuf.MEDIA_TYPE):
        return _protobuf.decode(raw)
    try:
        return json.loads(raw)
    except ValueError:
        pass
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        raise bad_request("the request body is neither JSON nor YAML") from None
