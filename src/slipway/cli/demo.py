"""`slipway demo`: the whole product on the embedded sandbox, in one process.

Starts the forge, Kubernetes and Flux emulators, creates a project from the default
template with a live progress bar, waits until every environment is Ready, then shows what a
real client (kubectl) sees and how to look further. With `--serve` it serves the REST API over
the sandbox instead, for an admin whose forge is already connected, and prints a curl session.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Final

from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from slipway import service
from slipway.cli._app import headers, tr
from slipway.config import Settings
from slipway.domain.model import ForgeKind
from slipway.domain.text import t
from slipway.sandbox._kubectl import find_kubectl
from slipway.sandbox.runner import Sandbox

DEMO_PROJECT = "demo-site"
SERVE_PROJECT: Final = "shop"  # the project the printed curl session creates


def run_demo(*, out: Console, err: Console, quiet: bool = False) -> dict[str, Any]:
    from slipway.cli._render import follow

    root = Path(tempfile.mkdtemp(prefix="slipway-demo-"))
    try:
        with Sandbox(root / "sandbox") as sandbox:
            settings = _settings(root, sandbox)
            if not quiet:
                _where(err, sandbox)
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


def serve_demo(*, out: Console, err: Console, port: int, as_json: bool = False) -> None:
    """The REST API over a fresh sandbox on 127.0.0.1:`port` until SIGTERM or Ctrl-C. A user
    `admin` is created with the sandbox forge connected as theirs; once the API listens its
    URL and token are printed with a curl session to paste (under `as_json`: one line)."""
    from slipway.cli.serve import serve_api

    root = Path(tempfile.mkdtemp(prefix="slipway-demo-"))
    try:
        with Sandbox(root / "sandbox") as sandbox:
            settings = _settings(root, sandbox)
            _where(err, sandbox)
            with service.application(settings) as app:
                admin = service.create_user(app, "admin", admin=True)
                actor = service.authenticate(app, admin.token)
                token = SecretStr(sandbox.forge_token)
                asyncio.run(
                    service.connect_forge(app, ForgeKind.GITHUB, token, url=None, actor=actor)
                )

                def ready(url: str) -> None:
                    if as_json:
                        document = {"url": url, "token": admin.token.get_secret_value()}
                        print(json.dumps(document), flush=True)
                    else:
                        _print_session(out, url, admin.token, settings.default_template)

                serve_api(app, host="127.0.0.1", port=port, on_ready=ready)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _settings(root: Path, sandbox: Sandbox) -> Settings:
    """Slipway pointed at the sandbox, its data in `root`; the sandbox forge token is the
    fallback the operator's runs act as."""
    assert sandbox.forge is not None
    return Settings(
        data_dir=root / "data",
        forge=ForgeKind.GITHUB,
        forge_urls={ForgeKind.GITHUB: sandbox.forge.url},
        forge_token=SecretStr(sandbox.forge_token),
        kubeconfig=sandbox.kubeconfig,
        ready_timeout=120,
        lease_seconds=5,
    )


def _where(err: Console, sandbox: Sandbox) -> None:
    assert sandbox.forge is not None
    err.print(
        tr(
            t(
                "sandbox: forge {url}, cluster kubeconfig {kubeconfig}",
                url=sandbox.forge.url,
                kubeconfig=sandbox.kubeconfig,
            )
        ),
        highlight=False,
    )


def _print_session(out: Console, url: str, token: SecretStr, template: str) -> None:
    """What to paste into another shell: create a project, follow its progress live (SSE),
    then show it. The token is printed here once, as `slipway user create` does."""
    auth = '-H "Authorization: Bearer $SLIPWAY_TOKEN"'
    body = json.dumps({"name": SERVE_PROJECT, "template": template})
    project = f"$SLIPWAY_URL/api/v1/projects/{SERVE_PROJECT}"
    lines = [
        f"serving {url}",
        f"API docs at {url}/docs; the admin's API token is shown only now (SLIPWAY_TOKEN).",
        "Paste into another shell (Ctrl-C here stops the API and the sandbox):",
        "",
        f"export SLIPWAY_URL={url} SLIPWAY_TOKEN={token.get_secret_value()}",
        f"curl -sS {auth} -H 'Content-Type: application/json' \\",
        f"  -d '{body}' $SLIPWAY_URL/api/v1/projects",
        f"curl -N {auth} {project}/events/stream",
        f"curl -sS {auth} {project}",
    ]
    for line in lines:
        out.print(line, highlight=False, markup=False)


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
    table = Table(*headers(t("environment"), t("namespace"), t("status")))
    for env in view.environments:
        table.add_row(env.name, env.namespace, env.status)
    out.print(table)
    out.print(
        tr(
            t(
                "Secrets in the cluster: {secrets}; holding the forge token: "
                "{with_token} (Flux reads each repository with its own "
                "read-only deploy key over SSH)",
                secrets=secrets,
                with_token=with_token,
            )
        ),
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
    out.print(tr(t("\nWhat the cluster says (real kubectl against the sandbox):")), highlight=False)
    out.print(
        "$ " + " ".join([*command[0:1], "--kubeconfig", "KUBECONFIG", *command[3:]]),
        highlight=False,
    )
    if kubectl:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        out.print(done.stdout or done.stderr, highlight=False, markup=False)
    out.print(
        tr(
            t(
                "To keep exploring, run the sandbox in the foreground and "
                "point Slipway at it:\n  slipway sandbox --dir "
                ".slipway/sandbox &   # prints 'ready'\n  source "
                ".slipway/sandbox/sandbox.env\n  slipway project create shop "
                "--template {template} --wait\n  kubectl --kubeconfig "
                ".slipway/sandbox/kubeconfig get "
                "gitrepositories,kustomizations -A",
                template=view.template,
            )
        ),
        highlight=False,
    )
