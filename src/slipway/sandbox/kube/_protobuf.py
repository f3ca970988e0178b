"""Decode the Kubernetes protobuf bodies kubectl sends for built-in kinds.

kubectl (client-go) writes built-in objects as `application/vnd.kubernetes.protobuf` and has
no JSON fallback, so the emulator reads the envelope (`k8s\\0` + runtime.Unknown) and the few
messages kubectl creates: Namespace, Secret, ConfigMap, ServiceAccount,
SelfSubjectAccessReview (`kubectl auth can-i`) and SelfSubjectRulesReview (`... --list`).
Field numbers are those of k8s.io/api's generated.proto. Responses are always JSON, which
every client accepts.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from slipway.sandbox.kube._status import KubeApiError

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

# A message schema: field number -> (json name, kind, nested schema); kinds: str, bytes, bool,
# int, msg, map (string->string), bmap (string->bytes); repeated fields end with "[]".
Schema = dict[int, tuple[str, str, Any]]

OBJECT_META: Schema = {
    1: ("name", "str", None),
    2: ("generateName", "str", None),
    3: ("namespace", "str", None),
    6: ("resourceVersion", "str", None),
    11: ("labels", "map", None),
    12: ("annotations", "map", None),
    14: ("finalizers", "str[]", None),
}
OBJECT_REFERENCE: Schema = {
    1: ("kind", "str", None),
    2: ("namespace", "str", None),
    3: ("name", "str", None),
    5: ("apiVersion", "str", None),
}
LOCAL_REFERENCE: Schema = {1: ("name", "str", None)}
RESOURCE_ATTRIBUTES: Schema = {
    1: ("namespace", "str", None),
    2: ("verb", "str", None),
    3: ("group", "str", None),
    4: ("version", "str", None),
    5: ("resource", "str", None),
    6: ("subresource", "str", None),
    7: ("name", "str", None),
}
NON_RESOURCE_ATTRIBUTES: Schema = {1: ("path", "str", None), 2: ("verb", "str", None)}
KINDS: dict[tuple[str, str], Schema] = {
    ("v1", "Namespace"): {
        1: ("metadata", "msg", OBJECT_META),
        2: ("spec", "msg", {1: ("finalizers", "str[]", None)}),
    },
    ("v1", "Secret"): {
        1: ("metadata", "msg", OBJECT_META),
        2: ("data", "bmap", None),
        3: ("type", "str", None),
        4: ("stringData", "map", None),
        5: ("immutable", "bool", None),
    },
    ("v1", "ConfigMap"): {
        1: ("metadata", "msg", OBJECT_META),
        2: ("data", "map", None),
        3: ("binaryData", "bmap", None),
        4: ("immutable", "bool", None),
    },
    ("v1", "ServiceAccount"): {
        1: ("metadata", "msg", OBJECT_META),
        2: ("secrets", "msg[]", OBJECT_REFERENCE),
        3: ("imagePullSecrets", "msg[]", LOCAL_REFERENCE),
        4: ("automountServiceAccountToken", "bool", None),
    },
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): {
        1: ("metadata", "msg", OBJECT_META),
        2: (
            "spec",
            "msg",
            {
                1: ("resourceAttributes", "msg", RESOURCE_ATTRIBUTES),
                2: ("nonResourceAttributes", "msg", NON_RESOURCE_ATTRIBUTES),
            },
        ),
    },
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): {
        1: ("metadata", "msg", OBJECT_META),
        2: ("spec", "msg", {1: ("namespace", "str", None)}),
    },
}
UNKNOWN: Schema = {
    1: ("typeMeta", "msg", {1: ("apiVersion", "str", None), 2: ("kind", "str", None)}),
    2: ("raw", "bytes", None),
}


def _unsupported() -> KubeApiError:
    return KubeApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json, application/yaml",
    )


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(data):
            raise _unsupported()
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            yield number, data[pos : pos + length]
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise _unsupported()


def _decode(data: bytes, schema: Schema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, raw in _fields(data):
        if number not in schema:
            continue
        name, kind, nested = schema[number]
        repeated = kind.endswith("[]")
        kind = kind.removesuffix("[]")
        value: Any
        if kind in ("map", "bmap") and isinstance(raw, bytes):
            entry = {n: v for n, v in _fields(raw)}
            key = bytes(entry.get(1, b"")).decode()
            item = bytes(entry.get(2, b""))
            text = base64.b64encode(item).decode() if kind == "bmap" else item.decode()
            out.setdefault(name, {})[key] = text
            continue
        if kind == "msg" and isinstance(raw, bytes):
            value = _decode(raw, nested)
        elif kind == "str" and isinstance(raw, bytes):
            value = raw.decode()
        elif kind == "bytes":
            value = raw
        elif kind == "bool":
            value = bool(raw)
        else:
            value = raw
        if repeated:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out


def decode(body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded object; 415 for kinds this module does not know."""
    if not body.startswith(MAGIC):
        raise _unsupported()
    envelope = _decode(body[len(MAGIC) :], UNKNOWN)
    type_meta = envelope.get("typeMeta", {})
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    schema = KINDS.get((api_version, kind))
    if schema is None:
        raise _unsupported()
    obj = _decode(envelope.get("raw", b""), schema)
    return {"apiVersion": api_version, "kind": kind, **obj}
