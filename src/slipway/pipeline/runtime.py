"""A worker: DBOS launched under a unique executor ID, a lease renewed in Slipway's database,
and takeover of the workflows of executors whose lease expired (see `store.leases`).

The service layer starts one for `project create --wait`, `slipway worker` and the demo; a
process that only submits uses `submit_initialization`, which enqueues without launching.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from dbos import DBOS, DBOSClient, SetWorkflowID

from slipway import __version__, store
from slipway.bootstrap import App
from slipway.config import Settings
from slipway.domain.model import ProjectStatus
from slipway.pipeline.context import set_current_app
from slipway.pipeline.workflow import (
    INITIALIZE_QUEUE,
    SETTLE_CONCURRENCY,
    SETTLE_QUEUE,
    WORKFLOW_NAME,
    initialize_project,
    workflow_id_for,
)
from slipway.store import leases
from slipway.store.engine import private_database_file

# Workers only run workflows enqueued for their own application version: pin it to the
# package version so the CLI, the API and every worker of one release agree.
WORKFLOW_VERSION = __version__
ACTIVE_STATES = ("PENDING", "ENQUEUED")
IDLE_GRACE = 1.0
log = structlog.get_logger(__name__)


def system_database_url(settings: Settings) -> str:
    """DBOS's own database: beside Slipway's SQLite file, or the same PostgreSQL database."""
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        path = settings.data_dir / "workflows.db"
        private_database_file(path)  # workflow inputs and outputs: owner only, like ours
        return f"sqlite:///{path}"
    return url


def submit_initialization(settings: Settings, project_id: int) -> str:
    """Enqueues the project's workflow without running a worker in this process.

    The client never creates DBOS's tables, and on a fresh install no worker has run yet, so
    the system database is migrated first (a no-op when it is up to date)."""
    url = system_database_url(settings)
    DBOS.migrate(url)
    client = DBOSClient(system_database_url=url)
    try:
        client.enqueue(
            {
                "workflow_name": WORKFLOW_NAME,
                "queue_name": INITIALIZE_QUEUE,
                "workflow_id": workflow_id_for(project_id),
                "app_version": WORKFLOW_VERSION,
            },
            project_id,
        )
    finally:
        client.destroy()
    return workflow_id_for(project_id)


class Worker:
    """Runs queued and recovered initialization workflows in this process until `stop()`."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.executor_id = leases.new_executor_id()
        self._ttl = app.settings.lease_seconds
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._queue: Any = None

    def start(self) -> Worker:
        with self.app.session() as session:
            leases.acquire(session, self.executor_id, self._ttl)
        set_current_app(self.app)
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
        DBOS.launch()
        self._queue = DBOS.register_queue(
            INITIALIZE_QUEUE,
            worker_concurrency=self.app.settings.worker_concurrency,
            polling_interval_sec=0.2,
        )
        DBOS.register_queue(
            SETTLE_QUEUE, worker_concurrency=SETTLE_CONCURRENCY, polling_interval_sec=0.2
        )
        self.take_over()
        self.submit_orphans()
        self._heartbeat = threading.Thread(target=self._beat, name="slipway-lease", daemon=True)
        self._heartbeat.start()
        log.info("worker started", executor_id=self.executor_id)
        return self

    def submit(self, project_id: int) -> str:
        workflow_id = workflow_id_for(project_id)
        with SetWorkflowID(workflow_id):
            self._queue.enqueue(initialize_project, project_id)
        return workflow_id

    def _beat(self) -> None:
        while not self._stop.wait(self._ttl / 3):
            try:
                with self.app.session() as session:
                    if not leases.renew(session, self.executor_id, self._ttl):
                        # Presumed dead by others (a long pause): re-register and carry on;
                        # DBOS's queue handoff keeps a workflow from running twice.
                        leases.acquire(session, self.executor_id, self._ttl)
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
        return orphans

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

    def stop(self) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
        busy = not self.idle()
        DBOS.destroy(workflow_completion_timeout_sec=0)
        set_current_app(None)
        with self.app.session() as session:
            leases.release(session, self.executor_id, hand_over=busy)
        log.info("worker stopped", executor_id=self.executor_id)
