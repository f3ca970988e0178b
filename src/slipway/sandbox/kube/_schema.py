"""Structural-schema handling for custom resources: pruning, defaulting and validation.

Messages follow the API server's field errors (`spec.interval: Required value`,
`Unsupported value`, `in body should match '<pattern>'`) so a 422 reads like a real one.
CEL rules (`x-kubernetes-validations`) are not evaluated.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from typing import Any

from slipway.sandbox.kube._status import Cause

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "object": (dict,),
    "array": (list,),
}
_GO_NAMES = {str: "string", bool: "boolean", int: "integer", float: "number", dict: "object"}
_GO_NAMES[list] = "array"

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def _quote(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else json.dumps(value, default=str)


def validate_name(name: str, *, label: bool) -> list[Cause]:
    """`metadata.name` rules: DNS-1123 label for namespaces, subdomain for everything else."""
    if not name:
        return [
            Cause(
                "FieldValueRequired",
                "Required value: name or generateName is required",
                "metadata.name",
            )
        ]
    limit, pattern, rule = (
        (63, DNS1123_LABEL, LABEL_MSG) if label else (253, DNS1123_SUBDOMAIN, SUBDOMAIN_MSG)
    )
    causes: list[Cause] = []
    if len(name) > limit:
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {_quote(name)}: must be no more than {limit} characters",
                "metadata.name",
            )
        )
    if not pattern.match(name):
        causes.append(
            Cause("FieldValueInvalid", f"Invalid value: {_quote(name)}: {rule}", "metadata.name")
        )
    return causes


def _bad(reason: str, path: str, value: str, rule: str) -> Cause:
    """`Invalid value: <value>: <rule>`, the apiserver's FieldValueInvalid wording."""
    return Cause(reason, f"Invalid value: {value}: {rule}", path)


def _is_type(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES.get(kind, (object,)))


def validate(obj: dict[str, Any], schema: dict[str, Any]) -> list[Cause]:
    """Every schema violation in `obj` (metadata excluded: the server validates it apart)."""
    causes: list[Cause] = []
    for key, sub in schema.get("properties", {}).items():
        if key in ("metadata", "apiVersion", "kind"):
            continue
        if key in obj:
            _check(obj[key], sub, key, causes)
    for key in schema.get("required", ()):
        if key not in obj:
            causes.append(Cause("FieldValueRequired", "Required value", key))
    return causes


def _check(value: Any, schema: dict[str, Any], path: str, causes: list[Cause]) -> None:
    if value is None:
        if not schema.get("nullable"):
            kind = schema.get("type", "object")
            rule = f'{path} in body must be of type {kind}: "null"'
            causes.append(_bad("FieldValueTypeInvalid", path, '"null"', rule))
        return
    if schema.get("x-kubernetes-int-or-string"):
        if not (isinstance(value, str) or _is_type(value, "integer")):
            rule = f"{path} in body must be of type integer-or-string"
            causes.append(_bad("FieldValueTypeInvalid", path, _quote(value), rule))
        return
    kind = schema.get("type")
    if kind and not _is_type(value, kind):
        actual = _GO_NAMES.get(type(value), "object")
        rule = f"{path} in body must be of type {kind}: {_quote(actual)}"
        causes.append(_bad("FieldValueTypeInvalid", path, f'"{actual}"', rule))
        return
    _check_scalar(value, schema, path, causes)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, child in value.items():
            sub = props.get(key) if key in props else extra if isinstance(extra, dict) else None
            if sub is not None:
                _check(child, sub, f"{path}.{key}", causes)
        for key in schema.get("required", ()):
            if key not in value:
                causes.append(Cause("FieldValueRequired", "Required value", f"{path}.{key}"))
    elif isinstance(value, list):
        items = schema.get("items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            causes.append(
                Cause(
                    "FieldValueTooMany",
                    f"Too many: {len(value)}: must have at most {schema['maxItems']} items",
                    path,
                )
            )
        if "minItems" in schema and len(value) < schema["minItems"]:
            rule = f"{path} in body should have at least {schema['minItems']} items"
            causes.append(_bad("FieldValueInvalid", path, str(len(value)), rule))
        if isinstance(items, dict):
            for index, item in enumerate(value):
                _check(item, items, f"{path}[{index}]", causes)


def _check_scalar(value: Any, schema: dict[str, Any], path: str, causes: list[Cause]) -> None:
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(_quote(v) for v in schema["enum"])
        message = f"Unsupported value: {_quote(value)}: supported values: {allowed}"
        causes.append(Cause("FieldValueNotSupported", message, path))
    if isinstance(value, str):
        _check_string(value, schema, path, causes)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        shown = str(value)
        if "minimum" in schema and value < schema["minimum"]:
            rule = f"{path} in body should be greater than or equal to {schema['minimum']}"
            causes.append(_bad("FieldValueInvalid", path, shown, rule))
        if "maximum" in schema and value > schema["maximum"]:
            rule = f"{path} in body should be less than or equal to {schema['maximum']}"
            causes.append(_bad("FieldValueInvalid", path, shown, rule))


def _check_string(value: str, schema: dict[str, Any], path: str, causes: list[Cause]) -> None:
    shown = _quote(value)
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        message = f"Too long: may not be more than {schema['maxLength']} bytes"
        causes.append(Cause("FieldValueTooLong", message, path))
    if "minLength" in schema and len(value) < schema["minLength"]:
        rule = f"{path} in body should be at least {schema['minLength']} chars long"
        causes.append(_bad("FieldValueInvalid", path, shown, rule))
    if "pattern" in schema and not re.search(schema["pattern"], value):
        rule = f"{path} in body should match '{schema['pattern']}'"
        causes.append(_bad("FieldValueInvalid", path, shown, rule))
    if schema.get("format") == "date-time" and not _is_datetime(value):
        rule = f"{path} in body must be of type date-time: {shown}"
        causes.append(_bad("FieldValueInvalid", path, shown, rule))


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def apply_defaults(obj: dict[str, Any], schema: dict[str, Any]) -> None:
    """Fill schema `default`s for absent fields, in place, as the server does on every write."""
    props = schema.get("properties", {})
    for key, sub in props.items():
        if key == "metadata":
            continue
        if key not in obj and "default" in sub:
            obj[key] = copy.deepcopy(sub["default"])
        if isinstance(obj.get(key), dict):
            apply_defaults(obj[key], sub)
        elif isinstance(obj.get(key), list) and isinstance(sub.get("items"), dict):
            for item in obj[key]:
                if isinstance(item, dict):
                    apply_defaults(item, sub["items"])
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key, value in obj.items():
            if key not in props and isinstance(value, dict):
                apply_defaults(value, extra)


def prune_unknown(obj: dict[str, Any], schema: dict[str, Any], path: str = "") -> list[str]:
    """Drop fields the schema does not declare, in place; returns their paths."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    props = schema.get("properties")
    extra = schema.get("additionalProperties")
    pruned: list[str] = []
    for key in list(obj):
        where = f"{path}.{key}" if path else key
        if props is not None and key in props:
            sub = props[key]
        elif isinstance(extra, dict) or extra is True:
            sub = extra if isinstance(extra, dict) else {}
        elif props is None and not path:
            continue
        else:
            del obj[key]
            pruned.append(where)
            continue
        if key == "metadata" and not path:
            continue
        value = obj[key]
        if isinstance(value, dict):
            pruned += prune_unknown(value, sub, where)
        elif isinstance(value, list) and isinstance(sub.get("items"), dict):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    pruned += prune_unknown(item, sub["items"], f"{where}[{index}]")
    return pruned
