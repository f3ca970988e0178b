"""The Flux emulator's git requests, seen by the server: like go-git (source-controller's git
client) they carry the credentials from the first request on, with no 401 challenge first,
and a User-Agent that names the emulator."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from slipway.sandbox import ServerThread
from slipway.sandbox.flux._git import GitAuth, GitFetchError, fetch_branch
from slipway.sandbox.flux._objects import SOURCE_CONTROLLER, user_agent

PASSWORD = "fetch-test-password-5c1d"  # a test-only credential


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (
            GitAuth(username="flux", password=PASSWORD),
            "Basic " + base64.b64encode(f"flux:{PASSWORD}".encode()).decode(),
        ),
        (GitAuth(bearer_token=PASSWORD), f"Bearer {PASSWORD}"),
    ],
    ids=["basic", "bearer"],
)
def test_the_first_request_carries_the_credentials_and_names_the_emulator(
    tmp_path: Path, auth: GitAuth, expected: str
) -> None:
    seen: list[tuple[str, str, str]] = []

    async def refuse(request: Request) -> Response:
        headers = request.headers
        seen.append((request.url.path, headers.get("authorization", ""), headers["user-agent"]))
        return Response("denied", status_code=401, headers={"WWW-Authenticate": "Basic"})

    app = Starlette(routes=[Route("/{path:path}", refuse)])
    agent = user_agent(SOURCE_CONTROLLER)
    with ServerThread(app) as server:
        url = f"{server.url}/org/repo.git"
        with pytest.raises(GitFetchError) as failed:
            fetch_branch(url, "main", tmp_path / "checkout", auth=auth, user_agent=agent)

    assert seen[0] == ("/org/repo.git/info/refs", expected, agent)
    assert len(seen) == 1  # refused once: no second try with credentials asked for
    assert str(failed.value) == f"unable to clone '{url}': authentication required"
    assert PASSWORD not in str(failed.value)
