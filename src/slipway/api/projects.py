"""/api/v1/projects: create (with the CLI's validation and preflight), preview, list, show,
repair and delete. Each route is one use case of the service layer and nothing else."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import APIRouter, Query, Request, Response, status

from slipway import service
from slipway.domain.health import Health
from slipway.domain.model import ProjectStatus
from slipway.i18n import localize

from ._context import ActorDep, ContextDep
from ._problems import request_language
from .schemas import CheckOut, PreviewOut, ProjectCreate, ProjectOut, ProjectPage, RunStarted

router = APIRouter(prefix="/projects", tags=["projects"])
PAGE_MAX = 200


def _request(body: ProjectCreate) -> service.CreateRequest:
    return service.CreateRequest(
        name=body.name,
        template=body.template,
        environments=tuple(body.environments),
        parameters=dict(body.parameters),
        forge=body.forge,
        owner=body.owner,
        private=body.private,
        git_auth=body.git_auth,
        adopt=body.adopt,
        connection=body.connection,
    )


def events_url(name: str) -> str:
    return f"{router.prefix}/{name}/events/stream"


class _Started(Protocol):
    """What the service's started runs (repair, rotation, delete) have in common."""

    @property
    def project(self) -> str: ...
    @property
    def run(self) -> int: ...
    @property
    def after_sequence(self) -> int: ...


def run_started(started: _Started) -> RunStarted:
    """A run started by the service (repair, rotation, delete), with where to follow it."""
    return RunStarted(
        project=started.project,
        run=started.run,
        after_sequence=started.after_sequence,
        events_url=f"/api/v1{events_url(started.project)}",
    )


def project_out(view: service.ProjectView, language: str) -> ProjectOut:
    """The project as the API shows it, Slipway's words in it (its recorded error, health
    reasons, a missing resource's message) in `language`."""
    return ProjectOut.model_validate(view.localized(language))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProjectOut)
async def create_project(
    request: Request, body: ProjectCreate, ctx: ContextDep, actor: ActorDep, response: Response
) -> ProjectOut:
    """Validates, runs preflight, records the project and queues its creation; follow it at
    `/projects/{name}/events/stream`. Nothing is created when this fails."""
    view = await service.create_project(ctx.app, _request(body), worker=ctx.worker, actor=actor)
    response.headers["Location"] = f"/api/v1/projects/{view.name}"
    return project_out(view, request_language(request))


@router.post("/preview", response_model=PreviewOut)
async def preview_project(
    request: Request, body: ProjectCreate, ctx: ContextDep, actor: ActorDep
) -> PreviewOut:
    """What a create would push and apply, and every problem it would meet (their detail and
    fix in the request's Accept-Language); creates nothing."""
    language = request_language(request)
    dry = await service.dry_run(ctx.app, _request(body), actor=actor)
    spec = dry.spec
    return PreviewOut(
        name=spec.name,
        slug=spec.slug,
        template=spec.template,
        environments=list(spec.environments),
        forge=spec.forge.value,
        owner=spec.owner,
        parameters=spec.shown_parameters(),
        files=dry.files,
        manifests=dry.manifests,
        problems=[
            CheckOut(
                name=p.name,
                ok=p.ok,
                detail=localize(p.detail, language) or "",
                fix=localize(p.fix, language),
            )
            for p in dry.problems
        ],
    )


@router.get("", response_model=ProjectPage)
def list_projects(
    request: Request,
    ctx: ContextDep,
    actor: ActorDep,
    status: Annotated[
        ProjectStatus | None, Query(description="only projects in this status")
    ] = None,
    health: Annotated[Health | None, Query(description="only projects of this health")] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> ProjectPage:
    """Your projects (an admin's: everyone's), by name, a page at a time."""
    views = service.list_projects(
        ctx.app, status=status, health=health, actor=actor, after=cursor, limit=limit + 1
    )
    page = views[:limit]
    more = len(views) > limit
    return ProjectPage(
        items=[project_out(v, request_language(request)) for v in page],
        next_cursor=page[-1].name if more and page else None,
    )


@router.get("/{name}", response_model=ProjectOut)
def show_project(request: Request, name: str, ctx: ContextDep, actor: ActorDep) -> ProjectOut:
    """The project with its environments, repository, resources and health; another user's
    project answers 404, as a missing one does."""
    view = service.show_project(ctx.app, name, actor=actor)
    return project_out(view, request_language(request))


@router.post("/{name}/repair", status_code=status.HTTP_202_ACCEPTED, response_model=RunStarted)
def repair_project(name: str, ctx: ContextDep, actor: ActorDep) -> RunStarted:
    """Starts a run that re-creates whatever is missing or failed (a healthy project is left
    as it is); 409 while another run is under way."""
    started = service.repair_project(ctx.app, name, worker=ctx.worker, actor=actor)
    return run_started(started)


@router.delete("/{name}", status_code=status.HTTP_202_ACCEPTED, response_model=RunStarted)
async def delete_project(
    name: str,
    ctx: ContextDep,
    actor: ActorDep,
    delete_repo: Annotated[bool, Query(description="also delete the repository")] = False,
) -> RunStarted:
    """Starts the delete run: Kustomizations first (Flux prunes the workloads), then sources,
    Secrets, namespaces, optionally the repository, then the records. 409 when a namespace
    holds an object that is not Slipway's, or while the creation still runs."""
    started = await service.start_delete(ctx.app, name, delete_repo=delete_repo, actor=actor)
    return run_started(started)
