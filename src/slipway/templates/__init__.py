"""Template catalog and renderer (copier). Built-in templates live in `builtin/` as data.

`load_catalog()` lists templates without rendering them; `validate_parameters()` checks user
input before anything is created; `render_template()` produces the files of the first commit.
"""

from slipway.templates._parameters import validate_parameters
from slipway.templates._renderer import RenderedTemplate, compute_digest, render_template
from slipway.templates.catalog import (
    INJECTED,
    TemplateCatalog,
    TemplateInfo,
    TemplateParameter,
    load_catalog,
)

__all__ = [
    "INJECTED",
    "RenderedTemplate",
    "TemplateCatalog",
    "TemplateInfo",
    "TemplateParameter",
    "compute_digest",
    "load_catalog",
    "render_template",
    "validate_parameters",
]
