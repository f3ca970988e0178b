"""The durable deploy-key rotation run (DBOS): the project's next run, in three checkpointed
steps: a new key on the forge beside the old ones, every environment's Secret carrying it
with each GitRepository Ready on it, then the old keys off the forge. Flux has a working key
at every moment, so a run interrupted anywhere is finished by the next worker that recovers
it (each step is idempotent: `access_steps` finds what an earlier attempt did).

The run holds the project `initializing`, as a repair does, so nothing else starts on it
meanwhile; its end puts back the status the project had before, and a final `completed` or
`failed` event. Registered with DBOS at import: `slipway.pipeline` imports this module, so
every worker can run and recover a rotation.
"""

from __future__ import annotations

from typing import Any, Final

from dbos import DBOS, SetWorkflowID

from slipway import store
from slipway.bootstrap import App
from slipway.domain.model import EventLevel, ProjectStatus, Step
from slipway.domain.text import restore, t, to_json
from slipway.pipeline import access_steps
from slipway.pipeline.context import current_app
from slipway.pipeline.progress import report
from slipway.pipeline.runtime import enqueue
from slipway.pipeline.workflow import Outcome, run_step

ROTATE_WORKFLOW_NAME: Final = "slipway.rotate_deploy_key"
ROTATE_PREFIX: Final = "slipway-rotate-"


def rotate_workflow_id(project_id: int, run: int) -> str:
    """One rotation per project run: a second start of the same run attaches to it."""
    return f"{ROTATE_PREFIX}{project_id}-{run}"


def prior_state(project: Any) -> dict[str, Any]:
    """What the project looked like before the run (status, failed step, error as its
    template): put back when the rotation ends, since starting a run clears it."""
    return {
        "status": project.status.value,
        "failed_step": project.failed_step,
        "text": project.error_message,
        "text_json": to_json(project.error_text) if project.error_message else None,
    }


@DBOS.step(name="slipway.grant_new_key")
def grant_new_key_step(project_id: int, old_key_ids: list[int]) -> Outcome:
    return run_step(
        Step.GRANT_NEW_KEY,
        project_id,
        lambda: access_steps.grant_new_key(current_app(), project_id, old_key_ids),
    )


@DBOS.step(name="slipway.apply_new_key")
def apply_new_key_step(project_id: int) -> Outcome:
    def apply() -> int:
        app = current_app()
        return access_steps.apply_new_key(app, project_id, within=app.settings.ready_timeout)

    return run_step(Step.APPLY_NEW_KEY, project_id, apply)


@DBOS.step(name="slipway.remove_old_keys")
def remove_old_keys_step(project_id: int, old_key_ids: list[int]) -> Outcome:
    return run_step(
        Step.REMOVE_OLD_KEYS,
        project_id,
        lambda: access_steps.remove_old_keys(current_app(), project_id, old_key_ids),
    )


@DBOS.step(name="slipway.rotation_ended")
def rotation_ended_step(
    project_id: int, run: int, prior: dict[str, Any], error: dict[str, Any] | None
) -> None:
    """The project's status from before the run back (with the rotation's failure, if it
    failed: the old key still works then), and the run's final event."""
    app = current_app()
    with app.session() as session:
        project = store.get_project_by_id(session, project_id=project_id)
        latest = store.latest_event(session, project_id=project_id)
        if project is None or project.run != run:
            return  # gone, or a later run took over
        if latest is not None and latest.run == run and latest.final is not None:
            return  # recorded before a crash
        name = project.name
        if error is None:
            store.set_project_status(
                session,
                project_id=project_id,
                status=str(prior["status"]),
                failed_step=prior.get("failed_step"),
                error_message=restore(prior.get("text_json"), prior["text"])
                if prior.get("text")
                else None,
            )
        else:
            step = str(error.get("step") or Step.GRANT_NEW_KEY.value)
            message = restore(error.get("text_json"), str(error.get("text") or "unknown error"))
            store.set_project_status(
                session,
                project_id=project_id,
                status=str(prior["status"]),
                failed_step=step,
                error_message=message,
            )
    if error is None:
        report(
            app,
            project_id,
            Step.REMOVE_OLD_KEYS,
            1.0,
            t("deploy key of {name} rotated", name=name),
            final="completed",
        )
    else:
        report(app, project_id, Step(step), 0.0, message, level=EventLevel.ERROR, final="failed")


@DBOS.workflow(name=ROTATE_WORKFLOW_NAME)
def rotate_deploy_key(
    project_id: int, run: int, old_key_ids: list[int], prior: dict[str, Any]
) -> dict[str, Any]:
    """Runs the rotation steps in order; returns {"final": "completed"} or {"final":
    "failed", "error": the failed step's error}."""
    result = grant_new_key_step(project_id, old_key_ids)
    if result["ok"]:
        result = apply_new_key_step(project_id)
    if result["ok"]:
        result = remove_old_keys_step(project_id, old_key_ids)
    error = None if result["ok"] else (result["error"] or {})
    rotation_ended_step(project_id, run, prior, error)
    return {"final": "completed" if error is None else "failed", "error": error}


# -- starting and following ------------------------------------------------------------------


def start_rotation_run(
    app: App, project_id: int, *, old_key_ids: list[int], prior: dict[str, Any], here: bool
) -> tuple[str, int]:
    """Moves the project to its next run (`initializing`) and starts the rotation: in this
    process's worker when `here`, else queued for whichever worker takes it. Returns the
    workflow ID and the run number."""
    with app.session() as session:
        project = store.get_project_by_id(session, project_id=project_id)
        assert project is not None
        workflow_id = rotate_workflow_id(project_id, project.run + 1)
        queued = t(
            "rotation of the deploy key of {name} queued (run {run})",
            name=project.name,
            run=project.run + 1,
        )
        run = store.start_run(
            session,
            project_id=project_id,
            status=ProjectStatus.INITIALIZING,
            workflow_id=workflow_id,
            queued=(Step.GRANT_NEW_KEY, queued),
        )
    args = (project_id, run, old_key_ids, prior)
    if here:
        with SetWorkflowID(workflow_id):
            DBOS.start_workflow(rotate_deploy_key, *args)
        return workflow_id, run
    enqueue(app.settings, ROTATE_WORKFLOW_NAME, workflow_id, *args)
    return workflow_id, run


def worker_here() -> bool:
    """Whether a worker runs in this process (a rotation can start in it directly)."""
    try:
        current_app()
    except RuntimeError:
        return False
    return True


def outcome(workflow_id: str) -> dict[str, Any]:
    """The run's result once it has ended (see `rotate_deploy_key`)."""
    result: dict[str, Any] = DBOS.retrieve_workflow(workflow_id).get_result()
    return result
