"""git smart HTTP (clone, fetch, push) with basic auth, by running the real `git http-backend`
CGI against the emulator's bare repositories: whatever git expects on the wire, it gets."""

from __future__ import annotations

import asyncio
import os
import re

from starlette.requests import Request
from starlette.responses import Response

from slipway.sandbox.forge._routing import bearer_token
from slipway.sandbox.forge._state import ForgeState

GIT_PATH = re.compile(
    r"^/(?P<owner>[^/]+)/(?P<name>[^/]+?)\.git"
    r"(?P<rest>/(?:info/refs|git-upload-pack|git-receive-pack|HEAD))$"
)
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="Slipway sandbox forge"'}


def _plain(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(text + "\n", status_code=status, media_type="text/plain", headers=headers)


async def serve_git(request: Request, state: ForgeState, path: str) -> Response | None:
    """Answer a smart HTTP request, or None when `path` is not a git URL."""
    found = GIT_PATH.match(path)
    if found is None:
        return None
    rest = found["rest"]
    service = request.query_params.get("service", "")
    pushing = rest == "/git-receive-pack" or service == "git-receive-pack"
    repo = state.repo(found["owner"], found["name"])
    presented = "authorization" in request.headers
    token = state.token(bearer_token(request))
    if presented and token is None:
        return _plain(401, "Invalid username or token.", _CHALLENGE)
    login = token.login if token else None
    if repo is None or not state.can_read(login, repo):
        if login is None:
            return _plain(401, "Authentication required.", _CHALLENGE)
        return _plain(404, "Repository not found.")
    if pushing and login is None:
        return _plain(401, "Authentication required.", _CHALLENGE)
    if pushing and not state.can_write(login or "", repo.owner):
        return _plain(403, f"Permission to {repo.full_name}.git denied to {login}.")
    body = await request.body()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(state.root),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_PROJECT_ROOT": str(state.root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": f"/{repo.path.relative_to(state.root).as_posix()}{rest}",
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": request.url.query,
        "CONTENT_TYPE": request.headers.get("content-type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_USER": login or "",
        "REMOTE_ADDR": request.client.host if request.client else "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    if encoding := request.headers.get("content-encoding"):
        env["HTTP_CONTENT_ENCODING"] = encoding
    if protocol := request.headers.get("git-protocol"):
        env["GIT_PROTOCOL"] = protocol
    process = await asyncio.create_subprocess_exec(
        "git",
        "http-backend",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate(body)
    return _cgi_response(out)


def _cgi_response(out: bytes) -> Response:
    head, sep, payload = out.partition(b"\r\n\r\n")
    if not sep:
        head, sep, payload = out.partition(b"\n\n")
    status, headers = 200, {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split(" ", 1)[0])
        elif name:
            headers[name.strip()] = value.strip()
    return Response(payload, status_code=status, headers=headers)
