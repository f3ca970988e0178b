"""`slipway` command line. Commands parse options, call the service layer and render; errors
are rendered once, in `main`, as one line (or `{"error": ...}` under --json)."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from slipway import __version__
from slipway.domain.errors import ExternalError, InvalidInput, SlipwayError
from slipway.domain.model import ForgeKind, ProgressEvent

if TYPE_CHECKING:
    from slipway.config import Settings

# Locals can hold tokens: never print them in a traceback.
app = typer.Typer(pretty_exceptions_show_locals=False, no_args_is_help=True, add_completion=False)
templates_app = typer.Typer(no_args_is_help=True, help="Project templates.")
project_app = typer.Typer(no_args_is_help=True, help="Create and inspect projects.")
forge_app = typer.Typer(no_args_is_help=True, help="Forge connections (GitHub, GitLab, Gitea).")
app.add_typer(templates_app, name="templates")
app.add_typer(project_app, name="project")
app.add_typer(forge_app, name="forge")

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

    settings = _load_settings()
    configure_logging(settings.log_format, "debug" if debug else settings.log_level)


def _load_settings() -> Settings:
    """Settings, or the first bad variable as `InvalidInput` naming it (never its value)."""
    from pydantic import ValidationError

    from slipway.config import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        name = str(first["loc"][0]) if first["loc"] else "settings"
        variable = name if name.isupper() else f"SLIPWAY_{name.upper()}"
        raise InvalidInput(
            variable, str(first["msg"]), hint="fix it in the environment or in .env"
        ) from None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def emit_json(document: Any, *, indent: int | None = 2) -> None:
    """Prints one JSON document on stdout (datetimes as ISO 8601); nothing else goes there."""
    print(json.dumps(document, default=_json_default, indent=indent), flush=True)


def wants_json(flag: bool) -> bool:
    return flag or state.json


@contextmanager
def application() -> Iterator[Any]:
    """The wired application for one command (database migrated, key loaded)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from slipway.bootstrap import bootstrap
    from slipway.config import get_settings

    settings = get_settings()
    try:
        instance = bootstrap(settings)
    except SQLAlchemyError as exc:
        # The driver's text may quote the URL; name the database with its password hidden.
        where = make_url(settings.sqlalchemy_url).render_as_string(hide_password=True)
        raise ExternalError(
            f"cannot open the database {where} ({type(exc).__name__})",
            system="database",
            hint="check SLIPWAY_DATABASE_URL (or SLIPWAY_DATA_DIR): is the database running "
            "and writable?",
        ) from None
    try:
        yield instance
    finally:
        instance.close()


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
    from slipway.config import get_settings
    from slipway.templates import load_catalog

    infos = load_catalog(get_settings().templates_path).list()
    if wants_json(json_output):
        emit_json([info.to_dict() for info in infos])
        return
    table = Table("template", "description", "parameters")
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

    with application() as instance:
        checks = service.doctor(instance)
    if wants_json(json_output):
        emit_json({"ok": all(c.ok for c in checks), "checks": [c.__dict__ for c in checks]})
    else:
        for check in checks:
            mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
            out.print(
                f"{mark} {escape(check.name)}: {escape(check.detail)}",
                highlight=False,
            )
            if not check.ok and check.fix:
                out.print(f"       fix: {escape(check.fix)}", highlight=False)
    if not all(c.ok for c in checks):
        raise typer.Exit(5)


# -- forge -----------------------------------------------------------------------------------


@forge_app.command("connect")
def forge_connect(
    kind: Annotated[ForgeKind, typer.Argument(help="github, gitlab or gitea")],
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read the token from stdin.")
    ] = False,
    url: Annotated[str | None, typer.Option("--url", help="API URL (GHE, self-hosted).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Validate a forge token and store it encrypted."""
    from slipway import service

    if not token_stdin:
        raise InvalidInput(
            "--token-stdin",
            "is required: tokens are read from standard input, never from arguments",
            hint=f'echo "$TOKEN" | slipway forge connect {kind.value} --token-stdin',
        )
    token = SecretStr(sys.stdin.readline().strip())
    with application() as instance:
        account = service.connect_forge(instance, kind, token, url=url)
    document = {
        "forge": kind.value,
        "account": account.login,
        "token_kind": account.token_kind.value,
        "scopes": list(account.scopes) if account.scopes is not None else None,
        "missing_scopes": list(account.missing_scopes),
    }
    if wants_json(json_output):
        emit_json(document)
    else:
        out.print(f"connected {kind.value} as {escape(account.login)}", highlight=False)
        if account.missing_scopes:
            err.print(
                "[yellow]warning:[/yellow] missing scopes: "
                + escape(", ".join(account.missing_scopes)),
            )


# -- projects --------------------------------------------------------------------------------


def _parse_params(values: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput("--param", f"'{item}' must look like key=value")
        params[key.strip()] = value
    return params


@project_app.command("create")
def project_create(
    name: Annotated[str, typer.Argument(help="Project name (a DNS-1123 label).")],
    template: Annotated[str | None, typer.Option("--template", "-t")] = None,
    env: Annotated[
        list[str] | None, typer.Option("--env", "-e", help="Environment (repeat).")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="key=value (repeat).")
    ] = None,
    forge: Annotated[ForgeKind | None, typer.Option("--forge")] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Organisation or group.")] = None,
    public: Annotated[bool, typer.Option("--public", help="Public repository.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would happen.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Run here and show progress.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Create a project: repository, one commit, GitOps objects per environment."""
    from slipway import service
    from slipway.pipeline.runtime import Worker, submit_initialization

    with application() as instance:
        request = service.CreateRequest(
            name=name,
            template=template or instance.settings.default_template,
            environments=tuple(env or ()),
            parameters=_parse_params(param or []),
            forge=forge,
            owner=owner,
            private=not public,
        )
        if dry_run:
            plan = service.dry_run(instance, request)
            if wants_json(json_output):
                emit_json(plan.to_dict())
            else:
                out.print(f"# {len(plan.files)} files would be pushed in one commit:")
                for path in plan.files:
                    out.print(f"#   {path}", highlight=False, markup=False)
                out.print(plan.manifests, highlight=False, markup=False)
            return
        if not wait:
            view = service.create_project(
                instance, request, submit=lambda pid: submit_initialization(instance.settings, pid)
            )
            if wants_json(json_output):
                emit_json(view.to_dict())
            else:
                out.print(
                    f"project {view.name} queued; a worker runs it (`slipway worker` or "
                    f"`slipway serve`). Follow it: slipway project events {view.name} --follow",
                    highlight=False,
                    markup=False,
                )
            return
        worker = Worker(instance).start()
        try:
            view = service.create_project(instance, request, submit=worker.submit)
            final = follow(instance, view.name, quiet=wants_json(json_output))
            view = service.show_project(instance, view.name)
        finally:
            worker.stop()
    if wants_json(json_output):
        emit_json(view.to_dict())
    else:
        print_project(view)
    if final != "completed":
        raise typer.Exit(1)


def follow(instance: Any, name: str, *, quiet: bool = False, poll: float = 0.2) -> str | None:
    """Shows progress from the persisted events until the final one; returns its kind."""
    from slipway import service

    seen = 0
    columns = (
        TextColumn("[bold]{task.fields[step]:<20}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}", markup=False),
    )
    with Progress(*columns, console=err, disable=quiet, transient=False) as bar:
        task = bar.add_task("waiting", total=100, step="")
        while True:
            events: list[ProgressEvent] = service.project_events(instance, name, after=seen)
            for event in events:
                seen = event.sequence
                bar.update(
                    task, completed=event.percent, description=event.message, step=event.step
                )
                if event.final is not None:
                    return event.final
            time.sleep(poll)


def print_project(view: Any) -> None:
    colour = {"active": "green", "degraded": "yellow", "failed": "red"}.get(view.status, "white")
    out.print(
        f"[bold]{view.name}[/bold]  [{colour}]{view.status}[/{colour}]  "
        f"template {escape(view.template)}",
    )
    if view.repository:
        out.print(
            f"repository: {view.repository['web_url']}  ({view.repository['clone_url']})",
            highlight=False,
            markup=False,
        )
    if view.error_message:
        step = view.failed_step or "error"
        # Messages recorded by the pipeline already start with "[step]": do not say it twice.
        message = view.error_message.removeprefix(f"[{step}] ")
        out.print(
            f"[red]{escape(step)}:[/red] {escape(message)}",
            highlight=False,
        )
    if not view.resources:
        return
    table = Table("environment", "kind", "name", "namespace", "status", "revision", "message")
    for r in view.resources:
        table.add_row(
            r.environment,
            r.kind,
            r.name,
            r.namespace or "",
            r.status,
            r.revision or "",
            (r.message or "")[:80],
        )
    out.print(table)


@project_app.command("list")
def project_list(json_output: JsonOption = False) -> None:
    """List projects with their status."""
    from slipway import service

    with application() as instance:
        views = service.list_projects(instance)
    if wants_json(json_output):
        emit_json([v.to_dict() for v in views])
        return
    table = Table("name", "status", "template", "forge", "environments", "progress")
    for v in views:
        envs = ", ".join(f"{e.name}:{e.status}" for e in v.environments)
        table.add_row(v.name, v.status, v.template, v.forge, envs, f"{v.progress}%")
    out.print(table)


@project_app.command("show")
def project_show(name: str, json_output: JsonOption = False) -> None:
    """Environments, repository and every GitOps resource with status, revision and message."""
    from slipway import service

    with application() as instance:
        view = service.show_project(instance, name)
    if wants_json(json_output):
        emit_json(view.to_dict())
    else:
        print_project(view)


@project_app.command("events")
def project_events(
    name: str,
    follow_events: Annotated[bool, typer.Option("--follow", "-f")] = False,
    json_output: JsonOption = False,
) -> None:
    """The project's progress events (replayed from the start); --follow waits for the end."""
    from slipway import service

    with application() as instance:
        seen, collected = 0, []
        while True:
            events = service.project_events(instance, name, after=seen)
            for event in events:
                seen = event.sequence
                collected.append(event)
                if not wants_json(json_output):
                    out.print(
                        f"{event.created_at:%H:%M:%S} {event.percent:>3}% {event.step:<20} "
                        f"{event.level.value:<7} {event.message}",
                        highlight=False,
                        markup=False,
                    )
            done = any(e.final for e in collected)
            if not follow_events or done:
                break
            time.sleep(0.3)
    if wants_json(json_output):
        emit_json([e.__dict__ for e in collected])


# -- worker, sandbox, demo -------------------------------------------------------------------


@app.command()
def worker(
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Exit when nothing is left.")
    ] = False,
) -> None:
    """Run queued and interrupted initializations (takes over dead workers' runs)."""
    from slipway.pipeline.runtime import Worker

    with application() as instance:
        running = Worker(instance).start()
        err.print(f"worker {running.executor_id} started", highlight=False)
        try:
            idle_since: float | None = None
            while True:
                time.sleep(0.5)
                if not until_idle:
                    continue
                if running.idle():
                    idle_since = idle_since or time.monotonic()
                    # Idle for two lease periods: no dead worker's run can still be pending.
                    if time.monotonic() - idle_since > 1.0:
                        break
                else:
                    idle_since = None
        except KeyboardInterrupt:
            pass
        finally:
            running.stop()


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
def demo(json_output: JsonOption = False) -> None:
    """Start the sandbox, create a project from the default template, wait until Ready."""
    from slipway.demo import run_demo

    result = run_demo(out=out, err=err, quiet=wants_json(json_output))
    if wants_json(json_output):
        emit_json(result)
    if result["status"] != "active":
        raise typer.Exit(1)


def _print_error(kind: str, message: str, hint: str | None) -> None:
    """One line on stderr, or one `{"error": ...}` document on stdout under --json."""
    if state.json:
        error = {"type": kind, "message": message, "step": None, "system": None, "hint": hint}
        emit_json({"error": error}, indent=None)
        return
    text = " ".join(f"{message} — {hint}".split() if hint else message.split())
    # The text may hold brackets (`[step]`): never read it as Rich markup.
    err.print(f"[red]error:[/red] {escape(text)}", highlight=False)


def _render_error(exc: SlipwayError) -> int:
    if state.json:
        emit_json({"error": exc.to_dict()}, indent=None)
    else:
        _print_error(type(exc).__name__, str(exc), None)
    return exc.exit_code


def _render_usage_error(exc: typer.TyperException) -> int:
    """Bad options or arguments: click's usage text, or a JSON error document under --json."""
    show = getattr(exc, "show", None)
    if state.json or show is None:
        _print_error("UsageError", exc.format_message(), "see --help")
    else:
        show()
    return int(getattr(exc, "exit_code", 2))


def _render_unexpected(exc: Exception) -> int:
    """A bug or an unmapped failure: one line, no traceback (and no locals) unless --debug.

    Only file-system errors carry their text (a path and a reason); anything else could quote
    a request or a token, so it is named by type only.
    """
    detail = f": {exc}" if isinstance(exc, OSError) else ""
    message = f"unexpected {type(exc).__name__}{detail}"
    _print_error(type(exc).__name__, message, "rerun with --debug for the traceback")
    return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the Typer app and turns Slipway errors into one line and an exit code."""
    args = list(argv if argv is not None else sys.argv[1:])
    state.json = "--json" in args
    state.debug = "--debug" in args
    command = typer.main.get_command(app)
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
        err.print("aborted")
        return 130
    except KeyboardInterrupt:
        return 130
    except typer.TyperException as exc:  # usage errors: bad option, unknown command
        return _render_usage_error(exc)
    except Exception as exc:
        if state.debug:
            raise
        return _render_unexpected(exc)
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


if __name__ == "__main__":
    sys.exit(main())
