"""What every further run of a project (a repair, a key rotation) checks before it starts:
no delete under way, and no other run of the project still going."""

from __future__ import annotations

from typing import Final

from slipway.bootstrap import App
from slipway.domain.errors import Conflict
from slipway.domain.model import ProjectStatus, Step
from slipway.domain.text import t
from slipway.pipeline.runtime import runs_in_progress

ENDED: Final = (ProjectStatus.ACTIVE, ProjectStatus.DEGRADED, ProjectStatus.FAILED)


def refuse_while_busy(
    app: App, name: str, *, status: ProjectStatus, workflow: str | None, step: Step
) -> None:
    """`Conflict` (naming `step`, the run's first) while the project is being deleted or
    another of its runs is under way."""
    if status is ProjectStatus.DELETING:
        raise Conflict(
            t("project {name} is being deleted", name=name),
            step=step.value,
            system="slipway",
            hint=t("run `slipway project delete {name}` again to finish the deletion", name=name),
        )
    if status not in ENDED and workflow and runs_in_progress(app.settings, [workflow]):
        raise Conflict(
            t("project {name} has a run in progress", name=name),
            step=step.value,
            system="slipway",
            hint=t(
                "follow it with `slipway project events {name} --follow`; if "
                "no worker runs, start one with `slipway worker`",
                name=name,
            ),
        )
