"""Running initializations: a worker in this process (for `create --wait`, `slipway worker`
and the demo), or a hand-off to whichever worker is running (a plain `create`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from slipway.bootstrap import App
from slipway.pipeline.runtime import Worker, submit_initialization


@contextmanager
def running_worker(app: App) -> Iterator[Worker]:
    """A worker in this process for the duration of the block; on exit its lease is handed
    over, so another worker resumes anything it leaves unfinished."""
    worker = Worker(app).start()
    try:
        yield worker
    finally:
        worker.stop()


def run_worker(
    app: App,
    *,
    stop: threading.Event,
    until_idle: bool = False,
    on_start: Callable[[str], None] | None = None,
) -> None:
    """Runs queued and interrupted initializations (taking over dead workers' runs) until
    `stop` is set or, with `until_idle`, nothing is left anywhere."""
    with running_worker(app) as worker:
        if on_start is not None:
            on_start(worker.executor_id)
        worker.run(stop, until_idle=until_idle)


def submit(app: App, project_id: int, worker: Worker | None) -> str:
    """Enqueues the project's initialization: through `worker` when this process runs one,
    else for any worker sharing the database. Returns the workflow ID."""
    if worker is not None:
        return worker.submit(project_id)
    return submit_initialization(app.settings, project_id)
