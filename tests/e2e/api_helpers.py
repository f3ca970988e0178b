"""What the API tests share: a real server over a sandbox-backed App, users holding tokens
with their own sandbox forge account, and a small Server-Sent Events reader over httpx (the
client reads the wire format itself, so the test checks what any SSE client would see)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.conftest import sandbox_settings
from tests.support.api import Served as Served  # re-exported: the API tests import it here
from tests.support.api import connect_new_account, served_app
from tests.support.waiting import WaitTimeout

from slipway import service
from slipway.sandbox.runner import Sandbox

API = "/api/v1"
PROBLEM = "application/problem+json"
# Longer than the server's 15 s ping, so a quiet but live stream never trips it.
READ_TIMEOUT = 40.0
STREAM_TIMEOUT = 180.0


@contextmanager
def served_api(sandbox: Sandbox, directory: Path) -> Iterator[Served]:
    with served_app(sandbox_settings(sandbox, directory), sandbox) as served:
        yield served


@pytest.fixture(scope="module", name="served")
def served_fixture(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server (and worker) for a test module, as `served = served_fixture` there: each
    test makes its own users and names."""
    with served_api(sandbox, tmp_path_factory.mktemp("api") / "data") as running:
        yield running


def client(served: Served, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.Client(
        base_url=served.url + API,
        headers=headers,
        timeout=httpx.Timeout(60.0, read=READ_TIMEOUT),
    )


@dataclass
class ApiUser:
    """A user of the API: their token, an httpx client sending it, and (when connected) the
    sandbox forge account and forge token they connected."""

    name: str
    token: str
    http: httpx.Client
    login: str | None = None
    forge_token: str | None = None

    def secrets(self) -> list[str]:
        return [s for s in (self.token, self.forge_token) if s]


class Users:
    """Creates users for one test and closes their clients at the end."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self._made: list[ApiUser] = []

    def new(self, prefix: str, *, admin: bool = False, connect: bool = True) -> ApiUser:
        name = f"{prefix}-{secrets.token_hex(3)}"
        created = service.create_user(self.served.app, name, admin=admin)
        token = created.token.get_secret_value()
        user = ApiUser(name, token, client(self.served, token))
        self._made.append(user)
        if connect:
            self.connect(user)
        return user

    def connect(self, user: ApiUser) -> httpx.Response:
        """A fresh sandbox forge account, connected through the API as `user`'s own."""
        forge = self.served.sandbox.forge
        assert forge is not None
        connected = connect_new_account(forge, user.http, user.name)
        user.login, user.forge_token = connected.login, connected.token
        return connected.response

    def close(self) -> None:
        for user in self._made:
            user.http.close()


@contextmanager
def users_of(served: Served) -> Iterator[Users]:
    made = Users(served)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(name="users")
def users_fixture(served: Served) -> Iterator[Users]:
    """The test's users (as `users = users_fixture` in its module), closed at its end."""
    with users_of(served) as made:
        yield made


@dataclass(frozen=True)
class Sse:
    """One Server-Sent Event as the wire carried it."""

    id: str | None
    event: str
    data: str

    def json(self) -> dict[str, Any]:
        document = json.loads(self.data)
        assert isinstance(document, dict)
        return document


def sse_events(response: httpx.Response, *, timeout: float = STREAM_TIMEOUT) -> Iterator[Sse]:
    """The events of an open `text/event-stream` response until the server closes it; raises
    `WaitTimeout` if it is still open after `timeout` seconds (a ping or a line resets only
    the read timeout, not this one)."""
    assert response.status_code == 200, response.read().decode()
    assert response.headers["content-type"].startswith("text/event-stream")
    deadline = time.monotonic() + timeout
    fields: dict[str, str] = {}
    data: list[str] = []
    for line in response.iter_lines():
        if time.monotonic() > deadline:
            raise WaitTimeout(f"the event stream was still open after {timeout:g}s")
        if line == "":
            if data or fields:
                yield Sse(fields.get("id"), fields.get("event", "message"), "\n".join(data))
            fields, data = {}, []
            continue
        if line.startswith(":"):  # a comment: sse-starlette's keep-alive ping
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name in ("id", "event"):
            fields[name] = value


def read_stream(
    http: httpx.Client,
    name: str,
    *,
    last_event_id: int | None = None,
    after: int | None = None,
    timeout: float = STREAM_TIMEOUT,
) -> list[Sse]:
    """Every event the project's stream sends until it closes."""
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    params = {"after": after} if after is not None else {}
    with http.stream(
        "GET", f"/projects/{name}/events/stream", headers=headers, params=params
    ) as response:
        return list(sse_events(response, timeout=timeout))


def progress(events: list[Sse]) -> list[dict[str, Any]]:
    """The EventOut documents of the `progress` events; asserts each id is its sequence."""
    documents = []
    for event in events:
        assert event.event == "progress", event
        document = event.json()
        assert event.id == str(document["sequence"])
        documents.append(document)
    return documents


def follow_to_end(http: httpx.Client, name: str, *, after: int = 0) -> dict[str, Any]:
    """Follows the stream from `after` until it closes; returns the last event, which must
    be a final one (the stream closes only after its run's final event)."""
    events = progress(read_stream(http, name, after=after))
    assert events, f"the stream of {name} closed without an event"
    assert events[-1]["final"] is not None, events[-1]
    return events[-1]


def history(http: httpx.Client, name: str, after: int = 0) -> list[dict[str, Any]]:
    done = http.get(f"/projects/{name}/events", params={"after": after})
    assert done.status_code == 200, done.text
    events = done.json()
    assert isinstance(events, list)
    return events


def create_body(name: str, **extra: Any) -> dict[str, Any]:
    """A creation the sandbox completes quickly: one environment, the smallest template."""
    return {"name": name, "template": "static-site", "environments": ["dev"], **extra}


def project_name(prefix: str) -> str:
    """Unique across the session: repository names on the shared sandbox forge are per
    account, but another test's leftovers must not matter either."""
    return f"{prefix}-{secrets.token_hex(3)}"


def assert_problem(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    """An RFC 9457 problem document with the given status and CLI error type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    document = response.json()
    assert isinstance(document, dict)
    assert (document["status"], document["error"]) == (status, error), document
    assert document["type"].startswith("urn:slipway:problem:")
    return document
