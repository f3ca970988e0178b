"""Who may read a project's repository: rotating its read-only deploy key."""

from __future__ import annotations

import asyncio

from slipway.bootstrap import App
from slipway.domain.actors import OPERATOR, Actor
from slipway.pipeline import access_steps
from slipway.service.reading import show_project
from slipway.service.views import ProjectView
from slipway.service.visibility import visible_project


async def rotate_credentials(app: App, name: str, *, actor: Actor = OPERATOR) -> ProjectView:
    """A new deploy key on the repository and in every environment's Secret, Flux Ready with
    it, then the old key removed from the forge: no moment without a working key."""
    with app.session() as session:
        project_id = visible_project(session, name, actor).id
    within = app.settings.ready_timeout
    await asyncio.to_thread(access_steps.rotate, app, project_id, within=within)
    return show_project(app, name, actor=actor)
