"""Template catalog and renderer (copier). Built-in templates live in `builtin/` as data."""

from slipway.templates.catalog import TemplateCatalog, TemplateInfo, TemplateParameter, load_catalog

__all__ = ["TemplateCatalog", "TemplateInfo", "TemplateParameter", "load_catalog"]
