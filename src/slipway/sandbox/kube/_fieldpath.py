"""Field sets as server-side apply tracks them, and their `FieldsV1` wire form.

A path is a tuple of path elements in FieldsV1 notation: `f:<field>` for a map field,
`k:{"name":"x"}` for an item of a list keyed by name, `v:<json>` for an item of a set. Only
leaves (scalars, empty maps, atomic lists) and keyed list items are members of a set, as in
structured-merge-diff's `ToFieldSet`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final

Path = tuple[str, ...]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

# Built-in kinds carry no schema here; these lists are merged by `name` as the real types are.
_KEYED_BY_NAME = frozenset({"containers", "initContainers", "volumes", "env", "imagePullSecrets"})
# Never owned by a manager (structured-merge-diff's StripMeta).
STRIPPED: frozenset[Path] = frozenset(
    {
        ("f:apiVersion",),
        ("f:kind",),
        ("f:metadata", "f:name"),
        ("f:metadata", "f:namespace"),
        ("f:metadata", "f:uid"),
        ("f:metadata", "f:resourceVersion"),
        ("f:metadata", "f:generation"),
        ("f:metadata", "f:creationTimestamp"),
        ("f:metadata", "f:managedFields"),
        ("f:metadata", "f:selfLink"),
        ("f:metadata", "f:deletionTimestamp"),
        ("f:metadata", "f:deletionGracePeriodSeconds"),
    }
)


def child_schema(schema: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    if schema is None:
        return None
    props = schema.get("properties")
    if isinstance(props, dict) and key in props:
        child: dict[str, Any] = props[key]
        return child
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        return extra
    return None


def list_keys(schema: dict[str, Any] | None, name: str, items: list[Any]) -> tuple[str, ...] | str:
    """How a list merges: a tuple of key fields, "set", or "atomic"."""
    if schema is not None and "x-kubernetes-list-type" in schema:
        kind = schema["x-kubernetes-list-type"]
        if kind == "map":
            return tuple(schema.get("x-kubernetes-list-map-keys", ()))
        return "set" if kind == "set" else "atomic"
    if (
        schema is None
        and name in _KEYED_BY_NAME
        and all(isinstance(i, dict) and "name" in i for i in items)
    ):
        return ("name",)
    return "atomic"


def item_element(item: Any, keys: tuple[str, ...] | str) -> str:
    if isinstance(keys, tuple):
        return "k:" + json.dumps({k: item.get(k) for k in keys}, separators=(",", ":"))
    return "v:" + json.dumps(item, separators=(",", ":"), sort_keys=True)


def field_set(obj: dict[str, Any], schema: dict[str, Any] | None) -> set[Path]:
    """The leaves of `obj` (and keyed list items), minus the fields no manager owns."""
    out: set[Path] = set()
    _walk_map(obj, schema, (), out)
    return {p for p in out if not any(p[: len(s)] == s for s in STRIPPED)}


def _walk_map(
    value: dict[str, Any], schema: dict[str, Any] | None, path: Path, out: set[Path]
) -> None:
    for key, child in value.items():
        sub = child_schema(schema, key)
        _walk_value(child, sub, key, (*path, f"f:{key}"), out)


def _walk_value(
    value: Any, schema: dict[str, Any] | None, name: str, path: Path, out: set[Path]
) -> None:
    if (
        isinstance(value, dict)
        and value
        and (schema or {}).get("x-kubernetes-map-type") != "atomic"
    ):
        _walk_map(value, schema, path, out)
    elif isinstance(value, list) and value:
        keys = list_keys(schema, name, value)
        if keys == "atomic":
            out.add(path)
            return
        items = (schema or {}).get("items")
        for item in value:
            item_path = (*path, item_element(item, keys))
            out.add(item_path)
            if isinstance(item, dict) and keys != "set":
                _walk_map(item, items, item_path, out)
    else:
        out.add(path)


def to_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    """FieldsV1 JSON: a tree of path elements, `.` marking a node that is itself a member."""
    tree: dict[str, Any] = {}
    members = sorted(set(paths))
    for path in members:
        node = tree
        for element in path:
            node = node.setdefault(element, {})
    for path in members:
        node = tree
        for element in path:
            node = node[element]
        if node and "." not in node:
            node["."] = {}
    return _sorted_tree(tree)


def _sorted_tree(tree: dict[str, Any]) -> dict[str, Any]:
    return {k: _sorted_tree(tree[k]) for k in sorted(tree, key=lambda k: (k != ".", k))}


def from_fields_v1(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for element, child in tree.items():
        if element == ".":
            out.add(prefix)
            continue
        path = (*prefix, element)
        if child:
            out |= from_fields_v1(child, path)
        else:
            out.add(path)
    return out


def path_string(path: Path) -> str:
    """`.spec.interval`, `.spec.containers[name="app"].image`, as conflict messages show."""
    parts: list[str] = []
    for element in path:
        kind, _, rest = element.partition(":")
        if kind == "f":
            parts.append(f".{rest}")
        elif kind == "k":
            keys = json.loads(rest)
            parts.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]")
        else:
            parts.append(f"[={rest}]")
    return "".join(parts)


def _find_item(items: list[Any], element: str) -> int | None:
    kind, _, rest = element.partition(":")
    wanted = json.loads(rest)
    for index, item in enumerate(items):
        if kind == "k" and isinstance(item, dict):
            if all(item.get(k) == v for k, v in wanted.items()):
                return index
        elif kind == "v" and item == wanted:
            return index
    return None


def get_at(obj: Any, path: Path) -> Any:
    node = obj
    for element in path:
        if element.startswith("f:"):
            if not isinstance(node, dict) or element[2:] not in node:
                return MISSING
            node = node[element[2:]]
        else:
            if not isinstance(node, list):
                return MISSING
            index = _find_item(node, element)
            if index is None:
                return MISSING
            node = node[index]
    return node


def remove_at(obj: dict[str, Any], path: Path) -> None:
    """Delete the field or list item at `path`, and any map or list it leaves empty."""
    if not path:
        return
    parent = get_at(obj, path[:-1])
    last = path[-1]
    if isinstance(parent, dict) and last.startswith("f:"):
        parent.pop(last[2:], None)
    elif isinstance(parent, list):
        index = _find_item(parent, last)
        if index is not None:
            del parent[index]
    else:
        return
    if len(path) > 2 and parent in ({}, []):
        remove_at(obj, path[:-1])
