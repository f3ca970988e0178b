"""The REST API and the web UI served for real over HTTP in a thread of the test process
(uvicorn, as `slipway serve` runs them), so tests speak to it with a real HTTP client, SSE
included."""

from __future__ import annotations

import secrets
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

import httpx
import uvicorn
from tests.support.waiting import wait_until

from slipway import service, web
from slipway.api import create_api
from slipway.bootstrap import App, bootstrap
from slipway.config import Settings
from slipway.pipeline.runtime import Worker
from slipway.sandbox.forge import ForgeEmulator
from slipway.sandbox.runner import SANDBOX_SCOPES, Sandbox


@contextmanager
def api_server(app: service.App, worker: service.Worker) -> Iterator[str]:
    """The API and the web pages over `app` (delete runs in `worker`), listening on a free
    port; yields its base URL and stops the server (closing open streams) on exit."""
    api = create_api(app, worker=worker)
    web.install(api, app, worker)
    config = uvicorn.Config(
        api,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="api-server", daemon=True
    )
    thread.start()
    try:
        wait_until(lambda: server.started, message="the API server to listen", timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        listener.close()


@dataclass(frozen=True)
class Served:
    """The API and the pages listening at `url` over `app`, with one worker (DBOS allows one
    per process), against `sandbox`."""

    app: App
    url: str
    sandbox: Sandbox


@contextmanager
def serving(app: App, sandbox: Sandbox) -> Iterator[Served]:
    """`app` served with a worker of its own; the worker stops on exit, the App stays open."""
    worker = Worker(app).start()
    try:
        with api_server(app, worker) as url:
            yield Served(app, url, sandbox)
    finally:
        worker.stop()


@contextmanager
def served_app(settings: Settings, sandbox: Sandbox) -> Iterator[Served]:
    """Slipway bootstrapped from `settings` and served; stopped and closed on exit."""
    app = bootstrap(settings)
    try:
        with serving(app, sandbox) as served:
            yield served
    finally:
        app.close()


class Connected(NamedTuple):
    """A sandbox forge account connected through the API, and the API's answer."""

    login: str
    token: str
    response: httpx.Response


def connect_new_account(
    forge: ForgeEmulator,
    http: httpx.Client,
    name: str,
    *,
    path: str = "/connections",
    headers: Mapping[str, str] | None = None,
) -> Connected:
    """A fresh sandbox forge account for the user `name`, its token holding every scope,
    connected through the API at `path` as that user."""
    login, forge_token = f"{name}-acct", f"sandbox_{secrets.token_hex(16)}"
    forge.add_user(login, forge_token, scopes=SANDBOX_SCOPES)
    done = http.post(path, json={"forge": "github", "token": forge_token}, headers=headers)
    assert done.status_code == 201, done.text
    return Connected(login, forge_token, done)
