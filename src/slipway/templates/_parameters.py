"""Template parameters: coerce CLI strings to the declared types and check every rule before
anything is created. Each failure is an `InvalidInput(field="parameters.<name>", rule=...)`."""

from __future__ import annotations

import re
from collections.abc import Mapping

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from slipway.domain.errors import InputChecks, InvalidInput
from slipway.domain.text import t
from slipway.templates.catalog import (
    INJECTED,
    ParameterValue,
    TemplateInfo,
    TemplateParameter,
)

_TRUE = frozenset({"true", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "no", "n", "off", "0"})
_INT = re.compile(r"^[+-]?[0-9]+$")
_MAX_STR = 1000


def validate_parameters(
    info: TemplateInfo,
    raw: Mapping[str, ParameterValue],
    *,
    project: str | None = None,
) -> dict[str, ParameterValue]:
    """Returns every parameter of `info` with its typed value (given or default).

    A default written as Jinja (e.g. `ghcr.io/example/{{ project_name }}`) is rendered with
    `project`; without a project such a parameter is left out and copier fills it in.
    """
    checks = InputChecks()
    for name in raw:
        with checks.check():
            _check_given(info, name)
    result: dict[str, ParameterValue] = {}
    for param in info.parameters:
        with checks.check():
            value = _value(param, raw, project, result)
            if value is not None:
                check_value(param, value)
                result[param.name] = value
    checks.refuse()
    return result


def _check_given(info: TemplateInfo, name: str) -> None:
    if name in INJECTED:
        raise InvalidInput(
            f"parameters.{name}", t("is set by Slipway from the project and cannot be given")
        )
    if info.parameter(name) is None:
        known = ", ".join(p.name for p in info.parameters) or "none"
        raise InvalidInput(
            f"parameters.{name}",
            t("is not a parameter of template '{name}'", name=info.name),
            hint=t("its parameters are: {known}", known=known),
        )


def _value(
    param: TemplateParameter,
    raw: Mapping[str, ParameterValue],
    project: str | None,
    earlier: Mapping[str, ParameterValue],
) -> ParameterValue | None:
    """`param`'s typed value: given, or its default; None for a Jinja default without a
    project."""
    if param.name in raw:
        return coerce_value(param, raw[param.name])
    if param.default is None:
        raise InvalidInput(
            f"parameters.{param.name}",
            t("is required"),
            hint=t("pass --param {name}=VALUE ({help})", name=param.name, help=param.help)
            if param.help
            else t("pass --param {name}=VALUE", name=param.name),
        )
    if _is_jinja(param.default):
        if project is None:
            return None
        return coerce_value(param, _render_default(param, project, earlier))
    return coerce_value(param, param.default)


def coerce_value(param: TemplateParameter, value: ParameterValue) -> ParameterValue:
    """Turns a CLI string (or a JSON value) into the parameter's declared type."""
    field = f"parameters.{param.name}"
    if param.type == "int":
        if isinstance(value, bool):
            raise InvalidInput(field, t("must be an integer, not a boolean"))
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if not _INT.fullmatch(text) or len(text) > 19:
            raise InvalidInput(
                field, t("must be an integer, got {shown}", shown=_shown(param, value))
            )
        return int(text)
    if param.type == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise InvalidInput(
            field, t("must be true or false, got {shown}", shown=_shown(param, value))
        )
    if isinstance(value, bool):
        # str(True) would silently become "True"; a string parameter wants text.
        raise InvalidInput(field, t("must be text, not a boolean"))
    return str(value)


def check_value(param: TemplateParameter, value: ParameterValue) -> None:
    """Applies the declared rules (choices, pattern, min/max) to an already typed value."""
    field = f"parameters.{param.name}"
    if param.type == "choice" and value not in param.choices:
        raise InvalidInput(
            field,
            t(
                "must be one of {choices}, got {shown}",
                choices=", ".join(param.choices),
                shown=_shown(param, value),
            ),
        )
    if isinstance(value, str):
        if len(value) > _MAX_STR:
            raise InvalidInput(field, t("must be at most {max_str} characters", max_str=_MAX_STR))
        if "\x00" in value:
            raise InvalidInput(field, t("must not contain NUL characters"))
        if param.pattern is not None and re.fullmatch(param.pattern, value) is None:
            raise InvalidInput(
                field,
                t(
                    "{shown} does not match the pattern {pattern}",
                    shown=_shown(param, value),
                    pattern=param.pattern,
                ),
            )
    if isinstance(value, int) and not isinstance(value, bool):
        if param.minimum is not None and value < param.minimum:
            raise InvalidInput(
                field,
                t(
                    "must be at least {minimum}, got {shown}",
                    minimum=param.minimum,
                    shown=_shown(param, value),
                ),
            )
        if param.maximum is not None and value > param.maximum:
            raise InvalidInput(
                field,
                t(
                    "must be at most {maximum}, got {shown}",
                    maximum=param.maximum,
                    shown=_shown(param, value),
                ),
            )


def _is_jinja(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _render_default(
    param: TemplateParameter, project: str, earlier: Mapping[str, ParameterValue]
) -> str:
    """Renders a Jinja default the way copier would: earlier answers and the project name."""
    env = SandboxedEnvironment(autoescape=False)  # a value, not HTML
    try:
        return env.from_string(str(param.default)).render(**earlier, project_name=project)
    except TemplateError as exc:
        raise InvalidInput(
            f"parameters.{param.name}",
            t("its default does not render: {message}", message=exc.message),
        ) from None


def _shown(param: TemplateParameter, value: object) -> str:
    """The value as an error message may show it: shortened, and hidden for secret questions."""
    if param.secret:
        return "the given value"
    if not isinstance(value, str):
        return str(value)
    return repr(value if len(value) <= 60 else value[:59] + "…")
