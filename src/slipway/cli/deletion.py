"""`slipway project delete NAME [--delete-repo] [--yes]`."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from slipway.cli._app import JsonOption, emit_json, err, out, project_app, wants_json
from slipway.cli._render import progress_bar
from slipway.domain.errors import InvalidInput


@project_app.command("delete")
def project_delete(
    name: Annotated[str, typer.Argument(help="The project to delete.")],
    delete_repo: Annotated[
        bool,
        typer.Option(
            "--delete-repo",
            help="Delete the repository on the forge too (only one Slipway marked for this "
            "project and installation). Without it the repository stays and only Slipway's "
            "deploy key is removed.",
        ),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask to type the name to confirm.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Delete a project: its Kustomizations (Flux prunes the workloads), its other cluster
    objects and namespaces, its deploy key or repository, then its records."""
    from slipway import service
    from slipway.service.deletion import delete_project

    as_json = wants_json(json_output)
    if not yes:
        _confirm(name, delete_repo)
    with service.application() as app:
        service.show_project(app, name)  # NotFound (exit 3) before a worker starts
        with service.running_worker(app) as worker, progress_bar(quiet=as_json) as bar:
            view = asyncio.run(
                delete_project(app, name, delete_repo=delete_repo, worker=worker, on_event=bar.show)
            )
            if view.outcome == "deleted":
                bar.done(f"project {name} deleted")
    if as_json:
        emit_json(view.to_dict())
    elif view.outcome == "deleted":
        kept = "" if delete_repo else " (its repository stays; Slipway's deploy key is removed)"
        out.print(f"project {name} deleted{kept}", highlight=False, markup=False)
    else:
        step = view.failed_step or "error"
        message = (view.error_message or "").removeprefix(f"[{step}] ")
        out.print(f"project {name} not deleted: {step}: {message}", highlight=False, markup=False)
        out.print(
            f"it stays `deleting`; fix the cause and run `slipway project delete {name}` again",
            highlight=False,
            markup=False,
        )
    if view.outcome != "deleted":
        raise typer.Exit(1)


def _confirm(name: str, delete_repo: bool) -> None:
    """Asks to type the name; without a terminal to ask on, `--yes` is required."""
    if not sys.stdin.isatty():
        raise InvalidInput(
            "--yes",
            f"deleting {name} needs confirmation and there is no terminal to ask on",
            hint=f"run `slipway project delete {name} --yes` to delete without asking",
        )
    what = "its repository, " if delete_repo else ""
    err.print(
        f"This deletes project {name}: {what}its namespaces, Flux objects and workloads, "
        "and its records.",
        highlight=False,
        markup=False,
    )
    typed = typer.prompt("Type the project's name to confirm", err=True, default="")
    if typed.strip() != name:
        raise InvalidInput("confirmation", f"'{typed}' is not '{name}': nothing was deleted")
