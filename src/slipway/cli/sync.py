"""`slipway sync`: the status sync by hand (`--once`: one pass) or in the foreground."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from slipway.cli._app import JsonOption, app, emit_json, err, out, tr, wants_json
from slipway.domain.text import t

if TYPE_CHECKING:
    from slipway.service.sync import SyncSummary


@app.command()
def sync(
    once: Annotated[
        bool, typer.Option("--once", help="One pass: list the cluster once, update, exit.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Bring the database in line with the cluster: status, revision, missing objects.

    Records each resource's status and revision, and `missing` for objects deleted outside
    Slipway. With --once: one pass (a list per kind), then a summary of what changed.
    Without: follow the cluster until stopped (SIGTERM or Ctrl-C), as `slipway worker` does
    beside its runs; only one process of an installation follows it at a time (a Lease
    elects it)."""
    from slipway.service.app import application
    from slipway.service.sync import running_sync, sync_now

    if once:
        with application() as instance:
            summary = asyncio.run(sync_now(instance))
        _print_summary(summary, as_json=wants_json(json_output))
        return

    import contextlib
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with (
        application() as instance,
        contextlib.suppress(KeyboardInterrupt),
        running_sync(instance) as running,
    ):
        err.print(
            tr(t("status sync {identity} started", identity=running.identity)), highlight=False
        )
        while not stop.wait(0.5):
            pass


def _print_summary(summary: SyncSummary, *, as_json: bool) -> None:
    if as_json:
        emit_json(summary.to_dict())
        return
    for change in summary.changes:
        why = f" ({change.message})" if change.message else ""
        out.print(
            escape(
                f"{change.project}/{change.environment}: {change.kind} {change.name}: "
                f"{change.before} -> {change.after}{why}"
            ),
            highlight=False,
        )
    changed = len(summary.changes)
    out.print(
        tr(
            t(
                "{checked} resources checked, {changed} changed",
                checked=summary.checked,
                changed=changed,
            )
        ),
        highlight=False,
    )
