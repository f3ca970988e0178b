"""Running initializations: a worker in this process (for `create --wait`, `slipway worker`
and the demo), or a hand-off to whichever worker is running (a plain `create`). A shared
worker (`slipway worker`) also runs the status sync."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from slipway import store
from slipway.bootstrap import App
from slipway.pipeline.runtime import Worker, submit_initialization
from slipway.service.sync import running_sync


@dataclass(frozen=True)
class ResumedRun:
    """A run a `slipway worker` picked up that nobody else would have: its project, the step
    it was last at (its newest event's), and how (taken over from a dead worker, or an orphan
    that was never queued)."""

    project: str
    step: str
    how: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@contextmanager
def running_worker(
    app: App,
    *,
    shared: bool = False,
    on_resume: Callable[[ResumedRun], None] | None = None,
) -> Iterator[Worker]:
    """A worker in this process for the duration of the block; on exit its lease is handed
    over, so another worker resumes anything it leaves unfinished. A private one (the
    default, for `create --wait` and the demo) runs only what is submitted through it; a
    shared one (`slipway worker`) runs every queued run and takes over dead workers' runs."""

    def report(project_id: int, how: str) -> None:
        if on_resume is not None:
            on_resume(_resumed_run(app, project_id, how))

    worker = Worker(app, shared=shared, on_resume=report).start()
    try:
        yield worker
    finally:
        worker.stop()


def _resumed_run(app: App, project_id: int, how: str) -> ResumedRun:
    with app.session() as session:
        project = store.get_project_by_id(session, project_id=project_id)
        event = store.latest_event(session, project_id=project_id)
        name = project.name if project is not None else f"#{project_id}"
        return ResumedRun(name, event.step if event is not None else "queued", how)


def run_worker(
    app: App,
    *,
    stop: threading.Event,
    until_idle: bool = False,
    on_start: Callable[[str], None] | None = None,
    on_resume: Callable[[ResumedRun], None] | None = None,
) -> None:
    """Runs queued and interrupted initializations (taking over dead workers' runs) until
    `stop` is set or, with `until_idle`, nothing is left anywhere; `on_resume` is told of
    each run taken over or found orphaned. Beside them it runs the status sync, which
    follows the cluster while this worker holds the installation's Lease (`running_sync`);
    it stops first on the way out, releasing the Lease."""
    with running_service(app, on_resume=on_resume) as worker:
        if on_start is not None:
            on_start(worker.executor_id)
        worker.run(stop, until_idle=until_idle)


@contextmanager
def running_service(
    app: App, *, on_resume: Callable[[ResumedRun], None] | None = None
) -> Iterator[Worker]:
    """What `slipway worker` and `slipway serve` run for the duration of the block: a shared
    worker and, beside it, the status sync. On the way out the sync stops first (releasing
    its Lease), then the worker hands its runs over."""
    with (
        running_worker(app, shared=True, on_resume=on_resume) as worker,
        running_sync(app),
    ):
        yield worker


def submit(app: App, project_id: int, worker: Worker | None, run: int = 1) -> str:
    """Enqueues the project's initialization (run 1) or repair (a later run): through
    `worker` when this process runs one, else for any worker sharing the database. Returns
    the workflow ID."""
    if worker is not None:
        return worker.submit(project_id, run)
    return submit_initialization(app.settings, project_id, run)
