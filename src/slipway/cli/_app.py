"""The Typer application, output conventions (--json, consoles), and `main`, which renders
every error once as one line and an exit code."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from slipway.cli._help import framework_words, localize_tree, show_usage_error, summarize_tree
from slipway.domain.errors import InvalidInput, SlipwayError
from slipway.domain.text import t
from slipway.i18n import DEFAULT, from_environment, localize

# Locals can hold tokens: never print them in a traceback.
app = typer.Typer(pretty_exceptions_show_locals=False, no_args_is_help=True, add_completion=False)
templates_app = typer.Typer(no_args_is_help=True, help="Project templates.")
project_app = typer.Typer(no_args_is_help=True, help="Create and inspect projects.")
forge_app = typer.Typer(no_args_is_help=True, help="Forge connections (GitHub, GitLab, Gitea).")
user_app = typer.Typer(no_args_is_help=True, help="Users of the API and their tokens.")
app.add_typer(templates_app, name="templates")
app.add_typer(project_app, name="project")
app.add_typer(forge_app, name="forge")
app.add_typer(user_app, name="user")

# Output that is piped or logged (CI, `make demo | tee`) is not cut at 80 columns: Rich would
# truncate table cells and break the commands users copy. Lines never wrap; a terminal's own
# width still applies.
PIPED_WIDTH = 200


def _console(*, stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    piped = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(stderr=stderr, soft_wrap=True, width=PIPED_WIDTH if piped else None)


out = _console(stderr=False)
err = _console(stderr=True)

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
    from slipway.logs import configure_logging
    from slipway.service import load_settings

    settings = load_settings()
    configure_logging(settings.log_format, "debug" if debug else settings.log_level)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def emit_json(document: Any, *, indent: int | None = 2) -> None:
    """Prints one JSON document on stdout (datetimes as ISO 8601); nothing else goes there."""
    print(json.dumps(document, default=_json_default, indent=indent), flush=True)


def wants_json(flag: bool) -> bool:
    return flag or state.json


def language() -> str:
    """The CLI's language, as gettext picks it: LC_ALL, LC_MESSAGES, then LANG."""
    return from_environment(os.environ)


def tr(text: str) -> str:
    """`text` in the shell's language (a plain string as it is). `--json` output stays
    English: scripts parse it, whatever the shell's locale."""
    return localize(text, language()) or ""


def headers(*names: str) -> list[str]:
    """A table's column headers in the shell's language."""
    return [tr(name) for name in names]


def _print_error(kind: str, message: str, hint: str | None) -> None:
    """One line on stderr, or one `{"error": ...}` document on stdout under --json."""
    if state.json:
        error = {"type": kind, "message": message, "step": None, "system": None, "hint": hint}
        emit_json({"error": error}, indent=None)
        return
    shown = tr(t("{message} — {hint}", message=message, hint=hint)) if hint else tr(message)
    text = " ".join(shown.split())
    # The text may hold brackets (`[step]`): never read it as Rich markup.
    label = tr(t("error:"))
    space = "" if label.endswith("：") else " "  # a full-width colon carries its own space
    err.print(f"[red]{escape(label)}[/red]{space}{escape(text)}", highlight=False)


def _in_cli_terms(exc: SlipwayError) -> SlipwayError:
    """Bad input as the command line names it: the service names a request's fields
    (`environments`, `parameters.NAME`), the CLI has always said `environment` (`--env`) and
    `param.NAME` (`--param NAME=...`), in its text and its --json `field` alike."""
    if not isinstance(exc, InvalidInput):
        return exc
    renamed = [_cli_field(p.field) for p in exc.problems]
    if renamed == [p.field for p in exc.problems]:
        return exc
    named = InvalidInput.every(
        [InvalidInput(f, p.rule, hint=p.hint) for f, p in zip(renamed, exc.problems, strict=True)]
    )
    named.step, named.system = exc.step, exc.system
    return named


def _cli_field(field: str) -> str:
    head, dot, rest = field.partition(".")
    if field == "environments":
        return "environment"
    if head == "parameters" and dot and rest:
        return f"param.{rest}"
    return field


def _render_error(exc: SlipwayError) -> int:
    exc = _in_cli_terms(exc)
    if state.json:
        emit_json({"error": exc.to_dict()}, indent=None)
    else:
        _print_error(type(exc).__name__, exc.text(), None)
    return exc.exit_code


def _render_usage_error(exc: typer.TyperException) -> int:
    """Bad options or arguments: click's usage text, or a JSON error document under --json."""
    show = getattr(exc, "show", None)
    if state.json or show is None:
        _print_error("UsageError", exc.format_message(), t("see --help"))
    else:
        show()
    return int(getattr(exc, "exit_code", 2))


def _render_unexpected(exc: Exception) -> int:
    """A bug or an unmapped failure: one line, no traceback (and no locals) unless --debug.

    Only file-system errors carry their text (a path and a reason); anything else could quote
    a request or a token, so it is named by type only.
    """
    name = type(exc).__name__
    message = (
        t("unexpected {error}: {detail}", error=name, detail=str(exc))
        if isinstance(exc, OSError)
        else t("unexpected {error}", error=name)
    )
    _print_error(name, message, t("rerun with --debug for the traceback"))
    return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the Typer app and turns Slipway errors into one line and an exit code."""
    args = list(argv if argv is not None else sys.argv[1:])
    state.json = "--json" in args
    state.debug = "--debug" in args
    command = typer.main.get_command(app)
    shown = language()
    if shown != DEFAULT:
        localize_tree(command, shown)
    summarize_tree(command)
    with framework_words(shown):
        try:
            # Outside standalone mode click *returns* the code of a `typer.Exit` (and 130 for
            # Ctrl-C) instead of raising it; a command that returns normally gives None.
            result = command.main(args=args, prog_name="slipway", standalone_mode=False)
        except SlipwayError as exc:
            if state.debug:
                raise
            return _render_error(exc)
        except typer.Exit as exc:
            return exc.exit_code
        except typer.Abort:
            err.print(tr(t("aborted")))
            return 130
        except KeyboardInterrupt:
            return 130
        except typer.TyperException as exc:  # usage errors: bad option, unknown command
            if shown != DEFAULT and not state.json and getattr(exc, "show", None) is not None:
                return show_usage_error(exc, shown)
            return _render_usage_error(exc)
        except Exception as exc:
            if state.debug:
                raise
            return _render_unexpected(exc)
    return result if isinstance(result, int) and not isinstance(result, bool) else 0
