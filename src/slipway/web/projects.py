"""The projects table and the new-project form (template picker, typed parameter fields,
preview and create). Every rule and message is the service's, as the CLI and API give."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from slipway import service
from slipway.domain.errors import InvalidInput, SlipwayError
from slipway.domain.health import Health
from slipway.domain.model import ProjectStatus
from slipway.service import web_sessions
from slipway.service.forges import usable_connections

from ._i18n import N_
from ._render import (
    PostedForm,
    SignedIn,
    first,
    render,
    web_of,
)

router = APIRouter(include_in_schema=False)
PAGE_SIZE: Final = 50
NO_TEMPLATE = N_("Choose a template.")


@router.get("/projects")
def projects_page(
    request: Request, session: SignedIn, status: str = "", health: str = "", after: str = ""
) -> Response:
    chosen = status if status in {s.value for s in ProjectStatus} else ""
    of_health = health if health in {h.value for h in Health} else ""
    views = service.list_projects(
        web_of(request).app,
        status=ProjectStatus(chosen) if chosen else None,
        health=Health(of_health) if of_health else None,
        actor=session.actor,
        after=after or None,
        limit=PAGE_SIZE + 1,
    )
    page = views[:PAGE_SIZE]
    more = page[-1].name if len(views) > PAGE_SIZE and page else None
    return render(
        request,
        "projects.html",
        session=session,
        projects=page,
        statuses=[s.value for s in ProjectStatus],
        status=chosen,
        healths=[h.value for h in Health],
        health=of_health,
        next_after=more,
    )


def _templates(web: service.App) -> list[service.TemplateInfo]:
    return service.list_templates(web.settings)


def _form_page(
    request: Request,
    session: web_sessions.WebSessionView,
    values: Mapping[str, str],
    *,
    errors: Mapping[str, str] | None = None,
    general: str | None = None,
    preview: service.DryRun | None = None,
    status: int = 200,
) -> Response:
    web = web_of(request)
    templates = _templates(web.app)
    chosen = next((t for t in templates if t.name == values.get("template")), None)
    connections = usable_connections(web.app, actor=session.actor)
    return render(
        request,
        "new_project.html",
        session=session,
        templates=templates,
        template=chosen,
        values=values,
        errors=errors or {},
        general=general,
        preview=preview,
        connections=connections,
        default_environments=", ".join(web.app.settings.environments),
        code=status,
    )


@router.get("/projects/new")
def new_project_page(request: Request, session: SignedIn, template: str = "") -> Response:
    names = [t.name for t in _templates(web_of(request).app)]
    chosen = template if template in names else web_of(request).app.settings.default_template
    return _form_page(request, session, {"template": chosen if chosen in names else ""})


def _create_request(
    form: Mapping[str, list[str]], info: service.TemplateInfo
) -> service.CreateRequest:
    parameters: dict[str, str | int | bool] = {}
    for param in info.parameters:
        key = f"parameters.{param.name}"
        if param.type == "bool":
            parameters[param.name] = first(form, key) == "true"
            continue
        value = first(form, key)
        if value.strip():  # a blank field takes the default, or is refused as required
            parameters[param.name] = value
    environments = [e for e in first(form, "environments").replace(",", " ").split() if e]
    # The picked connection sets the forge; a value that is no id is refused by the service
    # as a missing connection would be.
    connection = first(form, "connection").strip()
    return service.CreateRequest(
        name=first(form, "name").strip(),
        template=info.name,
        environments=tuple(environments),
        parameters=parameters,
        owner=first(form, "owner").strip() or None,
        private=first(form, "private") == "true",
        connection=(int(connection) if connection.isdecimal() else 0) if connection else None,
    )


def _kept_values(form: Mapping[str, list[str]], info: service.TemplateInfo) -> dict[str, str]:
    """What the form shows again: everything typed except secrets, which never go back to
    the page."""
    secret = {f"parameters.{p.name}" for p in info.parameters if p.secret}
    values = {k: v[0] for k, v in form.items() if v and k not in secret and k != "csrf_token"}
    values.setdefault("private", "false")
    return values


@router.post("/projects/new")
async def submit_new_project(request: Request, posted: PostedForm) -> Response:
    session, form = posted.session, posted.form
    web = web_of(request)
    info = next((t for t in _templates(web.app) if t.name == first(form, "template")), None)
    if info is None:
        return _form_page(request, session, {}, errors={"template": NO_TEMPLATE}, status=422)
    values = _kept_values(form, info)
    previewing = first(form, "action") == "preview"
    try:
        create = _create_request(form, info)
        if previewing:
            dry = await service.dry_run(web.app, create, actor=session.actor)
            return _form_page(request, session, values, preview=dry)
        view = await service.create_project(web.app, create, worker=web.worker, actor=session.actor)
    except InvalidInput as exc:
        errors = {p.field: p.rule for p in reversed(exc.problems)}  # a field's first rule
        return _form_page(request, session, values, errors=errors, status=422)
    except SlipwayError as exc:
        return _form_page(request, session, values, general=exc.text(), status=exc.http_status)
    return RedirectResponse(f"/projects/{view.name}", status_code=303)
