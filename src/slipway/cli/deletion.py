"""`slipway project delete NAME [--delete-repo] [--yes]`."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from slipway.cli._app import JsonOption, emit_json, err, out, project_app, tr, wants_json
from slipway.cli._render import progress_bar
from slipway.domain.errors import InvalidInput
from slipway.domain.text import t


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
                bar.done(tr(t("project {name} deleted", name=name)))
    if as_json:
        emit_json(view.to_dict())
    elif view.outcome == "deleted":
        said = (
            t("project {name} deleted", name=name)
            if delete_repo
            else t(
                "project {name} deleted (its repository stays; Slipway's deploy key is removed)",
                name=name,
            )
        )
        out.print(
            tr(said),
            highlight=False,
            markup=False,
        )
    else:
        step = view.failed_step or "error"
        message = tr(view.error_message or "").removeprefix(f"[{step}] ")
        out.print(
            tr(
                t(
                    "project {name} not deleted: {step}: {message}",
                    name=name,
                    step=step,
                    message=message,
                )
            ),
            highlight=False,
            markup=False,
        )
        out.print(
            tr(
                t(
                    "it stays `deleting`; fix the cause and run `slipway project "
                    "delete {name}` again",
                    name=name,
                )
            ),
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
            t("deleting {name} needs confirmation and there is no terminal to ask on", name=name),
            hint=t("run `slipway project delete {name} --yes` to delete without asking", name=name),
        )
    said = (
        t(
            "This deletes project {name}: its repository, its namespaces, Flux objects and "
            "workloads, and its records.",
            name=name,
        )
        if delete_repo
        else t(
            "This deletes project {name}: its namespaces, Flux objects and workloads, and its "
            "records.",
            name=name,
        )
    )
    err.print(
        tr(said),
        highlight=False,
        markup=False,
    )
    typed = typer.prompt(tr(t("Type the project's name to confirm")), err=True, default="")
    if typed.strip() != name:
        raise InvalidInput(
            "confirmation",
            t("'{typed}' is not '{name}': nothing was deleted", typed=typed, name=name),
        )
