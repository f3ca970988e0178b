"""Rendering shared by commands and the demo: the live progress bar and the project table."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from slipway.cli._app import err, headers, language, out, tr
from slipway.domain.text import t

if TYPE_CHECKING:
    from slipway.domain.model import ProgressEvent
    from slipway.service import App, ProjectView


class ProgressBar:
    """The live bar every run draws on stderr (creation, repair, deletion): step, bar,
    percent, elapsed time and the latest message."""

    def __init__(self, bar: Progress) -> None:
        self._bar = bar
        self._task = bar.add_task("waiting", total=100, step="")

    def show(self, event: ProgressEvent) -> None:
        self._bar.update(
            self._task, completed=event.percent, description=tr(event.message), step=event.step
        )

    def done(self, message: str) -> None:
        """The run ended where no event can say so any more (a deleted project's rows)."""
        self._bar.update(self._task, completed=100, description=message)


@contextmanager
def progress_bar(*, quiet: bool = False) -> Iterator[ProgressBar]:
    columns = (
        TextColumn("[bold]{task.fields[step]:<20}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}", markup=False),
    )
    with Progress(*columns, console=err, disable=quiet, transient=False) as bar:
        yield ProgressBar(bar)


async def follow(app: App, name: str, *, quiet: bool = False, after: int = 0) -> str | None:
    """Shows progress from the persisted events after sequence `after` until the current
    run's final one; returns its kind."""
    from slipway import service

    final: str | None = None
    with progress_bar(quiet=quiet) as bar:
        async for event in service.follow_events(app, name, after=after):
            bar.show(event)
            final = event.final
    return final


def print_project(view: ProjectView) -> None:
    view = view.localized(language())  # Slipway's words in the shell's language
    colour = {"active": "green", "degraded": "yellow", "failed": "red"}.get(view.status, "white")
    out.print(
        tr(
            t(
                "[bold]{name}[/bold]  [{colour}]{status}[/{colour}]  template {template}",
                name=view.name,
                colour=colour,
                status=view.status,
                template=escape(view.template),
            )
        ),
    )
    if view.repository:
        out.print(
            tr(
                t(
                    "repository: {web_url}  ({clone_url})",
                    web_url=view.repository.web_url,
                    clone_url=view.repository.clone_url,
                )
            ),
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
    if not view.resources:  # nothing applied yet: no health to speak of
        return
    _print_health(view)
    table = Table(
        *headers(
            t("environment"),
            t("kind"),
            t("name"),
            t("namespace"),
            t("status"),
            t("revision"),
            t("message"),
        )
    )
    for r in view.resources:
        table.add_row(
            r.environment,
            r.kind,
            r.name,
            r.namespace or "",
            r.status,
            short_revision(r.revision),
            # Flux's message for a Ready object repeats the revision; show it only when it helps.
            "" if r.status == "ready" else (r.message or "")[:120],
        )
    out.print(table)


_HEALTH_COLOUR = {"healthy": "green", "progressing": "cyan", "degraded": "yellow"}


def _print_health(view: ProjectView) -> None:
    """The project's health, then each environment's, with when it was last observed."""
    seen = (
        tr(t("  (observed {at:%Y-%m-%d %H:%M:%S} UTC)", at=view.observed_at))
        if view.observed_at
        else ""
    )
    colour = _HEALTH_COLOUR.get(view.health, "red" if view.health == "unhealthy" else "white")
    out.print(
        tr(
            t(
                "health: [{colour}]{health}[/{colour}]{observed}",
                colour=colour,
                health=view.health,
                observed=escape(seen),
            )
        ),
        highlight=False,
    )
    for env in view.environments:
        why = f": {env.health_reason}" if env.health_reason else ""
        out.print(
            tr(t("  {name}: {health}{why}", name=env.name, health=env.health, why=why)),
            highlight=False,
            markup=False,
        )


def short_revision(revision: str | None) -> str:
    """`main@sha1:<40 hex>` as `main@sha1:<12 hex>`, as `git log --oneline` would (JSON keeps
    the whole revision)."""
    if not revision:
        return ""
    ref, sep, digest = revision.rpartition(":")
    return f"{ref}{sep}{digest[:12]}" if sep and len(digest) > 12 else revision
