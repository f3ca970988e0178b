"""/api/v1/templates: what can be created, with each template's parameters as typed fields
and as a JSON Schema, so a form or a script knows what to send before it sends it."""

from __future__ import annotations

from fastapi import APIRouter

from slipway import service

from ._context import ActorDep, ContextDep
from .schemas import TemplateOut, TemplateParameterOut

router = APIRouter(prefix="/templates", tags=["templates"])


def _template(info: service.TemplateInfo) -> TemplateOut:
    return TemplateOut(
        name=info.name,
        description=info.description,
        builtin=info.builtin,
        parameters=[TemplateParameterOut.model_validate(p) for p in info.parameters],
        parameters_schema=info.parameters_schema(),
    )


@router.get("", response_model=list[TemplateOut])
def list_templates(ctx: ContextDep, actor: ActorDep) -> list[TemplateOut]:
    """Built-in templates and the installation's own (SLIPWAY_TEMPLATES_PATH), by name."""
    return [_template(t) for t in service.list_templates(ctx.app.settings)]


@router.get("/{name}", response_model=TemplateOut)
def show_template(name: str, ctx: ContextDep, actor: ActorDep) -> TemplateOut:
    return _template(service.show_template(ctx.app.settings, name))
