"""The production set-up for scaling out: several `slipway worker` processes on one PostgreSQL.
They share the queue without running any project twice, and a survivor takes over the run of
a worker killed with SIGKILL."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.conftest import forge_slowed
from tests.e2e.helpers import assert_project_complete, rows
from tests.support.cli import SlipwayProcesses, stop
from tests.support.waiting import wait_until

from slipway import service
from slipway.bootstrap import App, bootstrap
from slipway.config import Settings
from slipway.domain.model import Step
from slipway.pipeline.workflow import KILL_AT_STEP_ENV
from slipway.sandbox.runner import Sandbox

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_env(
    cli_env: dict[str, str], fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    monkeypatch.setenv("SLIPWAY_DATABASE_URL", fresh_postgres_url)
    return {**cli_env, "SLIPWAY_DATABASE_URL": fresh_postgres_url}


@pytest.fixture
def pg_app(pg_env: dict[str, str]) -> Iterator[App]:
    instance = bootstrap(Settings())
    yield instance
    instance.close()


@pytest.fixture
def pg_slipway(slipway_process: SlipwayProcesses, pg_env: dict[str, str]) -> SlipwayProcesses:
    """`slipway` processes on the test's PostgreSQL database."""
    return SlipwayProcesses(pg_env, slipway_process.cwd, slipway_process.transcript)


def leased_pids(app: App) -> set[int]:
    """The processes holding an executor lease: live workers."""
    return {r.pid for r in rows(app, "SELECT pid FROM executor_leases")}


def finals(app: App, names: list[str]) -> dict[str, str | None]:
    """Each project's final event kind (`completed`...), None while it still runs."""
    return {name: service.project_events(app, name)[-1].final for name in names}


def workflow_executors(app: App) -> dict[str, str]:
    """DBOS's record of which executor ran each workflow (its schema lives in the same DB)."""
    found = rows(app, "SELECT workflow_uuid, executor_id FROM dbos.workflow_status")
    return {r.workflow_uuid: r.executor_id for r in found}


def test_two_workers_share_the_queue_and_run_each_project_once(
    pg_slipway: SlipwayProcesses, pg_app: App, sandbox: Sandbox, tmp_path: Path
) -> None:
    one_at_a_time = {"SLIPWAY_WORKER_CONCURRENCY": "1"}
    names = [f"pg-share-{i}" for i in range(4)]
    workers: list[subprocess.Popen[str]] = []
    with forge_slowed(sandbox, 50):  # each run lasts long enough for the other to poll
        try:
            workers += [pg_slipway.spawn("worker", env=one_at_a_time) for _ in range(2)]
            wait_until(
                lambda: leased_pids(pg_app) == {w.pid for w in workers},
                message="both workers' leases",
                timeout=90,
            )
            for name in names:  # queued for whichever worker is free, as a plain `create` does
                request = service.CreateRequest(name=name, template="static-site")
                asyncio.run(service.create_project(pg_app, request))
            wait_until(
                lambda: None not in finals(pg_app, names).values(),
                message="every project to finish",
                timeout=90,
                interval=0.2,
            )
        finally:
            stop(*workers)

    assert set(finals(pg_app, names).values()) == {"completed"}
    for name in names:
        assert_project_complete(pg_app, sandbox, name, tmp_path)
        creations = [
            e for e in service.project_events(pg_app, name) if e.step == Step.PUSH_TEMPLATE.value
        ]
        assert len([e for e in creations if e.message.startswith("pushing")]) == 1, name
    # One run at a time per worker and four projects: both workers took a share.
    assert len(set(workflow_executors(pg_app).values())) == 2


def test_a_survivor_takes_over_a_killed_workers_run(
    pg_slipway: SlipwayProcesses, pg_app: App, sandbox: Sandbox, tmp_path: Path
) -> None:
    victim = pg_slipway(
        "project",
        "create",
        "pg-orphan",
        "--template",
        "static-site",
        "--wait",
        env={KILL_AT_STEP_ENV: Step.GITOPS_RESOURCES.value},
    )
    assert victim.returncode == -signal.SIGKILL, victim.stderr
    assert service.show_project(pg_app, "pg-orphan").status == "initializing"

    survivor = pg_slipway.spawn("worker")
    try:
        wait_until(
            lambda: finals(pg_app, ["pg-orphan"])["pg-orphan"],
            message="the survivor to finish the run",
            timeout=90,
            interval=0.2,
        )
    finally:
        stop(survivor)
    assert_project_complete(pg_app, sandbox, "pg-orphan", tmp_path)
    events = service.project_events(pg_app, "pg-orphan")
    assert len([e for e in events if e.message.startswith("pushing")]) == 1  # not re-run
