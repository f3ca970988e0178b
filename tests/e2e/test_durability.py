"""Durability: a worker killed with SIGKILL in any step is resumed by another worker, and the
end state equals an uninterrupted run (one repository, one commit, one set of cluster objects,
no duplicate rows). Executor leases keep live workers from re-running each other's work."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.helpers import assert_project_complete, rows

from slipway import service
from slipway.bootstrap import App, bootstrap
from slipway.config import Settings
from slipway.domain.errors import NotFound
from slipway.domain.model import ProgressEvent, Step
from slipway.pipeline.workflow import KILL_AT_STEP_ENV
from slipway.sandbox.runner import Sandbox

SLIPWAY = [sys.executable, "-m", "slipway.cli"]
pytestmark = pytest.mark.slow


def run(
    args: list[str], env: dict[str, str], timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SLIPWAY, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def cli_app(cli_env: dict[str, str]) -> Iterator[App]:
    """The same database the CLI processes use, opened from the test."""
    instance = bootstrap(Settings())
    yield instance
    instance.close()


def workflow_executors(app: App) -> list[str]:
    from sqlalchemy import create_engine, text

    path = app.settings.data_dir / "workflows.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        found = [r[0] for r in conn.execute(text("SELECT executor_id FROM workflow_status"))]
    engine.dispose()
    return found


@pytest.mark.parametrize("step", list(Step), ids=[s.value for s in Step])
def test_worker_killed_in_a_step_is_resumed_by_the_next_worker(
    step: Step, cli_env: dict[str, str], cli_app: App, sandbox: Sandbox, tmp_path: Path
) -> None:
    name = f"crash-{step.value.replace('_', '-')}"
    crashing = run(
        ["project", "create", name, "--template", "static-site", "--wait"],
        {**cli_env, KILL_AT_STEP_ENV: step.value},
    )
    assert crashing.returncode == -signal.SIGKILL, crashing.stderr
    before = service.show_project(cli_app, name)
    assert before.status in ("initializing", "active"), before

    resumed = run(["worker", "--until-idle"], cli_env)
    assert resumed.returncode == 0, resumed.stderr

    assert_project_complete(cli_app, sandbox, name, tmp_path)
    # The killed step ran twice (it had finished its work but not its checkpoint); the steps
    # before it ran once: the resumed run started from the step in flight.
    events = rows(
        cli_app,
        "SELECT step, message FROM project_events e JOIN projects p ON p.id = e.project_id "
        "WHERE p.name = :n",
        n=name,
    )
    order = list(Step)
    for earlier in order[: order.index(step)]:
        messages = [e.message for e in events if e.step == earlier.value]
        assert len(messages) == len(set(messages)), (earlier, messages)


def test_live_workers_do_not_take_each_others_work(
    cli_env: dict[str, str], cli_app: App, sandbox: Sandbox, tmp_path: Path
) -> None:
    assert sandbox.forge is not None
    sandbox.forge.state.latency_ms = 150  # make the run long enough to overlap
    try:
        first = subprocess.Popen(
            [*SLIPWAY, "project", "create", "overlap", "--template", "static-site", "--wait"],
            env=cli_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            events = _events_if_recorded(cli_app, "overlap")
            if any(e.step == Step.CREATE_REPOSITORY.value for e in events):
                break
            time.sleep(0.1)
        second = run(["worker", "--until-idle"], cli_env)
        assert second.returncode == 0, second.stderr
        assert first.wait(timeout=120) == 0, first.stderr.read() if first.stderr else ""
    finally:
        sandbox.forge.state.latency_ms = 0
    assert_project_complete(cli_app, sandbox, "overlap", tmp_path)
    creates = [
        r for r in sandbox.forge.requests() if r.method == "POST" and r.path == "/user/repos"
    ]
    events = service.project_events(cli_app, "overlap")
    starts = [e for e in events if e.message.startswith("creating repository")]
    assert len(starts) == 1, [e.message for e in events]
    assert len(set(workflow_executors(cli_app))) == 1
    assert creates  # the request log saw the creation


def _events_if_recorded(app: App, name: str) -> list[ProgressEvent]:
    try:
        return service.project_events(app, name)
    except NotFound:
        return []


def test_a_running_worker_takes_over_from_a_killed_one(
    cli_env: dict[str, str], cli_app: App, sandbox: Sandbox, tmp_path: Path
) -> None:
    """The survivor is already running when the victim dies. It starts only once the victim
    has taken the run off the queue (otherwise either could run it), and picks the run up
    from its heartbeat when the victim's lease expires."""
    assert sandbox.forge is not None
    sandbox.forge.state.latency_ms = 200  # the victim is still working when the survivor starts
    survivor: subprocess.Popen[str] | None = None
    try:
        victim = subprocess.Popen(
            [*SLIPWAY, "project", "create", "orphan", "--template", "static-site", "--wait"],
            env={**cli_env, KILL_AT_STEP_ENV: Step.PUSH_TEMPLATE.value},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            events = _events_if_recorded(cli_app, "orphan")
            if any(e.step == Step.LOAD_TEMPLATE.value for e in events):
                break
            time.sleep(0.05)
        survivor = subprocess.Popen(
            [*SLIPWAY, "worker"],
            env=cli_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert victim.wait(timeout=120) == -signal.SIGKILL
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            events = service.project_events(cli_app, "orphan")
            if events and events[-1].final:
                break
            time.sleep(0.2)
        assert events[-1].final == "completed"
    finally:
        sandbox.forge.state.latency_ms = 0
        if survivor is not None:
            survivor.send_signal(signal.SIGINT)
            survivor.wait(timeout=30)
    assert_project_complete(cli_app, sandbox, "orphan", tmp_path)
    executors = set(workflow_executors(cli_app))
    assert len(executors) == 1  # the survivor now owns the workflow


def test_a_project_recorded_but_never_queued_is_picked_up(
    cli_env: dict[str, str], cli_app: App, sandbox: Sandbox, tmp_path: Path
) -> None:
    """The process that recorded the project died before it could enqueue the workflow."""
    spec = service.plan_project(
        cli_app, service.CreateRequest(name="stranded", template="static-site")
    )
    service.record_project(cli_app, spec)  # what create_project does before it enqueues
    time.sleep(2.1)  # older than one lease period: nobody is still recording it
    worker = run(["worker", "--until-idle"], cli_env)
    assert worker.returncode == 0, worker.stderr
    assert_project_complete(cli_app, sandbox, "stranded", tmp_path)


def test_sigterm_hands_work_over_at_once(
    cli_env: dict[str, str], cli_app: App, sandbox: Sandbox, tmp_path: Path
) -> None:
    """A stopped worker (SIGTERM, as in a rolling deploy) expires its own lease: the next
    worker resumes its run without waiting out the 30 s lease."""
    assert sandbox.forge is not None
    env = {**cli_env, "SLIPWAY_LEASE_SECONDS": "30"}
    queued = run(["project", "create", "handover", "--template", "static-site"], env)
    assert queued.returncode == 0, queued.stderr
    sandbox.forge.state.latency_ms = 300
    try:
        first = subprocess.Popen(
            [*SLIPWAY, "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(
                e.step == Step.PUSH_TEMPLATE.value
                for e in service.project_events(cli_app, "handover")
            ):
                break
            time.sleep(0.05)
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=20) == 0
    finally:
        sandbox.forge.state.latency_ms = 0
    assert service.project_events(cli_app, "handover")[-1].final is None  # interrupted
    started = time.monotonic()
    second = run(["worker", "--until-idle"], env)
    assert second.returncode == 0, second.stderr
    assert time.monotonic() - started < 25
    assert_project_complete(cli_app, sandbox, "handover", tmp_path)
