"""/api/v1/projects/{name}/rotate-credentials: rotating a project's read-only deploy key as
a run with progress events, like a repair. One use case of the service layer."""

from __future__ import annotations

from fastapi import APIRouter, status

from slipway import service

from ._context import ActorDep, ContextDep
from .projects import run_started
from .schemas import RunStarted

router = APIRouter(prefix="/projects", tags=["projects"])


@router.post(
    "/{name}/rotate-credentials",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunStarted,
    summary="Rotate the project's deploy key",
)
def rotate_credentials(name: str, ctx: ContextDep, actor: ActorDep) -> RunStarted:
    """Starts a run that adds a new read-only deploy key to the repository, puts it in every
    environment's Secret, waits until each GitRepository is Ready with it, then removes the
    old key from the forge; Flux has a working key throughout. Follow `events_url`: the
    steps `grant_new_key`, `apply_new_key`, `remove_old_keys` climb to 100 and end with a
    `completed` (or `failed`) event. 409 while another run of the project is under way, 422
    for a project that reads its repository with the forge token (`git_auth: token`)."""
    started = service.start_rotation(ctx.app, name, worker=ctx.worker, actor=actor)
    return run_started(started)
