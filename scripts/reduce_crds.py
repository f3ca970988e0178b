"""Reduce the Flux CRDs to their structure for the sandbox's Kubernetes API emulator.

The product must not need ../shared at run time, so the emulator carries a copy of each CRD with
descriptions and CEL rules stripped (field names, types, enums, required, patterns, formats,
bounds and defaults kept). Usage:

    python scripts/reduce_crds.py ../shared/contracts/flux [src/slipway/sandbox/kube/crds]

tests/integration/kube/test_crd_copy.py checks the committed copy equals this script's output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "src/slipway/sandbox/kube/crds"

# Schema keywords that carry structure or cheap validation; everything else is dropped.
SCHEMA_KEYS = frozenset(
    {
        "type",
        "format",
        "enum",
        "required",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "default",
        "nullable",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-int-or-string",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-map-type",
    }
)
NESTED_ONE = ("items", "additionalProperties", "not")
NESTED_MANY = ("anyOf", "oneOf", "allOf")
VERSION_KEYS = ("name", "served", "storage", "deprecated", "subresources")
PRINTER_KEYS = ("name", "type", "jsonPath", "format", "priority")


def reduce_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """One schema node with its structure kept and its prose dropped."""
    out: dict[str, Any] = {k: v for k, v in schema.items() if k in SCHEMA_KEYS}
    if "properties" in schema:
        out["properties"] = {k: reduce_schema(v) for k, v in schema["properties"].items()}
    for key in NESTED_ONE:
        value = schema.get(key)
        if isinstance(value, dict):
            out[key] = reduce_schema(value)
        elif isinstance(value, bool):
            out[key] = value
    for key in NESTED_MANY:
        if key in schema:
            out[key] = [reduce_schema(s) for s in schema[key]]
    return out


def reduce_version(version: dict[str, Any]) -> dict[str, Any]:
    out = {k: version[k] for k in VERSION_KEYS if k in version}
    columns = version.get("additionalPrinterColumns")
    if columns:
        out["additionalPrinterColumns"] = [
            {k: c[k] for k in PRINTER_KEYS if k in c} for c in columns
        ]
    schema = version.get("schema", {}).get("openAPIV3Schema")
    if schema is not None:
        out["schema"] = {"openAPIV3Schema": reduce_schema(schema)}
    return out


def reduce_crd(crd: dict[str, Any]) -> dict[str, Any]:
    """A CustomResourceDefinition with only what an API server needs to serve and validate it."""
    spec = crd["spec"]
    return {
        "apiVersion": crd["apiVersion"],
        "kind": crd["kind"],
        "metadata": {"name": crd["metadata"]["name"]},
        "spec": {
            "group": spec["group"],
            "names": spec["names"],
            "scope": spec["scope"],
            "versions": [reduce_version(v) for v in spec["versions"]],
        },
    }


def render(source: Path) -> dict[str, str]:
    """File name -> JSON text for every CRD in the YAML files of `source`."""
    files: dict[str, str] = {}
    for path in sorted(source.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            reduced = reduce_crd(doc)
            name = f"{reduced['metadata']['name']}.json"
            files[name] = json.dumps(reduced, indent=2, sort_keys=True) + "\n"
    return files


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    source = Path(argv[1])
    out = Path(argv[2]) if len(argv) == 3 else DEFAULT_OUT
    files = render(source)
    if not files:
        print(f"no CustomResourceDefinition found in {source}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
        print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
