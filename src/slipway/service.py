"""Use cases that the CLI, the REST API and the web UI all call. They never print and never
raise HTTP errors: they return domain values or raise `SlipwayError`s."""

from __future__ import annotations

from slipway.config import Settings, get_settings
from slipway.templates import TemplateInfo, load_catalog


def list_templates(settings: Settings | None = None) -> list[TemplateInfo]:
    settings = settings or get_settings()
    return load_catalog(settings.templates_path).list()
