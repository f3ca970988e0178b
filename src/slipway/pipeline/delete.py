"""The durable delete run (DBOS): Kustomizations first (Flux prunes the workloads), then the
other objects and the namespaces, then the repository or only its deploy key, then the rows.

Each step is idempotent and checkpointed, so a run interrupted anywhere is finished by the
next worker that recovers it, or by running the delete again (`resume`). A step that fails
leaves the project `deleting` with its failed step and message, and a final `failed` event:
`project list --status deleting` shows it, and the next delete starts a new run that redoes
what is left. The last step emits the final `deleted` event, then deletes the rows.

Registered with DBOS at import: `slipway.pipeline` imports this module, so every worker can
recover a delete run.
"""

from __future__ import annotations

import time
from typing import Any, Final, TypeVar

from dbos import DBOS, SetWorkflowID

from slipway import store
from slipway.bootstrap import App
from slipway.domain.model import EventLevel, ProjectStatus, Step
from slipway.domain.text import restore
from slipway.pipeline import delete_steps
from slipway.pipeline.context import current_app
from slipway.pipeline.progress import report
from slipway.pipeline.rotate import ROTATE_PREFIX
from slipway.pipeline.workflow import Outcome, run_step
from slipway.store import leases

DELETE_WORKFLOW_NAME: Final = "slipway.delete_project"
DELETE_PREFIX: Final = "slipway-delete-"
# The project's creation and repair runs: `slipway-init-<id>[-r<run>]` does the work and
# `slipway-settle-<id>[...]` waits for Flux.
RUN_PREFIXES: Final = ("slipway-init-", "slipway-settle-", ROTATE_PREFIX)
ACTIVE: Final = ("PENDING", "ENQUEUED")
T = TypeVar("T")


def delete_workflow_id(project_id: int, run: int) -> str:
    """One delete run per project run: a second start of the same run attaches to it."""
    return f"{DELETE_PREFIX}{project_id}-{run}"


def is_delete_workflow(workflow_id: str | None) -> bool:
    return bool(workflow_id) and str(workflow_id).startswith(DELETE_PREFIX)


@DBOS.step(name="slipway.delete_workloads")
def delete_workloads_step(project_id: int) -> Outcome:
    return run_step(
        Step.DELETE_WORKLOADS,
        project_id,
        lambda: delete_steps.delete_workloads(current_app(), project_id),
    )


@DBOS.step(name="slipway.delete_objects")
def delete_objects_step(project_id: int) -> Outcome:
    return run_step(
        Step.DELETE_OBJECTS,
        project_id,
        lambda: delete_steps.delete_objects(current_app(), project_id),
    )


@DBOS.step(name="slipway.delete_repository")
def delete_repository_step(project_id: int, delete_repo: bool) -> Outcome:
    return run_step(
        Step.DELETE_REPOSITORY,
        project_id,
        lambda: delete_steps.delete_repository(current_app(), project_id, delete_repo),
    )


@DBOS.step(name="slipway.delete_records")
def delete_records_step(project_id: int) -> Outcome:
    return run_step(
        Step.DELETE_RECORDS,
        project_id,
        lambda: delete_steps.delete_records(current_app(), project_id),
    )


@DBOS.step(name="slipway.delete_failed")
def delete_failed_step(project_id: int, step: str, text: str, text_json: object = None) -> None:
    """The run ends failed: the project stays `deleting`, with the step and the message
    (`text_json`: its template, so each face shows it in its reader's language)."""
    app = current_app()
    message = restore(text_json, text)
    with app.session() as session:
        project = store.get_project_by_id(session, project_id=project_id)
        if project is None or project.failed_step is not None:
            return  # gone, or recorded before a crash
        store.set_project_status(
            session,
            project_id=project_id,
            status=ProjectStatus.DELETING,
            failed_step=step,
            error_message=message,
        )
    report(app, project_id, Step(step), 0.0, message, level=EventLevel.ERROR, final="failed")


@DBOS.workflow(name=DELETE_WORKFLOW_NAME)
def delete_project(project_id: int, delete_repo: bool) -> str:
    """Runs the delete steps in order; returns "deleted", or "failed" with the failure
    recorded on the project."""
    result = delete_workloads_step(project_id)
    if result["ok"]:
        result = delete_objects_step(project_id)
    if result["ok"]:
        result = delete_repository_step(project_id, delete_repo)
    if result["ok"]:
        result = delete_records_step(project_id)
    if not result["ok"]:
        error = result["error"] or {}
        step = str(error.get("step") or Step.DELETE_WORKLOADS.value)
        delete_failed_step(
            project_id, step, str(error.get("text") or "unknown error"), error.get("text_json")
        )
        return "failed"
    # The project's workflow IDs name its row ID, which SQLite may hand out again: forget
    # its other runs (creation, repairs, earlier deletes), so a project recorded later under
    # that ID starts afresh and its own delete run 2 is not this project's finished one.
    earlier = [w.workflow_id for w in _project_runs(project_id, deletes=True)]
    DBOS.delete_workflows([w for w in earlier if w != DBOS.workflow_id])
    return "deleted"


def _project_runs(project_id: int, *, deletes: bool = False) -> list[Any]:
    """DBOS's records of the project's creation, repair and rotation runs (and its delete
    runs)."""
    prefixes = (*RUN_PREFIXES, DELETE_PREFIX) if deletes else RUN_PREFIXES
    found = DBOS.list_workflows(
        workflow_id_prefix=[f"{prefix}{project_id}" for prefix in prefixes],
        load_input=False,
        load_output=False,
    )
    exact = tuple(f"{prefix}{project_id}" for prefix in prefixes)
    runs = tuple(f"{e}-" for e in exact)
    return [w for w in found if w.workflow_id in exact or w.workflow_id.startswith(runs)]


# -- starting and resuming (in a process whose worker is running) ---------------------------


def run_state(workflow_id: str | None) -> str | None:
    """DBOS's status of a run (PENDING, ENQUEUED, SUCCESS, ERROR...), None when unknown."""
    if not workflow_id:
        return None
    status = DBOS.get_workflow_status(workflow_id)
    return None if status is None else str(status.status)


def creation_in_flight(project_id: int) -> bool:
    """Whether the project's creation (or a repair: any run that is not a delete) still
    runs, or waits for Flux."""
    return any(str(w.status) in ACTIVE for w in _project_runs(project_id))


def start(app: App, project_id: int, *, delete_repo: bool) -> tuple[str, int]:
    """Moves the project to a new run in `deleting` and starts its delete workflow here;
    returns the workflow ID and the run number."""
    with app.session() as session:
        project = store.get_project_by_id(session, project_id=project_id)
        assert project is not None
        workflow_id = delete_workflow_id(project_id, project.run + 1)
        run = store.start_run(
            session, project_id=project_id, status=ProjectStatus.DELETING, workflow_id=workflow_id
        )
    with SetWorkflowID(workflow_id):
        DBOS.start_workflow(delete_project, project_id, delete_repo)
    return workflow_id, run


def resume(app: App, workflow_id: str, *, patience: float) -> bool:
    """Finishes a delete run left PENDING by a process that died: once that executor's lease
    has expired (waiting up to `patience` s), this worker claims it and DBOS recovers its
    runs here. False when a live process still runs it (follow it instead) or another
    survivor claimed it first."""
    status = DBOS.get_workflow_status(workflow_id)
    if status is None or status.status != "PENDING" or not status.executor_id:
        return False
    owner = status.executor_id
    deadline = time.monotonic() + patience
    while True:
        with app.session() as session:
            alive = owner in leases.live_executors(session)
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if alive:
        return False
    with app.session() as session:
        if not leases.claim(session, owner, app.settings.lease_seconds):
            return False
    DBOS._recover_pending_workflows([owner])
    return True


def outcome(workflow_id: str) -> Any:
    """The run's result once it has ended ("deleted" or "failed")."""
    return DBOS.retrieve_workflow(workflow_id).get_result()
