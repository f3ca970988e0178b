"""What the server checks and fills in on every write before storing an object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slipway.sandbox.kube import _rbac_validation, _schema
from slipway.sandbox.kube._resources import NAMESPACES, ResourceType
from slipway.sandbox.kube._status import KubeApiError, bad_request, invalid

FIELD_VALIDATION = ("Strict", "Warn", "Ignore")


@dataclass
class WriteOptions:
    """Query options shared by create, update, patch and apply."""

    manager: str
    dry_run: bool = False
    field_validation: str = "Warn"
    force: bool = False
    warnings: list[str] = field(default_factory=list)


def check_identity(rt: ResourceType, obj: dict[str, Any], namespace: str, name: str | None) -> None:
    """The body's kind, namespace and name must agree with the URL (400 otherwise)."""
    if obj.get("kind") not in (None, "", rt.kind) or obj.get("apiVersion") not in (
        None,
        "",
        rt.api_version,
    ):
        raise bad_request(
            f"the API version in the data ({obj.get('apiVersion')}) does not match the expected "
            f"API version ({rt.api_version})"
            if obj.get("apiVersion") not in (None, "", rt.api_version)
            else f"the kind in the data ({obj.get('kind')}) does not match the expected kind "
            f"({rt.kind})"
        )
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    if rt.namespaced:
        if meta.get("namespace") not in (None, "", namespace):
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    if name is not None and meta.get("name") not in (None, "", name):
        raise bad_request(
            f"the name of the object ({meta.get('name')}) does not match the name on the URL "
            f"({name})"
        )
    if name is not None:
        meta["name"] = name
    obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind


def prepare(rt: ResourceType, obj: dict[str, Any], opts: WriteOptions) -> None:
    """Prune unknown fields (or refuse them under `fieldValidation=Strict`), fill schema
    defaults and validate; raises 400 or 422 Status errors."""
    name = str(obj.get("metadata", {}).get("name") or "")
    if rt in _rbac_validation.RBAC_TYPES:
        causes = _rbac_validation.name_causes(name) + _rbac_validation.validate(rt, obj)
    else:
        causes = _schema.validate_name(name, label=rt == NAMESPACES)
    if causes:
        raise invalid(rt, name, causes)
    if rt.schema is None:
        return
    probe = {k: v for k, v in obj.items() if k != "metadata"}
    unknown = _schema.prune_unknown(probe, rt.schema)
    if unknown and opts.field_validation == "Strict":
        fields = ", ".join(f'unknown field "{u}"' for u in unknown)
        raise KubeApiError(400, "BadRequest", f"strict decoding error: {fields}")
    if unknown and opts.field_validation == "Warn":
        opts.warnings.extend(f'unknown field "{u}"' for u in unknown)
    for key in [k for k in obj if k != "metadata" and k not in probe]:
        del obj[key]
    obj.update(probe)
    _schema.apply_defaults(obj, rt.schema)
    causes = _schema.validate(obj, rt.schema)
    if causes:
        raise invalid(rt, name, causes)
