"""`slipway` command line. Commands parse options, call the service layer and render; errors
are rendered once, in `main`, as one line (or `{"error": ...}` under --json)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from slipway import __version__
from slipway.domain.errors import SlipwayError

# Locals can hold tokens: never print them in a traceback.
app = typer.Typer(pretty_exceptions_show_locals=False, no_args_is_help=True, add_completion=False)
templates_app = typer.Typer(no_args_is_help=True, help="Project templates.")
app.add_typer(templates_app, name="templates")

out = Console()
err = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


@dataclass
class _State:
    json: bool = False
    debug: bool = False


state = _State()


@app.callback()
def _root(
    json_output: JsonOption = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    """Slipway: a repository and Flux GitOps objects per environment, from one request."""
    state.json = state.json or json_output
    state.debug = debug


def emit_json(document: Any) -> None:
    out.print_json(json.dumps(document, default=str))


@app.command()
def version(json_output: JsonOption = False) -> None:
    """Print Slipway's version."""
    if json_output or state.json:
        emit_json({"version": __version__})
    else:
        out.print(f"slipway {__version__}")


@templates_app.command("list")
def templates_list(json_output: JsonOption = False) -> None:
    """List the built-in and configured templates with their parameters."""
    from slipway import service

    infos = service.list_templates()
    if json_output or state.json:
        emit_json([info.to_dict() for info in infos])
        return
    table = Table("template", "description", "parameters")
    for info in infos:
        params = ", ".join(
            f"{p.name}={p.default}" if p.default is not None else p.name for p in info.parameters
        )
        table.add_row(info.name, info.description, params)
    out.print(table)


def _render_error(exc: SlipwayError) -> int:
    if state.json:
        print(json.dumps({"error": exc.to_dict()}))
    else:
        err.print(f"[red]error:[/red] {exc}", highlight=False, markup=True, soft_wrap=True)
    return exc.exit_code


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the Typer app and turns Slipway errors into one line and an exit code."""
    state.json = "--json" in (argv if argv is not None else sys.argv[1:])
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="slipway", standalone_mode=False)
    except SlipwayError as exc:
        if state.debug:
            raise
        return _render_error(exc)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err.print("aborted")
        return 130
    except KeyboardInterrupt:
        return 130
    except typer.TyperException as exc:  # usage errors: bad option, unknown command
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        return int(getattr(exc, "exit_code", 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
