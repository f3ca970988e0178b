"""`slipway serve`: the REST API, with a shared worker and the status sync in the same
process. Several `serve` and `worker` processes may share one PostgreSQL database.

SIGTERM and Ctrl-C stop it gracefully: the server stops taking requests and lets open ones
finish (event streams are closed), then the sync releases its Lease and the worker hands its
runs over to another process, as `slipway worker` does."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Annotated, Final

import typer

from slipway import service
from slipway.cli._app import app, err, out, tr
from slipway.domain.text import t

GRACEFUL_SECONDS: Final = 10


def serve_api(
    instance: service.App,
    *,
    host: str,
    port: int,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serves the API over `instance` until a signal stops it; `on_ready` gets its URL once
    it listens (port 0: a free one)."""
    import uvicorn

    from slipway import web
    from slipway.api import create_api

    def resumed(run: service.ResumedRun) -> None:
        err.print(
            tr(
                t(
                    "resumed {project} at step {step} ({how})",
                    project=run.project,
                    step=run.step,
                    how=run.how,
                )
            ),
            highlight=False,
        )

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    bound = listener.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    url = f"http://{shown}:{bound}"
    with service.running_service(instance, on_resume=resumed) as worker:
        api = create_api(instance, worker=worker)
        web.install(api, instance, worker)
        config = uvicorn.Config(
            api,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
            lifespan="off",
        )
        server = uvicorn.Server(config)

        def announce() -> None:
            while not (server.started or server.should_exit):
                time.sleep(0.05)
            if server.started and on_ready is not None:
                on_ready(url)

        threading.Thread(target=announce, name="slipway-serve-ready", daemon=True).start()

        def stop(*_: object) -> None:
            server.should_exit = True

        # uvicorn handles SIGINT and SIGTERM while it runs, then raises the signal again once
        # it has stopped: into these handlers, so the process goes on to hand the worker's
        # runs over (a default SIGTERM would end it before) and exits 0, as `worker` does.
        # A signal that comes before uvicorn listens stops it as soon as it starts.
        stopping = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            server.run(sockets=[listener])
        finally:
            for sig, handler in stopping.items():
                signal.signal(sig, handler)


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0 in a container).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8000,
) -> None:
    """Run the REST API, the web UI, a worker and the status sync in one process.

    The API is at /api/v1 (and /healthz, /readyz, /metrics), the pages at /. Prints
    `serving URL` once it listens. Every /api/v1 request needs a token from
    `slipway user create`."""

    def ready(url: str) -> None:
        err.print(tr(t("API docs   {url}/docs", url=url)), highlight=False)
        err.print(
            tr(t("web UI     {url}/ (sign in with a token from `slipway user create`)", url=url)),
            highlight=False,
        )
        out.print(tr(t("serving {url}", url=url)), highlight=False)

    with service.application() as instance:
        serve_api(instance, host=host, port=port, on_ready=ready)
