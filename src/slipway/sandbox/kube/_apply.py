"""Server-side apply and managedFields bookkeeping (structured-merge-diff, simplified).

Apply: the applied configuration's field set becomes the manager's `Apply` entry; a field also
owned by another manager with a different value is a conflict unless `force`; fields the
manager applied before and dropped now are removed when nobody else owns them. Other writes
(create, update, merge patch, status) record an `Update` entry owning what they changed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from slipway.sandbox.kube._fieldpath import (
    MISSING,
    Path,
    child_schema,
    field_set,
    from_fields_v1,
    get_at,
    item_element,
    list_keys,
    path_string,
    remove_at,
    to_fields_v1,
)
from slipway.sandbox.kube._resources import ResourceType
from slipway.sandbox.kube._status import apply_conflicts

STATUS = "f:status"
WRITE_ONLY = ("f:stringData",)


@dataclass
class ManagedEntry:
    """One `metadata.managedFields` item."""

    manager: str
    operation: str
    api_version: str
    time: str
    fields: set[Path] = field(default_factory=set)
    subresource: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.manager, self.operation, self.subresource)

    def describe(self) -> str:
        """How conflict messages name a manager (apiserver's printManager)."""
        text = f'"{self.manager}"'
        if self.subresource:
            text += f' with subresource "{self.subresource}"'
        if self.operation == "Update":
            text += f" using {self.api_version} at {self.time}"
        return text

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(self.fields),
        }
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def load_managed(obj: dict[str, Any] | None) -> list[ManagedEntry]:
    if not obj:
        return []
    return [
        ManagedEntry(
            manager=e.get("manager", ""),
            operation=e.get("operation", "Update"),
            api_version=e.get("apiVersion", ""),
            time=e.get("time", ""),
            fields=from_fields_v1(e.get("fieldsV1") or {}),
            subresource=e.get("subresource", ""),
        )
        for e in obj.get("metadata", {}).get("managedFields") or []
    ]


def _store(obj: dict[str, Any], entries: list[ManagedEntry]) -> None:
    kept = [e.to_dict() for e in entries if e.fields]
    if kept:
        obj.setdefault("metadata", {})["managedFields"] = kept
    else:
        obj.get("metadata", {}).pop("managedFields", None)


def scoped_set(obj: dict[str, Any], rt: ResourceType, subresource: str) -> set[Path]:
    """Fields a write through this endpoint may own: status only through `/status`."""
    paths = field_set(obj, rt.schema)
    if not rt.status_subresource:
        return paths
    if subresource == "status":
        return {p for p in paths if p[:1] == (STATUS,)}
    return {p for p in paths if p[:1] != (STATUS,)}


def _entry(
    entries: list[ManagedEntry], key: tuple[str, str, str], api_version: str, now: str
) -> ManagedEntry:
    for entry in entries:
        if entry.key == key:
            return entry
    entry = ManagedEntry(key[0], key[1], api_version, now, set(), key[2])
    entries.append(entry)
    return entry


def merge(live: Any, applied: Any, schema: dict[str, Any] | None, name: str = "") -> Any:
    """Merge an applied configuration into a live value: maps field by field, keyed lists
    item by item, everything else replaced."""
    atomic_map = (schema or {}).get("x-kubernetes-map-type") == "atomic"
    if isinstance(applied, dict) and isinstance(live, dict) and not atomic_map:
        out = dict(live)
        for key, value in applied.items():
            out[key] = merge(live.get(key, MISSING), value, child_schema(schema, key), key)
        return out
    if isinstance(applied, list) and isinstance(live, list):
        keys = list_keys(schema, name, applied + live)
        if keys == "atomic":
            return copy.deepcopy(applied)
        items_schema = (schema or {}).get("items")
        merged = list(live)
        for item in applied:
            element = item_element(item, keys)
            index = next(
                (i for i, old in enumerate(merged) if item_element(old, keys) == element), None
            )
            if index is None:
                merged.append(copy.deepcopy(item))
            elif keys != "set":
                merged[index] = merge(merged[index], item, items_schema)
        return merged
    return copy.deepcopy(applied)


def apply(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    *,
    rt: ResourceType,
    manager: str,
    force: bool,
    now: str,
) -> dict[str, Any]:
    """The object after `manager` applies `config` to `live` (None: create). Raises the 409
    apply-conflict Status when another manager owns a field with another value."""
    config = copy.deepcopy(config)
    if rt.status_subresource:
        config.pop("status", None)
    config.get("metadata", {}).pop("managedFields", None)
    base: dict[str, Any] = copy.deepcopy(live) if live else {}
    entries = load_managed(live)
    applied = scoped_set(config, rt, "")
    mine = _entry(entries, (manager, "Apply", ""), rt.api_version, now)
    previous = set(mine.fields)

    conflicts: list[tuple[ManagedEntry, Path]] = []
    for entry in entries:
        if entry is mine:
            continue
        for path in sorted(applied & entry.fields):
            if get_at(base, path) != get_at(config, path):
                conflicts.append((entry, path))
    if conflicts and not force:
        raise apply_conflicts([(e.describe(), path_string(p)) for e, p in conflicts])
    for entry, path in conflicts:
        entry.fields.discard(path)

    owned_by_others: set[Path] = set()
    for entry in entries:
        if entry is not mine:
            owned_by_others |= entry.fields
    for path in sorted(previous - applied - owned_by_others, key=len, reverse=True):
        remove_at(base, path)

    result: dict[str, Any] = merge(base, config, rt.schema)
    if mine.fields != applied or not previous:
        mine.time = now
    mine.fields = applied
    mine.api_version = rt.api_version
    _prune(entries, result)
    _store(result, entries)
    return result


def track_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    rt: ResourceType,
    manager: str,
    now: str,
    subresource: str = "",
) -> None:
    """Record on `new` that `manager` (an Update operation) now owns what it changed."""
    entries = load_managed(old)
    new_set = scoped_set(new, rt, subresource)
    changed = {p for p in new_set if old is None or get_at(old, p) != get_at(new, p)}
    if changed:
        entry = _entry(entries, (manager, "Update", subresource), rt.api_version, now)
        entry.fields |= changed
        entry.time = now
        entry.api_version = rt.api_version
        for other in entries:
            if other is not entry:
                other.fields -= changed
    _prune(entries, new)
    _store(new, entries)


def _prune(entries: list[ManagedEntry], obj: dict[str, Any]) -> None:
    """Nobody owns a field that no longer exists (except Secret `stringData`, which the server
    folds into `data` but whose ownership it keeps, as a real server does)."""
    for entry in entries:
        entry.fields = {
            p for p in entry.fields if p[:1] == WRITE_ONLY or get_at(obj, p) is not MISSING
        }
