"""Reading what Slipway recorded: projects with their environments, repository and resources,
the progress log (replayed, or followed live), and the template catalog."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from slipway import store
from slipway.bootstrap import App
from slipway.config import Settings
from slipway.domain.actors import OPERATOR, Actor
from slipway.domain.health import Health
from slipway.domain.model import ProgressEvent, ProjectStatus
from slipway.service._event_bell import event_bell
from slipway.service.views import ProjectView, project_view
from slipway.service.visibility import visible_project
from slipway.templates import TemplateInfo, load_catalog


def list_templates(settings: Settings) -> list[TemplateInfo]:
    """Built-in templates and those under SLIPWAY_TEMPLATES_PATH; needs no database."""
    return load_catalog(settings.templates_path).list()


def show_template(settings: Settings, name: str) -> TemplateInfo:
    """One template; `NotFound` (listing the available ones) when there is none by that name."""
    return load_catalog(settings.templates_path).get(name)


def show_project(app: App, name: str, *, actor: Actor = OPERATOR) -> ProjectView:
    """One project; `NotFound` (naming `project list`) when there is none by that name that
    `actor` may see."""
    with app.session() as session:
        found = store.project_overviews(session, names=[name])
        if not found or not actor.may_see(found[0].project.user_id):
            raise store.project_not_found(name)
        return _view(found[0])


def list_projects(
    app: App,
    *,
    status: ProjectStatus | None = None,
    health: Health | None = None,
    actor: Actor = OPERATOR,
    after: str | None = None,
    limit: int | None = None,
) -> list[ProjectView]:
    """Every project `actor` may see (or those in `status`, and of `health`), by name;
    `after` (a name) and `limit` take one page. Health is derived from the resources, not
    stored: with `health`, pages are read until `limit` projects of it are found."""
    found: list[ProjectView] = []
    with app.session() as session:
        while True:
            rows = store.project_overviews(
                session,
                status=status,
                user_id=None if actor.sees_all else actor.user_id,
                after=after,
                limit=limit,
            )
            views = [_view(r) for r in rows]
            found += [v for v in views if health is None or v.health == health]
            if health is None or limit is None or len(rows) < limit or len(found) >= limit:
                return found[:limit] if limit is not None else found
            after = rows[-1].project.name


def _view(rows: store.ProjectRows) -> ProjectView:
    return project_view(
        rows.project, rows.environments, rows.repository, rows.resources, rows.latest_event
    )


def project_events(
    app: App, name: str, *, after: int = 0, actor: Actor = OPERATOR
) -> list[ProgressEvent]:
    """Events after sequence `after`, oldest first: a late viewer replays from 0."""
    with app.session() as session:
        project = visible_project(session, name, actor)
        rows = store.events_after(session, project_id=project.id, after_sequence=after)
        return [row.to_progress_event(project.name) for row in rows]


async def follow_events(
    app: App,
    name: str,
    *,
    after: int = 0,
    actor: Actor = OPERATOR,
) -> AsyncIterator[ProgressEvent]:
    """Every event after `after` as it is recorded, ending with the final event of the
    project's current run (earlier runs' finals are history; the progress bar, `events
    --follow` and the SSE stream all read this). A follower already past that final event
    gets nothing and ends at once. Between events a follower waits on the process's event
    bell (one query for all followers) and reads the database off the event loop."""
    project_id, run, ended_at = await asyncio.to_thread(_current_run, app, name, actor)
    if ended_at is not None and ended_at <= after:
        return
    bell = event_bell(app)
    while True:
        events = await asyncio.to_thread(project_events, app, name, after=after, actor=actor)
        for event in events:
            after = event.sequence
            yield event
            if event.final is not None and event.run >= run:
                return
        await bell.wait_past(project_id, after)


def _current_run(app: App, name: str, actor: Actor) -> tuple[int, int, int | None]:
    """The project's ID and current run, and the sequence of its final event if it ended."""
    with app.session() as session:
        project = visible_project(session, name, actor)
        latest = store.latest_event(session, project_id=project.id)
        ended = latest is not None and latest.final is not None and latest.run >= project.run
        return project.id, project.run, latest.sequence if ended and latest is not None else None


def last_sequence(app: App, name: str, *, actor: Actor = OPERATOR) -> int:
    """The newest event's sequence (0 if none): a new run's follower starts after it."""
    with app.session() as session:
        project = visible_project(session, name, actor)
        latest = store.latest_event(session, project_id=project.id)
        return latest.sequence if latest is not None else 0
