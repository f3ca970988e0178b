"""`slipway demo`: the whole product on the embedded sandbox, in one process.

Starts the forge, Kubernetes and Flux emulators, creates a project from the default
template with a live progress bar, waits until every environment is Ready, then shows what a
real client (kubectl) sees and how to look further.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from slipway import service
from slipway.config import Settings
from slipway.domain.model import ForgeKind
from slipway.sandbox._kubectl import find_kubectl
from slipway.sandbox.runner import Sandbox

DEMO_PROJECT = "demo-site"


def run_demo(*, out: Console, err: Console, quiet: bool = False) -> dict[str, Any]:
    from slipway.cli._render import follow

    root = Path(tempfile.mkdtemp(prefix="slipway-demo-"))
    try:
        with Sandbox(root / "sandbox") as sandbox:
            assert sandbox.forge is not None
            settings = Settings(
                data_dir=root / "data",
                forge=ForgeKind.GITHUB,
                forge_urls={ForgeKind.GITHUB: sandbox.forge.url},
                forge_token=SecretStr(sandbox.forge_token),
                kubeconfig=sandbox.kubeconfig,
                ready_timeout=120,
                lease_seconds=5,
            )
            if not quiet:
                err.print(
                    f"sandbox: forge {sandbox.forge.url}, cluster kubeconfig {sandbox.kubeconfig}",
                    highlight=False,
                )
            request = service.CreateRequest(name=DEMO_PROJECT, template=settings.default_template)
            with service.application(settings) as app, service.running_worker(app) as worker:

                async def create_and_follow() -> str | None:
                    await service.create_project(app, request, worker=worker)
                    return await follow(app, DEMO_PROJECT, quiet=quiet)

                final = asyncio.run(create_and_follow())
                view = service.show_project(app, DEMO_PROJECT)
            secrets, with_token = _secrets_holding(sandbox, sandbox.forge_token)
            if not quiet:
                _summary(out, view, sandbox, secrets=secrets, with_token=with_token)
            return {
                "final": final,
                **view.to_dict(),
                "cluster_secrets": secrets,
                "cluster_secrets_holding_the_forge_token": with_token,
            }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _secrets_holding(sandbox: Sandbox, token: str) -> tuple[int, int]:
    """How many Secrets the cluster holds, and how many hold `token` in any decoded value:
    the demo's proof that the user's token stays out of the cluster."""
    assert sandbox.kube is not None
    secrets = sandbox.kube.list("v1", "Secret")
    holding = sum(
        any(token in base64.b64decode(value).decode(errors="replace") for value in data.values())
        for data in (secret.get("data") or {} for secret in secrets)
    )
    return len(secrets), holding


def _summary(
    out: Console, view: service.ProjectView, sandbox: Sandbox, *, secrets: int, with_token: int
) -> None:
    from slipway.cli._render import print_project

    print_project(view)
    table = Table("environment", "namespace", "status")
    for env in view.environments:
        table.add_row(env.name, env.namespace, env.status)
    out.print(table)
    out.print(
        f"Secrets in the cluster: {secrets}; holding the forge token: {with_token} "
        "(Flux reads each repository with its own read-only deploy key over SSH)",
        highlight=False,
    )
    kubectl = find_kubectl()
    command = [
        kubectl or "kubectl",
        "--kubeconfig",
        str(sandbox.kubeconfig),
        "get",
        "gitrepositories,kustomizations",
        "-A",
    ]
    out.print("\nWhat the cluster says (real kubectl against the sandbox):", highlight=False)
    out.print(
        "$ " + " ".join([*command[0:1], "--kubeconfig", "KUBECONFIG", *command[3:]]),
        highlight=False,
    )
    if kubectl:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        out.print(done.stdout or done.stderr, highlight=False, markup=False)
    out.print(
        "To keep exploring, run the sandbox in the foreground and point Slipway at it:\n"
        "  slipway sandbox --dir .slipway/sandbox &   # prints 'ready'\n"
        "  source .slipway/sandbox/sandbox.env\n"
        f"  slipway project create shop --template {view.template} --wait\n"
        "  kubectl --kubeconfig .slipway/sandbox/kubeconfig get gitrepositories,kustomizations -A",
        highlight=False,
    )
