"""An outage of 20 s in the middle of a creation (issue 11, item 1): whichever step it hits,
the run retries it (a progress event per wait) and the project ends active with no user
action. The forge's API is down for the steps that call the forge, the Kubernetes API for
those that call the cluster; the outage starts the moment the step reports that it began.
That system answers slowly meanwhile (LATENCY_MS), so the step's first call is still in
flight when it goes down and is cut, as in a real outage, however busy the machine is."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from tests.e2e.conftest import forge_slowed
from tests.support.cli import CliResult, SlipwayProcesses
from tests.support.waiting import wait_until

from slipway.sandbox.runner import Sandbox

OUTAGE_SECONDS = 20.0
LATENCY_MS = 600.0
# The steps that call a forge or the cluster (the others only write Slipway's database; the
# deploy key is granted during the push, its own step only checks that).
STEPS = [
    ("create_repository", "forge"),
    ("push_template", "forge"),
    ("gitops_resources", "cluster"),
    ("finalize", "cluster"),
]


def _step_messages(database: Path, project: str, step: str) -> list[str]:
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "select e.message from project_events e join projects p on p.id = e.project_id "
            "where p.name = ? and e.step = ? order by e.sequence",
            (project, step),
        ).fetchall()
    return [str(message) for (message,) in rows]


@pytest.mark.parametrize(("step", "system"), STEPS)
def test_an_outage_of_20_s_during_a_step_ends_active_and_the_events_show_the_retries(
    step: str, system: str, slipway_process: SlipwayProcesses, sandbox: Sandbox
) -> None:
    name = f"outage-{step.replace('_', '-')}"
    database = Path(slipway_process.env["SLIPWAY_DATA_DIR"]) / "slipway.db"
    with _slowed(sandbox, system):
        done = _create_through_an_outage(slipway_process, sandbox, name, step, system, database)

    assert done.returncode == 0, done.stderr
    assert done.json()["status"] == "active"
    retries = [m for m in _step_messages(database, name, step) if "retrying in" in m]
    assert retries, f"no retry recorded in {step}"
    assert "attempt 2" in retries[0]


@contextmanager
def _slowed(sandbox: Sandbox, system: str) -> Iterator[None]:
    if system == "forge":
        with forge_slowed(sandbox, LATENCY_MS):
            yield
        return
    assert sandbox.kube is not None
    before = sandbox.kube.latency_ms
    sandbox.kube.latency_ms = LATENCY_MS
    try:
        yield
    finally:
        sandbox.kube.latency_ms = before


def _create_through_an_outage(
    slipway_process: SlipwayProcesses,
    sandbox: Sandbox,
    name: str,
    step: str,
    system: str,
    database: Path,
) -> CliResult:
    assert sandbox.forge is not None and sandbox.kube is not None
    running = slipway_process.spawn(
        "project", "create", name, "--wait", "--json", env={"SLIPWAY_RETRY_WINDOW": "120"}
    )
    try:
        wait_until(
            lambda: _step_messages(database, name, step),
            message=f"{name} never reached {step}",
            timeout=90,
            interval=0.02,
            ignoring=(sqlite3.OperationalError,),  # the tables are being created
        )
        outage: AbstractContextManager[None] = (
            sandbox.forge.down() if system == "forge" else sandbox.kube.down()
        )
        with outage:
            time.sleep(OUTAGE_SECONDS)
        return slipway_process.finish(running, timeout=300)
    finally:
        running.kill()
