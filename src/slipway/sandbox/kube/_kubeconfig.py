"""Kubeconfig files for the emulator: a token user, usable by kubectl and lightkube."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import SecretStr

CONTEXT = "slipway-sandbox"


def write_kubeconfig(
    path: str | os.PathLike[str],
    server_url: str,
    token: str | SecretStr,
    *,
    namespace: str = "default",
    name: str = CONTEXT,
    ca_data: str | None = None,
) -> Path:
    """Write (mode 0600, it holds a token) a kubeconfig whose current context talks to
    `server_url` as the bearer-token user; `ca_data` (base64 PEM) trusts an HTTPS server."""
    secret = token.get_secret_value() if isinstance(token, SecretStr) else token
    cluster: dict[str, str] = {"server": server_url}
    if ca_data:
        cluster["certificate-authority-data"] = ca_data
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": {"token": secret}}],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}
        ],
        "current-context": name,
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)
    os.chmod(target, 0o600)
    return target
