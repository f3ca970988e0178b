"""The durable initialization workflow (DBOS). Each step is checkpointed: after a crash the
next worker resumes at the step that was in flight and re-runs it (steps are idempotent).

Two workflows: `initialize_project` does the work that calls the forge and the cluster, on a
queue whose concurrency is the worker's (`SLIPWAY_WORKER_CONCURRENCY`); its last act is to
start `settle_project` as its child in the same process, which waits for Flux to report Ready
without a queue slot, so a worker slot is never held while Flux works (and a `create --wait`
process never picks up another project's wait from a shared queue).

A repair is the same workflow again under the ID of the project's next run: every step is
idempotent, so what exists is found and kept, and what is missing or failed is done again.

Step arguments and results are recorded by DBOS in clear, so they carry IDs and plain
facts only, never a token. Steps return `Outcome` dicts instead of raising, so a failure is
recorded once, with its step, and never needs unpickling of an exception.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from concurrent.futures import CancelledError
from typing import Any, TypedDict, TypeVar

from dbos import DBOS, SetWorkflowID

from slipway import metrics, store
from slipway.domain.errors import Conflict, SlipwayError
from slipway.domain.model import EventLevel, ProjectStatus, Step
from slipway.domain.text import Text, restore, t, to_json
from slipway.pipeline import access_steps, gitops_steps, steps
from slipway.pipeline.context import current_app
from slipway.pipeline.progress import report
from slipway.pipeline.retrying import with_retries

WORKFLOW_NAME = "slipway.initialize_project"
SETTLE_WORKFLOW_NAME = "slipway.settle_project"
INITIALIZE_QUEUE = "slipway-initialize"
T = TypeVar("T")
_RUN_ID = re.compile(r"slipway-(?:(?:init|settle)-(\d+)(?:-r\d+)?|(?:delete|rotate)-(\d+)-\d+)")


def workflow_id_for(project_id: int, run: int = 1) -> str:
    """One workflow per project run: a second submission attaches to the first."""
    return f"slipway-init-{project_id}" + (f"-r{run}" if run > 1 else "")


def settle_workflow_id(initialize_id: str) -> str:
    """The settle child of the initialization (or repair) workflow `initialize_id`."""
    return initialize_id.replace("slipway-init-", "slipway-settle-", 1)


def project_of_workflow(workflow_id: str) -> int | None:
    """The project a creation, repair, settle, delete or rotation workflow ID belongs to
    (else None)."""
    matched = _RUN_ID.fullmatch(workflow_id)
    return int(matched.group(1) or matched.group(2)) if matched else None


class Outcome(TypedDict):
    ok: bool
    value: Any
    error: dict[str, Any] | None


# Fault injection for crash tests: the named step does all its work, then the process dies
# before DBOS checkpoints the step's result, the hardest moment for idempotency.
KILL_AT_STEP_ENV = "SLIPWAY_FAULT_KILL_AT_STEP"


def _maybe_die(step: Step) -> None:
    if os.environ.get(KILL_AT_STEP_ENV) == step.value:
        os.kill(os.getpid(), signal.SIGKILL)


def _let_go_hint(project_id: int) -> Text | None:
    """For a project already created here that another installation has since adopted: a
    repair cannot take it back (`--adopt` is create's), so say how to let it go."""
    with current_app().session() as session:
        project = store.get_project_by_id(session, project_id=project_id)
    if project is None or not steps.is_repair(project):
        return None
    return t(
        "another Slipway installation took this project over (`--adopt`): "
        "`slipway project delete {name}` here lets it go (only this installation's records "
        "and objects are deleted); `slipway project create {name} --adopt` after it takes "
        "it back",
        name=project.name,
    )


def run_step(step: Step, project_id: int, call: Callable[[], T]) -> Outcome:
    """Runs a step of any run (retrying outages, see `retrying`) and returns its outcome;
    its duration, and its failure's cause, go to `slipway.metrics`."""
    started = time.monotonic()
    try:
        value = with_retries(current_app(), project_id, step, call)
        _maybe_die(step)
        metrics.observe_step(step.value, time.monotonic() - started)
        return {"ok": True, "value": value, "error": None}
    except CancelledError:
        raise  # the process is shutting down: the step is not done, and not failed either
    except SlipwayError as exc:
        if exc.step is None:
            exc.step = step.value
        if isinstance(exc, Conflict) and exc.adoptable:
            exc.hint = _let_go_hint(project_id) or exc.hint
        metrics.observe_step(step.value, time.monotonic() - started, cause=type(exc).__name__)
        error = {**exc.to_dict(), "text": str(exc), "text_json": to_json(exc.text())}
        return {"ok": False, "value": None, "error": error}
    except Exception as exc:  # a bug: still end the project with a message, not a hang
        metrics.observe_step(step.value, time.monotonic() - started, cause=metrics.INTERNAL)
        text = t("internal error in {step}: {error}", step=step.value, error=type(exc).__name__)
        error = {"step": step.value, "text": str(text), "text_json": to_json(text)}
        return {"ok": False, "value": None, "error": error}


@DBOS.step(name="slipway.create_project")
def create_project_step(project_id: int) -> Outcome:
    return run_step(Step.CREATE_PROJECT, project_id, lambda: steps.start(current_app(), project_id))


@DBOS.step(name="slipway.load_template")
def load_template_step(project_id: int) -> Outcome:
    return run_step(
        Step.LOAD_TEMPLATE, project_id, lambda: steps.load_template(current_app(), project_id)
    )


@DBOS.step(name="slipway.create_environments")
def create_environments_step(project_id: int) -> Outcome:
    return run_step(
        Step.CREATE_ENVIRONMENTS,
        project_id,
        lambda: steps.create_environments(current_app(), project_id),
    )


@DBOS.step(name="slipway.create_repository")
def create_repository_step(project_id: int) -> Outcome:
    return run_step(
        Step.CREATE_REPOSITORY,
        project_id,
        lambda: steps.create_repository(current_app(), project_id),
    )


@DBOS.step(name="slipway.push_template")
def push_template_step(project_id: int, repo: dict[str, Any]) -> Outcome:
    def push() -> dict[str, str]:
        app = current_app()
        grant = access_steps.granting(app, project_id, repo)
        return steps.push_template(app, project_id, repo, beside=grant)

    return run_step(Step.PUSH_TEMPLATE, project_id, push)


@DBOS.step(name="slipway.record_repository")
def record_repository_step(
    project_id: int, repo: dict[str, Any], commit: dict[str, str]
) -> Outcome:
    return run_step(
        Step.RECORD_REPOSITORY,
        project_id,
        lambda: steps.record_repository(current_app(), project_id, repo, commit),
    )


@DBOS.step(name="slipway.deploy_key")
def deploy_key_step(project_id: int, repo: dict[str, Any]) -> Outcome:
    return run_step(
        Step.DEPLOY_KEY,
        project_id,
        lambda: access_steps.deploy_key(current_app(), project_id, repo),
    )


@DBOS.step(name="slipway.gitops_resources")
def gitops_resources_step(project_id: int) -> Outcome:
    return run_step(
        Step.GITOPS_RESOURCES,
        project_id,
        lambda: gitops_steps.gitops_resources(current_app(), project_id),
    )


@DBOS.step(name="slipway.finalize")
def finalize_step(project_id: int, applied: dict[str, str | None]) -> Outcome:
    return run_step(
        Step.FINALIZE, project_id, lambda: gitops_steps.finalize(current_app(), project_id, applied)
    )


@DBOS.step(name="slipway.settle_failure")
def settle_failure_step(
    project_id: int, status: str, step: str, text: str, text_json: object = None
) -> None:
    """Records a failed (or degraded) end: project status, failed step, message, final event
    (`text_json`: the message's template, so each face shows it in its reader's language)."""
    app = current_app()
    if gitops_steps.settled_status(app, project_id) is not None:
        return  # already recorded before a crash
    message = restore(text_json, text)
    with app.session() as session:
        store.set_project_status(
            session, project_id=project_id, status=status, failed_step=step, error_message=message
        )
    final = "failed" if status == ProjectStatus.FAILED.value else "degraded"
    report(app, project_id, Step(step), 0.0, message, level=EventLevel.ERROR, final=final)


@DBOS.workflow(name=WORKFLOW_NAME)
def initialize_project(project_id: int) -> str:
    """Runs the steps in order; returns the project's final status, or `settling` once the
    wait for Flux is handed to `settle_project`."""
    result = create_project_step(project_id)
    if result["ok"]:
        result = load_template_step(project_id)
    if result["ok"]:
        result = create_environments_step(project_id)
    repo: dict[str, Any] = {}
    if result["ok"]:
        result = create_repository_step(project_id)
        repo = result["value"] or {}
    if result["ok"]:
        result = push_template_step(project_id, repo)
    if result["ok"]:
        result = record_repository_step(project_id, repo, result["value"])
    if not result["ok"]:
        return _settle(project_id, result, ProjectStatus.FAILED)
    # From here on the repository exists: a problem degrades the project, it does not fail.
    result = deploy_key_step(project_id, repo)
    if result["ok"]:
        result = gitops_resources_step(project_id)
    if not result["ok"]:
        return _settle(project_id, result, ProjectStatus.DEGRADED)
    # Recorded as this workflow's child: after a crash DBOS does not start it twice.
    with SetWorkflowID(settle_workflow_id(DBOS.workflow_id or workflow_id_for(project_id))):
        DBOS.start_workflow(settle_project, project_id, result["value"])
    return "settling"


@DBOS.workflow(name=SETTLE_WORKFLOW_NAME)
def settle_project(project_id: int, applied: dict[str, str | None]) -> str:
    """Waits for Flux (finalize) and returns the project's final status."""
    result = finalize_step(project_id, applied)
    if not result["ok"]:
        return _settle(project_id, result, ProjectStatus.DEGRADED)
    return str(result["value"])


def _settle(project_id: int, result: Outcome, status: ProjectStatus) -> str:
    error = result["error"] or {}
    settle_failure_step(
        project_id,
        status.value,
        str(error.get("step") or Step.CREATE_PROJECT.value),
        str(error.get("text") or "unknown error"),
        error.get("text_json"),
    )
    return status.value
