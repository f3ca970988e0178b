"""Repair: run a project's steps again as its next run, so whatever is missing or failed
(the repository, its first commit, any environment's objects) is done again and whatever
exists is kept. A healthy project comes out unchanged (applies are no-ops, the branch is
kept); a failed or degraded creation carries on past the step that failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slipway import store
from slipway.bootstrap import App
from slipway.domain.actors import OPERATOR, Actor
from slipway.domain.model import ProjectStatus, ResourceStatus, Step
from slipway.domain.text import t
from slipway.pipeline.runtime import Worker, runs_in_progress
from slipway.pipeline.workflow import workflow_id_for
from slipway.service._runs import refuse_while_busy
from slipway.service.reading import last_sequence
from slipway.service.views import RunStarted
from slipway.service.visibility import visible_project
from slipway.service.workers import submit

# Resources not settled (pending, reconciling) for this long count as stuck.
STUCK_AFTER_SECONDS = 900.0
_BROKEN = (ResourceStatus.FAILED, ResourceStatus.MISSING)
_UNSETTLED = (ResourceStatus.PENDING, ResourceStatus.RECONCILING)


def repair_project(
    app: App, name: str, *, worker: Worker | None = None, actor: Actor = OPERATOR
) -> RunStarted:
    """Starts the project's next run; `Conflict` while another of its runs is under way or
    it is being deleted. Runs in `worker` when given, else in whichever worker takes it."""
    with app.session() as session:
        project = visible_project(session, name, actor)
        project_id, run, workflow = project.id, project.run + 1, project.workflow_id
        status = project.status
    refuse_while_busy(app, name, status=status, workflow=workflow, step=Step.CREATE_PROJECT)
    after = last_sequence(app, name, actor=actor)
    workflow_id = workflow_id_for(project_id, run)
    with app.session() as session:
        store.start_run(
            session,
            project_id=project_id,
            status=ProjectStatus.INITIALIZING,
            workflow_id=workflow_id,
            queued=(
                Step.CREATE_PROJECT,
                t("repair of project {name} queued (run {run})", name=name, run=run),
            ),
        )
    submit(app, project_id, worker, run)
    return RunStarted(name, run, workflow_id, after)


def stuck_projects(
    app: App, *, stuck_after: float = STUCK_AFTER_SECONDS, actor: Actor = OPERATOR
) -> list[str]:
    """Projects `actor` may see that need a repair: failed or degraded; with a resource
    failed or missing; with one pending or reconciling for longer than `stuck_after` seconds;
    or left initializing by a run that no longer exists. Never those being deleted."""
    cutoff = datetime.now(UTC) - timedelta(seconds=stuck_after)
    stuck: list[str] = []
    unsure: dict[str, str] = {}  # initializing: stuck only if no run is under way
    with app.session() as session:
        # Every project with its resources in a fixed number of queries, not one per project.
        for rows in store.project_overviews(session):
            project = rows.project
            if project.status is ProjectStatus.DELETING or not actor.may_see(project.user_id):
                continue
            if project.status in (ProjectStatus.FAILED, ProjectStatus.DEGRADED):
                stuck.append(project.name)
                continue
            if project.status is not ProjectStatus.ACTIVE:
                if project.workflow_id and project.updated_at < cutoff:
                    unsure[project.name] = project.workflow_id
                continue
            if any(
                r.status in _BROKEN or (r.status in _UNSETTLED and r.updated_at < cutoff)
                for r in rows.resources
            ):
                stuck.append(project.name)
    if unsure:
        running = set(runs_in_progress(app.settings, list(unsure.values())))
        stuck += [name for name, workflow in unsure.items() if workflow not in running]
    return sorted(stuck)
