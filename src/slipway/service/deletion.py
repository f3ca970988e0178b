"""Deleting a project: check before anything is deleted, start (or resume) its durable delete
run in this process's worker, and follow the run's events to its end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict, dataclass

from slipway import store
from slipway.bootstrap import App
from slipway.domain.actors import OPERATOR, Actor
from slipway.domain.errors import Conflict
from slipway.domain.model import ProgressEvent, ProjectStatus, Step
from slipway.domain.text import t
from slipway.gitops.teardown import check_teardown
from slipway.pipeline import delete as deletion
from slipway.pipeline.delete_steps import claims
from slipway.pipeline.runtime import Worker
from slipway.service._event_bell import event_bell
from slipway.service.visibility import visible_project

RUN_END_SECONDS = 30.0


@dataclass(frozen=True)
class DeletionView:
    """How a delete ended: `deleted`, or `failed` with the step and the message (the project
    then stays `deleting`; running the delete again resumes)."""

    project: str
    outcome: str
    delete_repo: bool
    run: int
    failed_step: str | None = None
    error_message: str | None = None

    def to_dict(self) -> dict[str, str | bool | int | None]:
        return asdict(self)


@dataclass(frozen=True)
class DeleteStarted:
    """A delete run under way: follow the project's events after `after_sequence` (the run's
    events end with its final one, or the project is gone: deleted)."""

    project: str
    run: int
    workflow_id: str
    delete_repo: bool
    after_sequence: int
    resumed: bool

    def to_dict(self) -> dict[str, str | bool | int]:
        return asdict(self)


async def start_delete(
    app: App, name: str, *, delete_repo: bool, actor: Actor = OPERATOR
) -> DeleteStarted:
    """Checks, then starts (or resumes) the project's durable delete run in this process's
    worker, which must be running (the CLI's private one, or `serve`'s), and returns at once.

    Raises before anything is deleted: `NotFound` for no such project (or one `actor` may
    not see), `Conflict` while its creation still runs or when a project namespace holds an
    object that is not Slipway's (naming it). A delete left unfinished by a process that died
    is resumed, not started again."""
    with app.session() as session:
        project = visible_project(session, name, actor)
        project_id, status, workflow_id = project.id, project.status, project.workflow_id
        environments = claims(app, project)
        latest = store.latest_event(session, project_id=project_id)
        after = latest.sequence if latest is not None else 0
    if await asyncio.to_thread(deletion.creation_in_flight, project_id):
        raise Conflict(
            t("project {name} is still being created", name=name),
            step=Step.DELETE_WORKLOADS.value,
            system="workflow",
            hint=t(
                "wait for it to end (`slipway project events {name} "
                "--follow`; a `slipway worker` finishes it), then delete it",
                name=name,
            ),
        )
    async with app.cluster() as cluster:
        await check_teardown(cluster, environments, project=name, step=Step.DELETE_WORKLOADS.value)
    resumed = status is ProjectStatus.DELETING and deletion.is_delete_workflow(workflow_id)
    if resumed and await asyncio.to_thread(deletion.run_state, workflow_id) == "PENDING":
        assert workflow_id is not None
        patience = app.settings.lease_seconds + 2.0
        await asyncio.to_thread(deletion.resume, app, workflow_id, patience=patience)
        with app.session() as session:
            run = store.require_project(session, name=name).run
        return DeleteStarted(name, run, workflow_id, delete_repo, 0, resumed=True)
    started_id, run = await asyncio.to_thread(
        deletion.start, app, project_id, delete_repo=delete_repo
    )
    return DeleteStarted(name, run, started_id, delete_repo, after, resumed=False)


async def delete_project(
    app: App,
    name: str,
    *,
    delete_repo: bool,
    worker: Worker,
    on_event: Callable[[ProgressEvent], None] | None = None,
    actor: Actor = OPERATOR,
) -> DeletionView:
    """`start_delete` on `worker` (a private one: this process runs it), then the run's
    events told to `on_event` until it ends."""
    with app.session() as session:
        project_id = visible_project(session, name, actor).id
    started = await start_delete(app, name, delete_repo=delete_repo, actor=actor)
    final = await _follow(app, project_id, started.run, on_event)
    # The run's last act follows its final event: let it end before the worker stops.
    async with asyncio.timeout(RUN_END_SECONDS):
        await asyncio.to_thread(deletion.outcome, started.workflow_id)
    return _view(app, name, final, delete_repo=delete_repo, run=started.run)


async def _follow(
    app: App, project_id: int, run: int, on_event: Callable[[ProgressEvent], None] | None
) -> str:
    """The run's events, from its first, until its final one; "deleted" once the rows are
    gone (the final event goes with them)."""
    after = 0
    while True:
        with app.session() as session:
            project = store.get_project_by_id(session, project_id=project_id)
            if project is None:
                return "deleted"
            rows = store.events_after(session, project_id=project_id, after_sequence=after)
            events = [(r.run, r.to_progress_event(project.name)) for r in rows]
        for event_run, event in events:
            after = event.sequence
            if event_run != run:
                continue
            if on_event is not None:
                on_event(event)
            if event.final is not None:
                return event.final
        await event_bell(app).wait_past(project_id, after)


def _view(app: App, name: str, final: str, *, delete_repo: bool, run: int) -> DeletionView:
    with app.session() as session:
        project = store.get_project(session, name=name)
        if project is None or final == "deleted":
            return DeletionView(name, "deleted", delete_repo, run)
        return DeletionView(
            name, final, delete_repo, run, project.failed_step, project.error_message
        )
