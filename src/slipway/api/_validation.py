"""pydantic's refusals as Slipway's own rules: each error type the API's documents and
parameters can produce maps to a translatable `t()` template in the service's wording
("must be …"), so a 422 from a schema reads like one from the service, in either language.
pydantic's English `msg` never reaches a response: a type not listed gets a generic rule."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from slipway.domain.text import Text, t

# The member tags pydantic appends to a location inside `str | int | bool` (a template
# parameter's value): the three errors of one value are one rule about that value.
_UNION_TAGS: Final = frozenset({"str", "int", "bool"})
_SOURCES: Final = ("body", "query", "path", "header", "cookie")
_QUOTED: Final = re.compile(r"'([^']*)'")
_NOT_VALID: Final = t("is not valid")

Rule = Callable[[Mapping[str, Any]], Text]


def _choices(ctx: Mapping[str, Any]) -> Text:
    # pydantic's `expected` is English ("'a', 'b' or 'c'"): only the quoted values are kept.
    values = _QUOTED.findall(str(ctx.get("expected", "")))
    return t("must be one of {choices}", choices=", ".join(values)) if values else _NOT_VALID


def _raised(ctx: Mapping[str, Any]) -> Text:
    # A validator's ValueError: its message is kept when it is a translatable Text; any
    # other message is English from elsewhere.
    error = ctx.get("error")
    message = error.args[0] if isinstance(error, Exception) and error.args else None
    return message if isinstance(message, Text) else _NOT_VALID


def _too_short(ctx: Mapping[str, Any]) -> Text:
    length = ctx.get("min_length")
    if length == 1:
        return t("must not be empty")
    return t("must be at least {min_length} characters", min_length=length)


_STRING: Final = t("must be a string")
_INTEGER: Final = t("must be an integer")
_BOOLEAN: Final = t("must be true or false")
_NUMBER: Final = t("must be a number")
_OBJECT: Final = t("must be a JSON object")

RULES: Final[Mapping[str, Rule]] = {
    "missing": lambda _: t("is required"),
    "extra_forbidden": lambda _: t("is not a field of this request"),
    "string_type": lambda _: _STRING,
    "string_sub_type": lambda _: _STRING,
    "string_unicode": lambda _: _STRING,
    "int_type": lambda _: _INTEGER,
    "int_parsing": lambda _: _INTEGER,
    "int_from_float": lambda _: _INTEGER,
    "int_parsing_size": lambda _: _INTEGER,
    "float_type": lambda _: _NUMBER,
    "float_parsing": lambda _: _NUMBER,
    "bool_type": lambda _: _BOOLEAN,
    "bool_parsing": lambda _: _BOOLEAN,
    "list_type": lambda _: t("must be a list"),
    "dict_type": lambda _: _OBJECT,
    "model_type": lambda _: _OBJECT,
    "model_attributes_type": lambda _: _OBJECT,
    "json_invalid": lambda _: t("must be valid JSON"),
    "json_type": lambda _: t("must be valid JSON"),
    "enum": _choices,
    "literal_error": _choices,
    "string_too_long": lambda ctx: t(
        "must be at most {max_str} characters", max_str=ctx.get("max_length")
    ),
    "string_too_short": _too_short,
    "too_long": lambda ctx: t(
        "must have at most {max_length} items", max_length=ctx.get("max_length")
    ),
    "too_short": lambda ctx: t(
        "must have at least {min_length} items", min_length=ctx.get("min_length")
    ),
    "greater_than_equal": lambda ctx: t("must be at least {minimum}", minimum=ctx.get("ge")),
    "greater_than": lambda ctx: t("must be greater than {minimum}", minimum=ctx.get("gt")),
    "less_than_equal": lambda ctx: t("must be at most {maximum}", maximum=ctx.get("le")),
    "less_than": lambda ctx: t("must be less than {maximum}", maximum=ctx.get("lt")),
    "string_pattern_mismatch": lambda ctx: t(
        "must match the pattern {pattern}", pattern=ctx.get("pattern")
    ),
    "value_error": _raised,
    "assertion_error": _raised,
    "url_type": lambda _: t("is not a valid URL"),
    "url_parsing": lambda _: t("is not a valid URL"),
    "url_scheme": lambda _: t("is not a valid URL"),
}


def rule(error: Mapping[str, Any]) -> Text:
    """Slipway's rule for one pydantic error (its English `msg` is never used)."""
    found = RULES.get(str(error.get("type", "")))
    return found(error.get("ctx") or {}) if found is not None else _NOT_VALID


def field(location: Sequence[Any], error_type: str = "") -> str:
    """pydantic's location without its source (`body`, `query`), joined with dots; JSON
    that does not parse is the body's fault, wherever the parser stopped."""
    parts = [str(p) for p in location]
    if parts and parts[0] in _SOURCES:
        parts = parts[1:]
    if error_type in ("json_invalid", "json_type"):
        return "body"
    return ".".join(parts) or "body"


def field_rules(errors: Sequence[Mapping[str, Any]]) -> list[tuple[str, Text]]:
    """One (field, rule) per refused field: a union's per-member errors become one."""
    members: dict[tuple[str, ...], set[str]] = {}
    for error in errors:
        location = tuple(str(p) for p in error.get("loc", ()))
        if location and location[-1] in _UNION_TAGS:
            members.setdefault(location[:-1], set()).add(location[-1])
    unions = {parent for parent, tags in members.items() if len(tags) > 1}
    found: list[tuple[str, Text]] = []
    seen: set[tuple[str, ...]] = set()
    for error in errors:
        location = tuple(str(p) for p in error.get("loc", ()))
        if location and location[:-1] in unions and location[-1] in _UNION_TAGS:
            parent = location[:-1]
            if parent in seen:
                continue
            seen.add(parent)
            union_rule = (
                t("must be a string, an integer or a boolean")
                if members[parent] == _UNION_TAGS
                else _NOT_VALID
            )
            found.append((field(parent), union_rule))
            continue
        found.append((field(location, str(error.get("type", ""))), rule(error)))
    return found
