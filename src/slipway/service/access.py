"""Who may read a project's repository: rotating its read-only deploy key, as a durable run
(`pipeline.rotate`) with progress events, like a repair."""

from __future__ import annotations

import asyncio

from slipway.bootstrap import App
from slipway.domain import errors
from slipway.domain.actors import OPERATOR, Actor
from slipway.domain.errors import Conflict, SlipwayError
from slipway.domain.model import GitAuthMethod, Step
from slipway.domain.text import restore, t
from slipway.pipeline import access_steps
from slipway.pipeline import rotate as rotation
from slipway.pipeline.runtime import Worker
from slipway.service._runs import ENDED, refuse_while_busy
from slipway.service.reading import follow_events, last_sequence, show_project
from slipway.service.views import ProjectView, RunStarted
from slipway.service.visibility import visible_project

RUN_END_SECONDS = 30.0


def start_rotation(
    app: App, name: str, *, worker: Worker | None = None, actor: Actor = OPERATOR
) -> RunStarted:
    """Starts the project's next run: a new deploy key on the repository and in every
    environment's Secret, Flux Ready with it, then the old key off the forge. Runs in this
    process's `worker` when given, else in whichever worker takes it. `Conflict` while
    another run of the project is under way; `InvalidInput` for a `--git-auth token`
    project and `NotFound` without a repository, before anything changes."""
    return _start(app, name, actor=actor, here=worker is not None)


def _start(app: App, name: str, *, actor: Actor, here: bool) -> RunStarted:
    with app.session() as session:
        project = visible_project(session, name, actor)
        project_id, status, workflow = project.id, project.status, project.workflow_id
        prior = rotation.prior_state(project)
    refuse_while_busy(app, name, status=status, workflow=workflow, step=Step.GRANT_NEW_KEY)
    if status not in ENDED:
        raise Conflict(
            t("project {name} has not finished its creation", name=name),
            step=Step.GRANT_NEW_KEY.value,
            system="slipway",
            hint=t("repair it first: `slipway project repair {name}`", name=name),
        )
    old_key_ids = access_steps.rotation_start(app, project_id)
    after = last_sequence(app, name, actor=actor)
    workflow_id, run = rotation.start_rotation_run(
        app, project_id, old_key_ids=old_key_ids, prior=prior, here=here
    )
    return RunStarted(name, run, workflow_id, after)


def has_deploy_key(app: App, name: str, *, actor: Actor = OPERATOR) -> bool:
    """Whether Flux reads the project's repository with a deploy key (`--git-auth ssh`), the
    only kind a rotation applies to; the web page offers it only then."""
    with app.session() as session:
        return visible_project(session, name, actor).git_auth is GitAuthMethod.SSH


async def rotate_credentials(app: App, name: str, *, actor: Actor = OPERATOR) -> ProjectView:
    """`start_rotation`, run in this process (its worker, or a private one for the while),
    followed to its end. Returns the project; raises the failed step's error."""
    if rotation.worker_here():
        return await _rotate_here(app, name, actor)
    # DBOS refuses its blocking calls on a running event loop: the worker starts and stops
    # in a thread.
    worker = await asyncio.to_thread(Worker(app, shared=False).start)
    try:
        return await _rotate_here(app, name, actor)
    finally:
        await asyncio.to_thread(worker.stop)


async def _rotate_here(app: App, name: str, actor: Actor) -> ProjectView:
    started = await asyncio.to_thread(_start, app, name, actor=actor, here=True)
    async for _ in follow_events(app, name, after=started.after_sequence, actor=actor):
        pass  # until the run's final event
    # The run's last act follows its final event: let it end before a private worker stops.
    async with asyncio.timeout(RUN_END_SECONDS):
        result = await asyncio.to_thread(rotation.outcome, started.workflow_id)
    if result.get("error") is not None:
        raise _error(result["error"])
    return show_project(app, name, actor=actor)


_KINDS: dict[str, type[SlipwayError]] = {
    kind.__name__: kind
    for kind in (
        errors.NotFound,
        errors.Conflict,
        errors.ExternalError,
        errors.ForgeError,
        errors.TokenRejected,
        errors.ClusterError,
    )
}


def _error(error: dict[str, object]) -> SlipwayError:
    """The failed step's error again, as the caller of a rotation in-process saw it before
    it became a run."""
    kind = _KINDS.get(str(error.get("type")), SlipwayError)
    message = error.get("message")
    if not isinstance(message, str):
        message = restore(error.get("text_json"), str(error.get("text") or "unknown error"))
    hint = error.get("hint")
    system = error.get("system")
    return kind(
        message,
        step=str(error.get("step") or Step.GRANT_NEW_KEY.value),
        system=system if isinstance(system, str) else None,
        hint=hint if isinstance(hint, str) else None,
    )
