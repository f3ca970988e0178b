"""The sandbox's reduced Flux CRDs must be exactly what scripts/reduce_crds.py makes of the
contract in ../shared/contracts/flux."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[3]
CONTRACT = REPO.parent / "shared" / "contracts" / "flux"
COPY = REPO / "src" / "slipway" / "sandbox" / "kube" / "crds"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "reduce_crds", REPO / "scripts" / "reduce_crds.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not CONTRACT.is_dir(), reason=f"contract folder {CONTRACT} is not present")
def test_committed_copy_matches_the_contract() -> None:
    expected = _script().render(CONTRACT)
    committed = {p.name: p.read_text(encoding="utf-8") for p in COPY.glob("*.json")}
    assert sorted(committed) == sorted(expected), (
        "run: python scripts/reduce_crds.py ../shared/contracts/flux"
    )
    for name, text in expected.items():
        assert committed[name] == text, f"{name} is stale: run scripts/reduce_crds.py"


def test_copy_keeps_structure_and_drops_prose() -> None:
    crd = json.loads((COPY / "kustomizations.kustomize.toolkit.fluxcd.io.json").read_text())
    [version] = crd["spec"]["versions"]
    assert (version["name"], version["served"], version["subresources"]) == (
        "v1",
        True,
        {"status": {}},
    )
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert set(spec["required"]) >= {"interval", "prune", "sourceRef"}
    assert spec["properties"]["interval"]["pattern"].startswith("^")
    assert "description" not in json.dumps(crd)
