"""Reading what Slipway recorded: projects with their environments, repository and resources,
the progress log (replayed, or followed live), and the template catalog."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from slipway import store
from slipway.bootstrap import App
from slipway.config import Settings
from slipway.domain.model import ProgressEvent, ProjectStatus
from slipway.service.views import ProjectView, project_view
from slipway.templates import TemplateInfo, load_catalog

FOLLOW_POLL_SECONDS = 0.2


def list_templates(settings: Settings) -> list[TemplateInfo]:
    """Built-in templates and those under SLIPWAY_TEMPLATES_PATH; needs no database."""
    return load_catalog(settings.templates_path).list()


def show_project(app: App, name: str) -> ProjectView:
    """One project; `NotFound` (naming `project list`) when there is none by that name."""
    with app.session() as session:
        found = store.project_overviews(session, names=[name])
        if not found:
            store.require_project(session, name=name)  # raises the NotFound, with its hint
        return _view(found[0])


def list_projects(app: App, *, status: ProjectStatus | None = None) -> list[ProjectView]:
    """Every project (or those in `status`), by name, in a fixed number of queries."""
    with app.session() as session:
        return [_view(rows) for rows in store.project_overviews(session, status=status)]


def _view(rows: store.ProjectRows) -> ProjectView:
    return project_view(
        rows.project, rows.environments, rows.repository, rows.resources, rows.latest_event
    )


def project_events(app: App, name: str, *, after: int = 0) -> list[ProgressEvent]:
    """Events after sequence `after`, oldest first: a late viewer replays from 0."""
    with app.session() as session:
        project = store.require_project(session, name=name)
        rows = store.events_after(session, project_id=project.id, after_sequence=after)
        return [row.to_progress_event(project.name) for row in rows]


async def follow_events(
    app: App, name: str, *, after: int = 0, poll: float = FOLLOW_POLL_SECONDS
) -> AsyncIterator[ProgressEvent]:
    """Every event after `after` as it is recorded, ending with the final event of the
    project's current run (earlier runs' finals are history; the progress bar, `events
    --follow` and, later, the SSE stream all read this)."""
    with app.session() as session:
        run = store.require_project(session, name=name).run
    while True:
        for event in project_events(app, name, after=after):
            after = event.sequence
            yield event
            if event.final is not None and event.run >= run:
                return
        await asyncio.sleep(poll)


def last_sequence(app: App, name: str) -> int:
    """The newest event's sequence (0 if none): a new run's follower starts after it."""
    with app.session() as session:
        project = store.require_project(session, name=name)
        latest = store.latest_event(session, project_id=project.id)
        return latest.sequence if latest is not None else 0
