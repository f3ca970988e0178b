"""`slipway project ...`: create, list, show, events."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.table import Table

from slipway.cli._app import JsonOption, emit_json, headers, out, project_app, tr, wants_json
from slipway.cli._render import follow, print_project
from slipway.domain.errors import InvalidInput
from slipway.domain.health import Health
from slipway.domain.model import ForgeKind, GitAuthMethod, ProgressEvent, ProjectStatus
from slipway.domain.text import t

if TYPE_CHECKING:
    from slipway.service import App, DryRun


def _parse_params(values: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInput("--param", t("'{item}' must look like key=value", item=item))
        if key in params:  # which one was meant? say so rather than keep the last
            raise InvalidInput(
                "--param", t("'{key}' is given twice; give each parameter once", key=key)
            )
        params[key] = value
    return params


@project_app.command("create")
def project_create(
    name: Annotated[str, typer.Argument(help="Project name (a DNS-1123 label).")],
    template: Annotated[
        str | None,
        typer.Option("--template", "-t", help="The template (default: SLIPWAY_DEFAULT_TEMPLATE)."),
    ] = None,
    env: Annotated[
        list[str] | None, typer.Option("--env", "-e", help="Environment (repeat).")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="key=value (repeat).")
    ] = None,
    forge: Annotated[
        ForgeKind | None, typer.Option("--forge", help="The forge (default: SLIPWAY_FORGE).")
    ] = None,
    connection: Annotated[
        int | None,
        typer.Option(
            "--connection",
            help="The stored forge connection (its id) to act as; it sets the forge and "
            "server. Default: the newest at the configured URL.",
        ),
    ] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Organisation or group.")] = None,
    public: Annotated[bool, typer.Option("--public", help="Public repository.")] = False,
    git_auth: Annotated[
        GitAuthMethod,
        typer.Option(
            "--git-auth",
            help="How Flux reads the repository: a read-only deploy key (ssh), or your token "
            "over HTTPS (token; for forges with deploy keys disabled).",
        ),
    ] = GitAuthMethod.SSH,
    adopt: Annotated[
        bool,
        typer.Option(
            "--adopt",
            help="Take over this project's repository and cluster objects from another "
            "Slipway installation.",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would happen and every problem.")
    ] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Run here and show progress.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Create a project: repository, one commit, GitOps objects per environment."""
    from slipway import service

    with service.application() as app:
        request = service.CreateRequest(
            name=name,
            # An empty --template is a mistake to report, not a request for the default.
            template=app.settings.default_template if template is None else template,
            environments=tuple(env or ()),
            parameters=_parse_params(param or []),
            forge=forge,
            owner=owner,
            private=not public,
            git_auth=git_auth,
            adopt=adopt,
            connection=connection,
        )
        if dry_run:
            plan = asyncio.run(service.dry_run(app, request))
            _print_dry_run(plan, json_output)
            if plan.exit_code:
                raise typer.Exit(plan.exit_code)
            return
        if not wait:
            view = asyncio.run(service.create_project(app, request))
            if wants_json(json_output):
                emit_json(view.to_dict())
            else:
                out.print(
                    tr(
                        t(
                            "project {name} queued; a worker runs it (`slipway worker`). "
                            "Follow it: slipway project events {name} --follow",
                            name=view.name,
                        )
                    ),
                    highlight=False,
                    markup=False,
                )
            return
        with service.running_worker(app) as worker:

            async def create_and_follow() -> str | None:
                created = await service.create_project(app, request, worker=worker)
                return await follow(app, created.name, quiet=wants_json(json_output))

            final = asyncio.run(create_and_follow())
            view = service.show_project(app, name)
    if wants_json(json_output):
        emit_json(view.to_dict())
    else:
        print_project(view)
    if final != "completed":
        raise typer.Exit(1)


def _print_dry_run(plan: DryRun, json_output: bool) -> None:
    if wants_json(json_output):
        emit_json(plan.to_dict())
        return
    for problem in plan.problems:
        said = (
            t(
                "# problem: {name}: {detail} ({fix})",
                name=problem.name,
                detail=problem.detail,
                fix=problem.fix,
            )
            if problem.fix
            else t("# problem: {name}: {detail}", name=problem.name, detail=problem.detail)
        )
        out.print(
            tr(said),
            highlight=False,
            markup=False,
        )
    out.print(
        tr(t("# {files_count} files would be pushed in one commit:", files_count=len(plan.files)))
    )
    for path in plan.files:
        out.print(f"#   {path}", highlight=False, markup=False)
    out.print(plan.manifests, highlight=False, markup=False)


@project_app.command("rotate-credentials")
def project_rotate_credentials(name: str, json_output: JsonOption = False) -> None:
    """Replace the project's read-only deploy key everywhere, without downtime."""
    from slipway import service

    with service.application() as app, service.running_worker(app) as worker:

        async def rotate_and_follow() -> str | None:
            started = service.start_rotation(app, name, worker=worker)
            return await follow(
                app, name, quiet=wants_json(json_output), after=started.after_sequence
            )

        final = asyncio.run(rotate_and_follow())
        view = service.show_project(app, name)
    if wants_json(json_output):
        emit_json(view.to_dict())
    elif final == "completed":
        out.print(
            tr(
                t(
                    "project {name}: new deploy key in use by every environment; "
                    "the old one is removed",
                    name=name,
                )
            ),
            highlight=False,
            markup=False,
        )
    else:
        print_project(view)
    if final != "completed":
        raise typer.Exit(1)


Choice = TypeVar("Choice", bound=StrEnum)


def _one_of(option: str, value: str | None, choices: type[Choice]) -> Choice | None:
    if value is None:
        return None
    try:
        return choices(value.strip().lower())
    except ValueError:
        allowed = ", ".join(c.value for c in choices)
        raise InvalidInput(
            option, t("'{value}' is not one of {allowed}", value=value, allowed=allowed)
        ) from None


def _filter_option(flag: str, only: str, choices: type[StrEnum]) -> Any:
    """A `list` filter: its help names every value it takes."""
    return typer.Option(flag, help=only + ", ".join(c.value for c in choices))


@project_app.command("list")
def project_list(
    status: Annotated[
        str | None, _filter_option("--status", "Only projects in this status: ", ProjectStatus)
    ] = None,
    health: Annotated[
        str | None, _filter_option("--health", "Only projects of this health: ", Health)
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List projects with their status and health."""
    from slipway import service

    wanted = _one_of("--status", status, ProjectStatus)
    of_health = _one_of("--health", health, Health)
    with service.application() as app:
        views = service.list_projects(app, status=wanted, health=of_health)
    if wants_json(json_output):
        emit_json([v.to_dict() for v in views])
        return
    table = Table(
        *headers(
            t("name"),
            t("status"),
            t("health"),
            t("template"),
            t("forge"),
            t("environments"),
            t("progress"),
        )
    )
    for v in views:
        envs = ", ".join(f"{e.name}:{e.status}" for e in v.environments)
        table.add_row(v.name, v.status, v.health, v.template, v.forge, envs, f"{v.progress}%")
    out.print(table)


@project_app.command("show")
def project_show(name: str, json_output: JsonOption = False) -> None:
    """Environments, repository and every GitOps resource with status, revision and message."""
    from slipway import service

    with service.application() as app:
        view = service.show_project(app, name)
    if wants_json(json_output):
        emit_json(view.to_dict())
    else:
        print_project(view)


@project_app.command("events")
def project_events(
    name: str,
    follow_events: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing events as they happen.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """The project's progress events (replayed from the start); --follow waits for the end
    and, with --json, streams one JSON object per line as each event is recorded."""
    from slipway import service

    as_json = wants_json(json_output)
    with service.application() as app:
        if follow_events:
            collected = asyncio.run(_follow_all(app, name, as_json=as_json))
        else:
            collected = service.project_events(app, name)
            if as_json:
                emit_json([e.__dict__ for e in collected])
            else:
                for event in collected:
                    _print_event(event)
    # Following to the end reports the outcome like `create --wait` does.
    finals = [e.final for e in collected if e.final]
    if follow_events and finals and finals[-1] != "completed":
        raise typer.Exit(1)


async def _follow_all(app: App, name: str, *, as_json: bool) -> list[ProgressEvent]:
    """Prints each event as it is recorded (a JSON Lines object, flushed, under --json)."""
    from slipway import service

    collected = []
    async for event in service.follow_events(app, name):
        collected.append(event)
        if as_json:
            emit_json(event.__dict__, indent=None)
        else:
            _print_event(event)
    return collected


def _print_event(event: ProgressEvent) -> None:
    out.print(
        f"{event.created_at:%H:%M:%S} {event.percent:>3}% {event.step:<20} "
        f"{event.level.value:<7} {tr(event.message)}",
        highlight=False,
        markup=False,
    )


@project_app.command("repair")
def project_repair(
    name: Annotated[str | None, typer.Argument(help="The project to repair.")] = None,
    all_stuck: Annotated[
        bool,
        typer.Option(
            "--all-stuck",
            help="Repair every project failed, degraded, with a resource failed or missing, "
            "or not settled for --stuck-after seconds.",
        ),
    ] = False,
    stuck_after: Annotated[
        float, typer.Option("--stuck-after", min=0, help="Seconds unsettled before stuck.")
    ] = 900.0,
    wait: Annotated[bool, typer.Option("--wait", help="Run here and show progress.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Run a project's steps again: what is missing or failed is done again, what exists is
    kept (a healthy project is left as it is)."""
    from slipway import service

    if (name is None) == (not all_stuck):
        raise InvalidInput("NAME", t("give a project name or --all-stuck (not both)"))
    with service.application() as app:
        names = service.stuck_projects(app, stuck_after=stuck_after) if all_stuck else [name]
        if not wait:
            started = [service.repair_project(app, n) for n in names if n]
            if wants_json(json_output):
                emit_json([s.to_dict() for s in started] if all_stuck else started[0].to_dict())
                return
            for s in started:
                out.print(
                    tr(
                        t(
                            "repair of {project} queued (run {run}); a worker runs it "
                            "(`slipway worker`). Follow it: slipway project events "
                            "{project} --follow",
                            project=s.project,
                            run=s.run,
                        )
                    ),
                    highlight=False,
                    markup=False,
                )
            if all_stuck and not started:
                out.print(tr(t("no project is stuck")), highlight=False, markup=False)
            return
        with service.running_worker(app) as worker:

            async def repair_and_follow() -> list[str | None]:
                started = [service.repair_project(app, n, worker=worker) for n in names if n]
                quiet = wants_json(json_output) or len(started) > 1
                return list(
                    await asyncio.gather(
                        *(
                            follow(app, s.project, quiet=quiet, after=s.after_sequence)
                            for s in started
                        )
                    )
                )

            finals = asyncio.run(repair_and_follow())
            views = [service.show_project(app, n) for n in names if n]
    if wants_json(json_output):
        emit_json([v.to_dict() for v in views] if all_stuck else views[0].to_dict())
    else:
        for view in views:
            print_project(view)
    if any(final != "completed" for final in finals):
        raise typer.Exit(1)
