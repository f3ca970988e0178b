"""One project: the progress bar and step log of its current run (live over the API's SSE
stream when JavaScript runs), its environments and resources, and repair, deploy-key rotation
and delete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from slipway import service
from slipway.domain.errors import NotFound, SlipwayError
from slipway.service import web_sessions

from ._i18n import N_
from ._render import (
    Posted,
    PostedForm,
    SignedIn,
    first,
    language_of,
    render,
    web_of,
)

router = APIRouter(include_in_schema=False)
CONFIRM_MISMATCH: Final = N_("Type the project's name exactly to delete it.")
NOT_FOUND: Final = N_("There is no project by that name.")


def _page(
    request: Request,
    session: web_sessions.WebSessionView,
    name: str,
    *,
    errors: dict[str, str] | None = None,
    general: str | None = None,
    status: int = 200,
) -> Response:
    app = web_of(request).app
    try:
        view = service.show_project(app, name, actor=session.actor)
        events = service.project_events(app, name, actor=session.actor)
    except NotFound:
        return render(
            request, "not_found.html", session=session, message=NOT_FOUND, name=name, code=404
        )
    current = [e for e in events if e.run == view.run]
    last = events[-1].sequence if events else 0
    live = not current or current[-1].final is None
    percent = current[-1].percent if current else 0
    return render(
        request,
        "project.html",
        session=session,
        # Slipway's words (recorded error, health) in the page's language, as its step log is.
        project=view.localized(language_of(request)),
        events=current,
        last_sequence=last,
        live=live,
        percent=percent,
        rotatable=service.has_deploy_key(app, name, actor=session.actor),
        errors=errors or {},
        general=general,
        code=status,
    )


@router.get("/projects/{name}")
def project_page(request: Request, name: str, session: SignedIn) -> Response:
    return _page(request, session, name)


@router.post("/projects/{name}/repair")
async def repair(request: Request, name: str, posted: PostedForm) -> Response:
    return _start_run(request, name, posted, service.repair_project)


@router.post("/projects/{name}/rotate-credentials")
async def rotate_credentials(request: Request, name: str, posted: PostedForm) -> Response:
    return _start_run(request, name, posted, service.start_rotation)


def _start_run(
    request: Request, name: str, posted: Posted, start: Callable[..., object]
) -> Response:
    """Starts the project's next run in this server's worker; the page it redirects to
    follows it on its progress bar (a refusal shows on the page)."""
    session = posted.session
    web = web_of(request)
    try:
        start(web.app, name, worker=web.worker, actor=session.actor)
    except SlipwayError as exc:
        return _page(request, session, name, general=exc.text(), status=exc.http_status)
    return RedirectResponse(f"/projects/{name}", status_code=303)


@router.post("/projects/{name}/delete")
async def delete(request: Request, name: str, posted: PostedForm) -> Response:
    session, form = posted.session, posted.form
    if first(form, "confirm").strip() != name:
        return _page(request, session, name, errors={"confirm": CONFIRM_MISMATCH}, status=422)
    try:
        await service.start_delete(
            web_of(request).app,
            name,
            delete_repo=first(form, "delete_repo") == "true",
            actor=session.actor,
        )
    except SlipwayError as exc:
        return _page(request, session, name, general=exc.text(), status=exc.http_status)
    return RedirectResponse(f"/projects/{name}", status_code=303)
