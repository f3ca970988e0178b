"""Top-level commands: version, templates, doctor, forge connect, worker, sandbox, demo."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import SecretStr
from rich.markup import escape
from rich.table import Table

from slipway import __version__
from slipway.cli._app import (
    JsonOption,
    app,
    emit_json,
    err,
    forge_app,
    headers,
    out,
    templates_app,
    tr,
    wants_json,
)
from slipway.domain.errors import InvalidInput
from slipway.domain.model import ForgeKind
from slipway.domain.text import t

if TYPE_CHECKING:
    from slipway.service.workers import ResumedRun


@app.command()
def version(json_output: JsonOption = False) -> None:
    """Print Slipway's version."""
    if wants_json(json_output):
        emit_json({"version": __version__})
    else:
        out.print(f"slipway {__version__}")


# -- templates -------------------------------------------------------------------------------


@templates_app.command("list")
def templates_list(json_output: JsonOption = False) -> None:
    """List the built-in and configured templates with their parameters."""
    from slipway import service

    infos = service.list_templates(service.load_settings())
    if wants_json(json_output):
        emit_json([info.to_dict() for info in infos])
        return
    table = Table(*headers(t("template"), t("description"), t("parameters")))
    for info in infos:
        params = ", ".join(
            f"{p.name}={p.default}" if p.default is not None else p.name for p in info.parameters
        )
        table.add_row(info.name, info.description, params)
    out.print(table)


# -- doctor ----------------------------------------------------------------------------------


@app.command()
def doctor(json_output: JsonOption = False) -> None:
    """Preflight: cluster, Flux, RBAC and forge token. Exit 0 only when every check passes."""
    from slipway import service

    with service.application() as instance:
        checks = asyncio.run(service.doctor(instance))
    if wants_json(json_output):
        emit_json({"ok": all(c.ok for c in checks), "checks": [c.__dict__ for c in checks]})
    else:
        for check in checks:
            mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
            out.print(
                f"{mark} {escape(check.name)}: {escape(tr(check.detail))}",
                highlight=False,
            )
            if not check.ok and check.fix:
                out.print(tr(t("       fix: {fix}", fix=escape(tr(check.fix)))), highlight=False)
    if not all(c.ok for c in checks):
        raise typer.Exit(5)


# -- forge -----------------------------------------------------------------------------------


@forge_app.command("connect")
def forge_connect(
    kind: Annotated[ForgeKind, typer.Argument(help="The kind of forge.")],
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read the token from stdin.")
    ] = False,
    url: Annotated[str | None, typer.Option("--url", help="API URL (GHE, self-hosted).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Validate a forge token and store it encrypted."""
    from slipway import service
    from slipway.service.forges import check_forge_url

    check_forge_url(url)  # before waiting for a token on stdin
    if not token_stdin:
        raise InvalidInput(
            "--token-stdin",
            t("is required: tokens are read from standard input, never from arguments"),
            hint=t('echo "$TOKEN" | slipway forge connect {forge} --token-stdin', forge=kind.value),
        )
    token = SecretStr(sys.stdin.readline().strip())
    with service.application() as instance:
        connection = asyncio.run(service.connect_forge(instance, kind, token, url=url))
    if wants_json(json_output):
        emit_json(connection.to_dict())
    else:
        said = t(
            "connected {forge} as {account}", forge=kind.value, account=escape(connection.account)
        )
        out.print(tr(said), highlight=False)
        if connection.missing_scopes:
            scopes = escape(", ".join(connection.missing_scopes))
            err.print(tr(t("[yellow]warning:[/yellow] missing scopes: {scopes}", scopes=scopes)))


@forge_app.command("list")
def forge_list(json_output: JsonOption = False) -> None:
    """The stored forge connections (never their tokens)."""
    from slipway import service

    with service.application() as instance:
        connections = service.list_connections(instance)
    if wants_json(json_output):
        emit_json([c.to_dict() for c in connections])
        return
    if not connections:
        out.print(tr(t("no stored forge connections; add one with `slipway forge connect`")))
        return
    table = Table(*headers(t("id"), t("forge"), t("url"), t("account"), t("token"), t("scopes")))
    for c in connections:
        table.add_row(str(c.id), c.forge, c.url, c.account, c.token_kind, ", ".join(c.scopes or ()))
    out.print(table)


@forge_app.command("disconnect")
def forge_disconnect(
    kind: Annotated[ForgeKind, typer.Argument(help="The kind of forge.")],
    url: Annotated[str | None, typer.Option("--url", help="API URL (GHE, self-hosted).")] = None,
    account: Annotated[str | None, typer.Option("--account", help="When several.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Delete a stored forge connection and its encrypted token."""
    from slipway import service

    with service.application() as instance:
        removed = service.disconnect_forge(instance, kind, url=url, account=account)
    if wants_json(json_output):
        emit_json(removed.to_dict())
    else:
        said = t(
            "disconnected {forge} account {account}",
            forge=removed.forge,
            account=escape(removed.account),
        )
        out.print(tr(said), highlight=False)


# -- projects --------------------------------------------------------------------------------


@app.command()
def worker(
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Exit when nothing is left.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Run queued and interrupted initializations (takes over dead workers' runs).

    Prints one line per run it took over or found never queued (project and step; a JSON
    object per line under --json). SIGTERM and Ctrl-C stop it gracefully: its lease is
    handed over at once, so another worker resumes whatever it had in flight."""
    import signal
    import threading

    from slipway import service

    as_json = wants_json(json_output)

    def resumed(run: ResumedRun) -> None:
        if as_json:
            emit_json({"resumed": run.to_dict()}, indent=None)
        else:
            said = t(
                "resumed {project} at step {step} ({how})",
                project=run.project,
                step=run.step,
                how=run.how,
            )
            out.print(tr(said), highlight=False, markup=False)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with service.application() as instance, contextlib.suppress(KeyboardInterrupt):
        service.run_worker(
            instance,
            stop=stop,
            until_idle=until_idle,
            on_start=lambda executor: err.print(
                tr(t("worker {executor} started", executor=executor)), highlight=False
            ),
            on_resume=resumed,
        )


@app.command()
def sandbox(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to write kubeconfig and sandbox.env.")
    ] = Path(".slipway/sandbox"),
) -> None:
    """Run the forge, Kubernetes and Flux emulators until stopped (Ctrl-C)."""
    import signal
    import threading

    from slipway.sandbox.runner import Sandbox

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Sandbox(directory.resolve()) as running:
        assert running.forge is not None and running.kube is not None
        err.print(f"forge      {running.forge.url}", highlight=False)
        err.print(f"kubernetes {running.kube.url}", highlight=False)
        err.print(f"kubeconfig {running.kubeconfig}", highlight=False)
        err.print(f"env        source {running.env_file}", highlight=False)
        print("ready", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass


@app.command()
def demo(
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Serve the REST API over the sandbox until stopped, for a user admin whose "
            "token and a curl session are printed (instead of creating a project here).",
        ),
    ] = False,
    port: Annotated[
        int, typer.Option(help="With --serve: the port on 127.0.0.1 (0: any free port).")
    ] = 8000,
    json_output: JsonOption = False,
) -> None:
    """Start the sandbox, create a project from the default template, wait until Ready.

    With --serve: the REST API over the sandbox instead, until Ctrl-C or SIGTERM."""
    from slipway.cli.demo import run_demo, serve_demo

    if serve:
        serve_demo(out=out, err=err, port=port, as_json=wants_json(json_output))
        return
    result = run_demo(out=out, err=err, quiet=wants_json(json_output))
    if wants_json(json_output):
        emit_json(result)
    if result["status"] != "active":
        raise typer.Exit(1)
