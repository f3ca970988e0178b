"""A worker: DBOS launched under a unique executor ID, a lease renewed in Slipway's database,
and takeover of the workflows of executors whose lease expired (see `store.leases`).

The service layer starts a shared one for `slipway worker` (the queue, takeovers, orphans)
and a private one for `project create --wait` and the demo (its own project only); a process
that only submits uses `submit_initialization`, which enqueues without launching.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from dbos import DBOS, DBOSClient, SetWorkflowID

from slipway import __version__, store
from slipway.bootstrap import App
from slipway.config import Settings
from slipway.domain.model import ProjectStatus
from slipway.logs import route_dbos_logs
from slipway.pipeline.context import set_current_app
from slipway.pipeline.workflow import (
    INITIALIZE_QUEUE,
    WORKFLOW_NAME,
    initialize_project,
    project_of_workflow,
    settle_workflow_id,
    workflow_id_for,
)
from slipway.store import leases
from slipway.store.engine import private_database_file

# Workers only run workflows enqueued for their own application version: pin it to the
# package version so the CLI, the API and every worker of one release agree.
WORKFLOW_VERSION = __version__
ACTIVE_STATES = ("PENDING", "ENQUEUED")
IDLE_GRACE = 1.0
# A private worker lets its own runs finish (their last checkpoint) before DBOS is destroyed.
DRAIN_SECONDS = 10.0
log = structlog.get_logger(__name__)


def system_database_url(settings: Settings) -> str:
    """DBOS's own database: beside Slipway's SQLite file, or the same PostgreSQL database."""
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        path = settings.data_dir / "workflows.db"
        private_database_file(path)  # workflow inputs and outputs: owner only, like ours
        return f"sqlite:///{path}"
    return url


def submit_initialization(settings: Settings, project_id: int, run: int = 1) -> str:
    """Enqueues the project's workflow for `run` (1: creation; later: a repair) without
    running a worker in this process."""
    workflow_id = workflow_id_for(project_id, run)
    enqueue(settings, WORKFLOW_NAME, workflow_id, project_id)
    return workflow_id


def enqueue(settings: Settings, workflow_name: str, workflow_id: str, *args: Any) -> None:
    """Queues a run of `workflow_name` for whichever worker takes it, from a process that
    runs none."""
    with _dbos_client(settings) as client:
        client.enqueue(
            {
                "workflow_name": workflow_name,
                "queue_name": INITIALIZE_QUEUE,
                "workflow_id": workflow_id,
                "app_version": WORKFLOW_VERSION,
            },
            *args,
        )


def runs_in_progress(settings: Settings, workflow_ids: list[str]) -> list[str]:
    """Those of `workflow_ids` queued or running, or whose settle child is (a dead worker's
    run counts: a worker takes it over); read from DBOS's database without launching."""
    wanted = [*workflow_ids, *(settle_workflow_id(w) for w in workflow_ids)]
    with _dbos_client(settings) as client:
        active = client.list_workflows(
            workflow_ids=wanted, status=list(ACTIVE_STATES), load_input=False, load_output=False
        )
    busy = {w.workflow_id for w in active}
    return [w for w in workflow_ids if w in busy or settle_workflow_id(w) in busy]


@contextmanager
def _dbos_client(settings: Settings) -> Iterator[DBOSClient]:
    """A client of DBOS's database for a process without a worker. The client never creates
    DBOS's tables, and on a fresh install no worker has run yet, so the system database is
    migrated first (a no-op when it is up to date)."""
    url = system_database_url(settings)
    DBOS.migrate(url)
    client = DBOSClient(system_database_url=url)
    try:
        yield client
    finally:
        client.destroy()


class Worker:
    """Runs initialization workflows in this process until `stop()`.

    A shared worker (`slipway worker`) takes every queued run, takes over dead workers' runs
    and submits orphans. A private one (`shared=False`, for `create --wait`) starts only what
    is submitted through it, directly rather than from the queue, so another project's queued
    run stays for a worker; it listens to no queue (its runs' Flux waits are their children)."""

    def __init__(
        self,
        app: App,
        *,
        shared: bool = True,
        on_resume: Callable[[int, str], None] | None = None,
    ) -> None:
        self.app = app
        self.shared = shared
        # Told (project ID, how) for each run taken over from a dead worker or submitted as
        # an orphan, so `slipway worker` can say what it picked up.
        self._on_resume = on_resume
        self.executor_id = leases.new_executor_id()
        self._ttl = app.settings.lease_seconds
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._queue: Any = None

    def start(self) -> Worker:
        with self.app.session() as session:
            leases.acquire(session, self.executor_id, self._ttl)
        set_current_app(self.app)
        route_dbos_logs()
        DBOS(
            config={
                "name": "slipway",
                "system_database_url": system_database_url(self.app.settings),
                "executor_id": self.executor_id,
                "application_version": WORKFLOW_VERSION,
                "log_level": "WARNING",
                "notification_listener_polling_interval_sec": 0.2,
            }
        )
        if not self.shared:
            DBOS.listen_queues([])
        DBOS.launch()
        self._queue = DBOS.register_queue(
            INITIALIZE_QUEUE,
            worker_concurrency=self.app.settings.worker_concurrency,
            polling_interval_sec=0.2,
        )
        if self.shared:
            self.take_over()
            self.submit_orphans()
        self._heartbeat = threading.Thread(target=self._beat, name="slipway-lease", daemon=True)
        self._heartbeat.start()
        log.info("worker started", executor_id=self.executor_id)
        return self

    def submit(self, project_id: int, run: int = 1) -> str:
        workflow_id = workflow_id_for(project_id, run)
        with SetWorkflowID(workflow_id):
            if self.shared:
                self._queue.enqueue(initialize_project, project_id)
            else:
                DBOS.start_workflow(initialize_project, project_id)
        return workflow_id

    def _beat(self) -> None:
        while not self._stop.wait(self._ttl / 3):
            try:
                with self.app.session() as session:
                    if not leases.renew(session, self.executor_id, self._ttl):
                        # Presumed dead by others (a long pause): re-register and carry on;
                        # DBOS's queue handoff keeps a workflow from running twice.
                        leases.acquire(session, self.executor_id, self._ttl)
                if self.shared:
                    self.take_over()
                    self.submit_orphans()
            except Exception:  # the heartbeat must outlive a database hiccup
                log.warning("lease heartbeat failed", executor_id=self.executor_id, exc_info=True)

    def take_over(self) -> list[str]:
        """Recovers the PENDING workflows of executors with no live lease that this worker
        claims (see `store.leases.claim`); returns the executor IDs taken over."""
        pending = DBOS.list_workflows(status="PENDING", load_input=False, load_output=False)
        owners = {
            w.executor_id for w in pending if w.executor_id and w.executor_id != self.executor_id
        }
        if not owners:
            return []
        with self.app.session() as session:
            alive = leases.live_executors(session)
        taken = []
        for owner in sorted(owners - alive):
            with self.app.session() as session:
                claimed = leases.claim(session, owner, self._ttl)
            if not claimed:
                continue  # another survivor claimed it first
            DBOS._recover_pending_workflows([owner])
            for workflow in pending:
                project_id = project_of_workflow(workflow.workflow_id)
                if workflow.executor_id == owner and project_id is not None:
                    self._resumed(project_id, f"taken over from {owner}")
            taken.append(owner)
            log.info("took over workflows", dead_executor=owner, executor_id=self.executor_id)
        return taken

    def submit_orphans(self) -> list[int]:
        """Submits pending projects whose workflow was never enqueued (the process that
        recorded them died first). Safe to repeat: submission is idempotent per project."""
        # Younger ones may still be in the hands of the process that is recording them.
        cutoff = datetime.now(UTC) - timedelta(seconds=self._ttl)
        with self.app.session() as session:
            pending = [
                p.id
                for p in store.list_projects(session, status=ProjectStatus.PENDING)
                if p.created_at < cutoff
            ]
        orphans = [pid for pid in pending if DBOS.get_workflow_status(workflow_id_for(pid)) is None]
        for project_id in orphans:
            self.submit(project_id)
            with self.app.session() as session:
                store.set_project_workflow(
                    session, project_id=project_id, workflow_id=workflow_id_for(project_id)
                )
            log.info("submitted orphaned project", project_id=project_id)
            self._resumed(project_id, "never queued; submitted")
        return orphans

    def _resumed(self, project_id: int, how: str) -> None:
        if self._on_resume is None:
            return
        try:
            self._on_resume(project_id, how)
        except Exception:  # a report must never stop the worker
            log.warning("resume report failed", project_id=project_id, exc_info=True)

    def run(self, stop: threading.Event, *, until_idle: bool = False) -> None:
        """Works until `stop` is set or, with `until_idle`, until nothing has been queued or
        running anywhere for `IDLE_GRACE` seconds (so a run queued meanwhile is not missed)."""
        idle_since: float | None = None
        while not stop.wait(0.5):
            if not until_idle:
                continue
            if not self.idle():
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > IDLE_GRACE:
                return

    def idle(self) -> bool:
        """No workflow is queued or running anywhere, and none waits for takeover."""
        active = DBOS.list_workflows(
            status=list(ACTIVE_STATES), load_input=False, load_output=False
        )
        return not active

    def _running_here(self) -> bool:
        """A workflow of this executor is still running (not yet checkpointed as done)."""
        mine = DBOS.list_workflows(
            status="PENDING", executor_id=self.executor_id, load_input=False, load_output=False
        )
        return bool(mine)

    def _drain(self) -> None:
        """Waits up to DRAIN_SECONDS for this process's runs to record their end, so DBOS is
        never destroyed under a run that is about to write (that run would die with "System
        database accessed before DBOS was launched"); whatever is left is handed over."""
        deadline = time.monotonic() + DRAIN_SECONDS
        while self._running_here() and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
        if not self.shared:
            self._drain()
        busy = not self.idle() if self.shared else self._running_here()
        DBOS.destroy(workflow_completion_timeout_sec=0)
        set_current_app(None)
        with self.app.session() as session:
            leases.release(session, self.executor_id, hand_over=busy)
        log.info("worker stopped", executor_id=self.executor_id)
