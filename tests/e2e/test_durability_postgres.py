"""The production set-up for scaling out: several `slipway worker` processes on one PostgreSQL.
They share the queue without running any project twice, and a survivor takes over the run of
a worker killed with SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.e2e.helpers import assert_project_complete, rows
from tests.e2e.test_durability import SLIPWAY

from slipway import service
from slipway.bootstrap import App, bootstrap
from slipway.config import Settings
from slipway.domain.model import Step
from slipway.pipeline.runtime import submit_initialization
from slipway.pipeline.workflow import KILL_AT_STEP_ENV
from slipway.sandbox.runner import Sandbox

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
LEASES = "SELECT executor_id FROM executor_leases"


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


def start_worker(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*SLIPWAY, "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for(condition: str, check: Callable[[], object], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {condition}")


def finals(app: App, names: list[str]) -> dict[str, str | None]:
    """Each project's final event kind (`completed`...), None while it still runs."""
    return {name: service.project_events(app, name)[-1].final for name in names}


def stop(*workers: subprocess.Popen[str]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)


def workflow_executors(app: App) -> dict[str, str]:
    """DBOS's record of which executor ran each workflow (its schema lives in the same DB)."""
    found = rows(app, "SELECT workflow_uuid, executor_id FROM dbos.workflow_status")
    return {r.workflow_uuid: r.executor_id for r in found}


def test_two_workers_share_the_queue_and_run_each_project_once(
    pg_env: dict[str, str], pg_app: App, sandbox: Sandbox, tmp_path: Path
) -> None:
    assert sandbox.forge is not None
    env = {**pg_env, "SLIPWAY_WORKER_CONCURRENCY": "1"}
    names = [f"pg-share-{i}" for i in range(4)]
    sandbox.forge.state.latency_ms = 50  # each run lasts long enough for the other to poll
    workers = [start_worker(env), start_worker(env)]
    try:
        wait_for("both workers' leases", lambda: len(rows(pg_app, LEASES)) == 2)
        for name in names:
            spec = service.plan_project(
                pg_app, service.CreateRequest(name=name, template="static-site")
            )
            project_id = service.record_project(pg_app, spec)
            submit_initialization(pg_app.settings, project_id)
        wait_for("every project to finish", lambda: None not in finals(pg_app, names).values())
    finally:
        sandbox.forge.state.latency_ms = 0
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
    pg_env: dict[str, str], pg_app: App, sandbox: Sandbox, tmp_path: Path
) -> None:
    victim = subprocess.run(
        [*SLIPWAY, "project", "create", "pg-orphan", "--template", "static-site", "--wait"],
        env={**pg_env, KILL_AT_STEP_ENV: Step.GITOPS_RESOURCES.value},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert victim.returncode == -signal.SIGKILL, victim.stderr
    assert service.show_project(pg_app, "pg-orphan").status == "initializing"

    survivor = start_worker(pg_env)
    try:
        wait_for(
            "the survivor to finish the run", lambda: finals(pg_app, ["pg-orphan"])["pg-orphan"]
        )
    finally:
        stop(survivor)
    assert_project_complete(pg_app, sandbox, "pg-orphan", tmp_path)
    events = service.project_events(pg_app, "pg-orphan")
    assert len([e for e in events if e.message.startswith("pushing")]) == 1  # not re-run
