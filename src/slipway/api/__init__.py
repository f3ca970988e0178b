"""Slipway's REST API (`/api/v1`): the service layer's use cases over HTTP, for scripts, CI
and the web UI. Routes call `slipway.service` and nothing below it; errors are RFC 9457
problem details; every route but the probes needs a user's bearer token."""

from __future__ import annotations

from fastapi import FastAPI

from slipway import __version__, service

from . import _problems, access, catalog, connections, events, probes, projects
from ._context import ActorDep, Context
from .schemas import Me, Problem

API_PREFIX = "/api/v1"


def create_api(app: service.App, *, worker: service.Worker) -> FastAPI:
    """The ASGI application over `app`, starting delete runs in `worker` (`serve`'s)."""
    api = FastAPI(
        title="Slipway",
        version=__version__,
        summary="New projects as a repository plus Flux objects per environment, with a "
        "progress bar; then status, health, repair and delete.",
        responses={
            status: {"model": Problem, "content": {_problems.MEDIA_TYPE: {}}}
            for status in (400, 401, 403, 404, 409, 422, 424, 500, 502)
        },
    )
    api.state.slipway = Context(app=app, worker=worker)
    _problems.install(api)
    for router in (projects.router, events.router, catalog.router, connections.router):
        api.include_router(router, prefix=API_PREFIX)
    api.include_router(probes.router)
    api.include_router(access.router, prefix=API_PREFIX)  # POST .../rotate-credentials

    @api.get(f"{API_PREFIX}/me", response_model=Me, tags=["users"])
    def me(actor: ActorDep) -> Me:
        """Who the token belongs to."""
        return Me(name=actor.name, admin=actor.is_admin)

    return api


__all__ = ["API_PREFIX", "create_api"]
