"""Slipway's web UI: server-rendered pages (Jinja2, English and Simplified Chinese) over the
service layer, served by `slipway serve` beside the REST API. Pages work without JavaScript;
our one script adds live progress (the API's SSE stream, signed in by the session cookie).

Element ids tests rely on (keep them stable): sign-in `#token`, `#sign-in`, `#error-token`;
header `#nav-projects`, `#nav-new-project`, `#nav-connections`, `#sign-out`; projects
`#status-filter`, `#projects` (rows `tr[data-project=NAME]`); new project
`#template-NAME` radios + `#choose-template`, `#name`, `#environments`, `#parameters.NAME`
(a dot in the id: `[id="parameters.NAME"]` in CSS), `#connection`, `#owner`, `#private`,
`#preview-button`, `#create-button`, errors `#error-FIELD` (`#form-error` for the rest),
`#preview-ok`, `#preview-files`, `#preview-manifests`; project page `#progress`
(role=progressbar; `[data-stream]` while it follows a run), `#progress-percent`,
`#step-log` (items `li[data-sequence]`), `#environment-ENV` tables (a Ready resource's
badge `.resource-ready`), `#repair-button`, `#confirm`, `#delete-repo`, `#delete-button`,
`#error-confirm`; connections `#no-connections`, `#connect-FORGE`, `#connections` (rows
`tr[data-forge][data-account]`, their `.scopes` cell), `#remove-FORGE-ACCOUNT`, `#notice`,
`#connections-error`."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from slipway import service

from . import connections, project_page, projects, sign_in
from ._i18n import N_
from ._render import LeavePage, Web, render, session_of

NO_PAGE: Final = N_("There is no page at this address:")

STATIC = Path(__file__).parent / "static"


def install(api: FastAPI, app: service.App, worker: service.Worker) -> None:
    """Mounts the pages at `/` and their stylesheet and script at `/static` on `api`."""
    api.state.slipway_web = Web(app=app, worker=worker)
    for router in (sign_in.router, projects.router, project_page.router, connections.router):
        api.include_router(router)
    api.mount("/static", StaticFiles(directory=STATIC), name="static")

    async def leave(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LeavePage)
        return exc.response

    api.add_exception_handler(LeavePage, leave)

    # A browser that follows a wrong link gets a page it can leave by, not the API's JSON;
    # a client of the API (any /api/ path, or one not asking for HTML) still gets the problem.
    api_answer = api.exception_handlers[HTTPException]

    async def not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        wants_page = "text/html" in request.headers.get("accept", "")
        if exc.status_code != 404 or request.url.path.startswith("/api/") or not wants_page:
            answered = api_answer(request, exc)
            return answered if isinstance(answered, Response) else await answered
        return render(
            request,
            "not_found.html",
            session=session_of(request),
            message=NO_PAGE,
            name=request.url.path,
            code=404,
        )

    api.add_exception_handler(HTTPException, not_found)


__all__ = ["install"]
