"""The REST API and the web UI served for real over HTTP in a thread of the test process
(uvicorn, as `slipway serve` runs them), so tests speak to it with a real HTTP client, SSE
included."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from tests.support.waiting import wait_until

from slipway import service, web
from slipway.api import create_api


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
