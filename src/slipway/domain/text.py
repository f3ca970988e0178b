"""Translatable text: a `str` rendered in English that also keeps its template and named
parameters, so a face can render it again in the reader's language (`slipway.i18n`).

Messages are built with `t("no project named {name}", name=name)`; Babel extracts the
template (keyword `t`). Because a `Text` is a `str`, code that formats, compares or logs a
message keeps working unchanged."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

# A parameter that is itself a template (a nested Text) is stored under these keys.
_TEMPLATE: Final = "t"
_PARAMS: Final = "p"


class Text(str):
    """English text (`str(text)`) with `.template` and `.params` kept for translation."""

    template: str
    params: Mapping[str, object]

    def __new__(cls, template: str, params: Mapping[str, object] | None = None) -> Text:
        values = dict(params or {})
        self = super().__new__(cls, template.format(**values))
        self.template = template
        self.params = values
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (a durable workflow's step error) as its template and parameters.
        return (Text, (self.template, dict(self.params)))

    def __deepcopy__(self, memo: dict[int, Any]) -> Text:
        return self

    def __copy__(self) -> Text:
        return self


def t(template: str, /, **params: object) -> Text:
    """A translatable message: `template` is English with `{named}` placeholders."""
    return Text(template, params)


def N_(template: str) -> str:
    """Marks a template for extraction where it is not rendered yet (`Text(N_(...), params)`)."""
    return template


def join(separator: str, parts: Iterable[str]) -> Text:
    """`separator.join(parts)` whose parts keep translating (each may be a Text)."""
    items = list(parts)
    template = (
        separator.replace("{", "{{").replace("}", "}}").join(f"{{p{i}}}" for i in range(len(items)))
    )
    return Text(template, {f"p{i}": part for i, part in enumerate(items)})


def to_json(value: object) -> object:
    """A parameter (or a whole Text) as JSON: nested Texts keep their template."""
    if isinstance(value, Text):
        return {
            _TEMPLATE: value.template,
            _PARAMS: {k: to_json(v) for k, v in value.params.items()},
        }
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def from_json(document: object) -> object:
    """The inverse of `to_json`: a template document becomes a Text again."""
    if isinstance(document, dict) and set(document) == {_TEMPLATE, _PARAMS}:
        params = document[_PARAMS]
        assert isinstance(params, dict)
        return Text(str(document[_TEMPLATE]), {k: from_json(v) for k, v in params.items()})
    return document


def restore(document: object, fallback: str) -> str:
    """The Text `to_json` stored, or `fallback` (a plain string from before, or no document)."""
    try:
        value = from_json(document)
    except (KeyError, IndexError, ValueError, TypeError, AssertionError):
        return fallback  # a template that no longer fits its parameters: the stored text
    return value if isinstance(value, Text) else fallback
