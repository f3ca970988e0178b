"""Durability: a worker killed with SIGKILL in any step is resumed by another worker, and the
end state equals an uninterrupted run (one repository, one commit, one set of cluster objects,
no duplicate rows). Executor leases keep live workers from re-running each other's work.

Where a test needs two workers alive at once, it waits for that (`wait_until`, which fails
the test when the moment never comes) and checks it, instead of hoping the timing worked."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.e2e.conftest import forge_slowed
from tests.e2e.helpers import assert_project_complete, push_own_commit, rows
from tests.support.cli import SlipwayProcesses, stop
from tests.support.commands import git
from tests.support.waiting import wait_until

from slipway import service
from slipway.bootstrap import App, bootstrap
from slipway.config import Settings
from slipway.domain.errors import NotFound
from slipway.domain.model import CREATION_STEPS, Step
from slipway.pipeline.workflow import KILL_AT_STEP_ENV
from slipway.sandbox.forge import RequestRecorder
from slipway.sandbox.runner import Sandbox

# Slow enough that a run outlasts a second worker's start (a few seconds on a loaded machine);
# each test puts the latency back as soon as the overlap it needs has been seen.
HOLDING_LATENCY_MS = 2000


@pytest.fixture
def cli_app(cli_env: dict[str, str]) -> Iterator[App]:
    """The same database the CLI processes use, opened from the test."""
    instance = bootstrap(Settings())
    yield instance
    instance.close()


def workflow_executors(app: App) -> dict[str, str]:
    """DBOS's record of the executor that ran each workflow (its own SQLite file), by
    workflow: `slipway-init-<id>` does the work, `slipway-settle-<id>` waits for Flux."""
    engine = sa.create_engine(f"sqlite:///{app.settings.data_dir / 'workflows.db'}")
    try:
        with engine.connect() as conn:
            found = conn.execute(sa.text("SELECT workflow_uuid, executor_id FROM workflow_status"))
            return {r[0]: r[1] for r in found}
    finally:
        engine.dispose()


def lease_of(app: App, process: subprocess.Popen[str]) -> str | None:
    """The executor ID `process` holds a live lease for, once it has started its worker."""
    found = rows(app, "SELECT executor_id FROM executor_leases WHERE pid = :pid", pid=process.pid)
    return found[0].executor_id if found else None


def has_event(app: App, name: str, step: Step) -> bool:
    try:
        return any(e.step == step.value for e in service.project_events(app, name))
    except NotFound:  # not recorded yet
        return False


def final_of(app: App, name: str) -> str | None:
    events = service.project_events(app, name)
    return events[-1].final if events else None


def repository_creations(requests: RequestRecorder) -> list[int]:
    """The statuses of this test's `POST /user/repos` (each a repository creation)."""
    return [r.status for r in requests.requests() if (r.method, r.path) == ("POST", "/user/repos")]


@pytest.mark.parametrize("step", CREATION_STEPS, ids=[s.value for s in CREATION_STEPS])
def test_worker_killed_in_a_step_is_resumed_by_the_next_worker(
    step: Step,
    slipway_process: SlipwayProcesses,
    cli_app: App,
    sandbox: Sandbox,
    tmp_path: Path,
) -> None:
    name = f"crash-{step.value.replace('_', '-')}"
    crashing = slipway_process(
        "project",
        "create",
        name,
        "--template",
        "static-site",
        "--wait",
        env={KILL_AT_STEP_ENV: step.value},
    )
    assert crashing.returncode == -signal.SIGKILL, crashing.stderr
    before = service.show_project(cli_app, name)
    assert before.status in ("initializing", "active"), before

    resumed = slipway_process("worker", "--until-idle")
    assert resumed.returncode == 0, resumed.stderr
    # The worker says what it picked up: the project, the step it was at, and from whom.
    assert re.search(rf"^resumed {name} at step \S+ \(taken over from ", resumed.stdout, re.M)

    assert_project_complete(cli_app, sandbox, name, tmp_path)
    # The killed step ran twice (it had finished its work but not its checkpoint); the steps
    # before it ran once: the resumed run started from the step in flight.
    events = rows(
        cli_app,
        "SELECT step, message FROM project_events e JOIN projects p ON p.id = e.project_id "
        "WHERE p.name = :n",
        n=name,
    )
    order = list(CREATION_STEPS)
    for earlier in order[: order.index(step)]:
        messages = [e.message for e in events if e.step == earlier.value]
        assert len(messages) == len(set(messages)), (earlier, messages)


def test_the_teams_push_before_a_resumed_run_pushes_is_kept_by_repair(
    slipway_process: SlipwayProcesses, cli_app: App, sandbox: Sandbox, tmp_path: Path
) -> None:
    """A worker dies after creating the repository; the team pushes to it before another
    worker resumes. The resumed push leaves their commit alone and says what reaches a
    recorded project (its repair; create --adopt answers 'already exists'); repair keeps it."""
    name = "crash-team-push"
    crashing = slipway_process(
        "project", "create", name, "-t", "static-site", "--wait",
        env={KILL_AT_STEP_ENV: Step.CREATE_REPOSITORY.value},
    )  # fmt: skip
    assert crashing.returncode == -signal.SIGKILL, crashing.stderr
    checkout = tmp_path / "checkout"
    teams_commit = push_own_commit(
        sandbox, name, checkout, "README.md", "the team got here first\n"
    )

    assert slipway_process("worker", "--until-idle").returncode == 0
    failed = service.show_project(cli_app, name)
    assert (failed.status, failed.failed_step) == ("failed", Step.PUSH_TEMPLATE.value), failed
    assert f"`slipway project repair {name}` keeps the branch main" in str(failed.error_message)

    # Their branch holds no overlays, so Flux has nothing to build: the repair goes past the
    # push and applies every environment, which then cannot become Ready (exit 1, degraded).
    repaired = slipway_process("project", "repair", name, "--wait")
    assert repaired.returncode == 1, repaired.stderr
    assert service.show_project(cli_app, name).status == "degraded"
    kept = f"the branch holds commits ({teams_commit[:12]}): kept as it is"
    assert kept in slipway_process("project", "events", name).stdout
    assert git(checkout, "ls-remote", "origin", "refs/heads/main").split()[0] == teams_commit


def test_live_workers_do_not_take_each_others_work(
    slipway_process: SlipwayProcesses,
    cli_app: App,
    sandbox: Sandbox,
    forge_requests: RequestRecorder,
    tmp_path: Path,
) -> None:
    """A second worker started while the first is mid-run leaves that run alone (`--until-idle`
    waits for every run anywhere to end, so it exits after the first)."""
    started: list[subprocess.Popen[str]] = []
    with forge_slowed(sandbox, HOLDING_LATENCY_MS):  # the first run lasts until both are up
        first = slipway_process.spawn(
            "project", "create", "overlap", "--template", "static-site", "--wait"
        )
        started.append(first)
        try:
            wait_until(
                lambda: has_event(cli_app, "overlap", Step.CREATE_REPOSITORY),
                message="the first worker to start creating the repository",
                timeout=60,
            )
            first_id = wait_until(
                lambda: lease_of(cli_app, first), message="the first worker's lease", timeout=60
            )
            second = slipway_process.spawn("worker", "--until-idle")
            started.append(second)
            wait_until(
                lambda: lease_of(cli_app, second), message="the second worker's lease", timeout=60
            )
            # The overlap really happens: two live workers while the first run is in flight.
            assert first.poll() is None, slipway_process.finish(first).stderr
            assert final_of(cli_app, "overlap") is None
        except BaseException:
            stop(*started)
            raise
    assert slipway_process.finish(first).returncode == 0
    assert slipway_process.finish(second).returncode == 0

    assert_project_complete(cli_app, sandbox, "overlap", tmp_path)
    events = service.project_events(cli_app, "overlap")
    starts = [e for e in events if e.message.startswith("creating repository")]
    assert len(starts) == 1, [e.message for e in events]
    # The run in flight stayed with the first worker; waiting for Flux is a workflow of its
    # own on a shared queue, which either worker may take.
    init = [wf for wf in workflow_executors(cli_app) if wf.startswith("slipway-init-")]
    assert [workflow_executors(cli_app)[wf] for wf in init] == [first_id]
    assert repository_creations(forge_requests) == [201]  # one creation, by the first worker


def test_a_running_worker_takes_over_from_a_killed_one(
    slipway_process: SlipwayProcesses, cli_app: App, sandbox: Sandbox, tmp_path: Path
) -> None:
    """The survivor is already running when the victim dies. It starts only once the victim
    has taken the run off the queue (otherwise either could run it), and picks the run up
    from its heartbeat when the victim's lease expires."""
    kill_at_push = {KILL_AT_STEP_ENV: Step.PUSH_TEMPLATE.value}
    started: list[subprocess.Popen[str]] = []
    with forge_slowed(sandbox, HOLDING_LATENCY_MS):  # the victim lives until the survivor is up
        victim = slipway_process.spawn(
            "project", "create", "orphan", "--template", "static-site", "--wait", env=kill_at_push
        )
        started.append(victim)
        try:
            wait_until(
                lambda: has_event(cli_app, "orphan", Step.LOAD_TEMPLATE),
                message="the victim to take the run off the queue",
                timeout=60,
            )
            survivor = slipway_process.spawn("worker")
            started.append(survivor)
            survivor_id = wait_until(
                lambda: lease_of(cli_app, survivor), message="the survivor's lease", timeout=60
            )
            assert victim.poll() is None, "the victim died before the survivor was running"
        except BaseException:
            stop(*started)
            raise
    try:
        assert victim.wait(timeout=120) == -signal.SIGKILL
        wait_until(
            lambda: final_of(cli_app, "orphan"),
            message="the survivor to finish the victim's run",
            timeout=90,
            interval=0.2,
        )
    finally:
        stop(survivor)
    assert final_of(cli_app, "orphan") == "completed"
    assert_project_complete(cli_app, sandbox, "orphan", tmp_path)
    # The survivor owns the victim's run, and so the wait for Flux it enqueued.
    assert set(workflow_executors(cli_app).values()) == {survivor_id}


def test_a_project_recorded_but_never_queued_is_picked_up(
    slipway_process: SlipwayProcesses, cli_app: App, sandbox: Sandbox, tmp_path: Path
) -> None:
    """The process that recorded the project died before it could enqueue the workflow."""
    request = service.CreateRequest(name="stranded", template="static-site")
    spec = asyncio.run(service.plan_project(cli_app, request))
    # What create_project does before it enqueues (the sandbox's configured token acts).
    service.record_project(cli_app, spec, connection_id=None)
    # Time is the subject here: only a record older than one lease period (2 s) is stranded;
    # a younger one may still be on its way to the queue.
    time.sleep(2.1)
    worker = slipway_process("worker", "--until-idle")
    assert worker.returncode == 0, worker.stderr
    assert_project_complete(cli_app, sandbox, "stranded", tmp_path)


def test_sigterm_hands_work_over_at_once(
    slipway_process: SlipwayProcesses, cli_app: App, sandbox: Sandbox, tmp_path: Path
) -> None:
    """A stopped worker (SIGTERM, as in a rolling deploy) expires its own lease: the next
    worker resumes its run without waiting out the 30 s lease."""
    long_lease = {"SLIPWAY_LEASE_SECONDS": "30"}
    queued = slipway_process(
        "project", "create", "handover", "--template", "static-site", env=long_lease
    )
    assert queued.returncode == 0, queued.stderr
    with forge_slowed(sandbox, 300):
        first = slipway_process.spawn("worker", env=long_lease)
        try:
            wait_until(
                lambda: has_event(cli_app, "handover", Step.PUSH_TEMPLATE),
                message="the first worker to reach push_template",
                timeout=60,
                interval=0.05,
            )
        finally:
            first.send_signal(signal.SIGTERM)
        assert slipway_process.finish(first, timeout=20).returncode == 0
    assert final_of(cli_app, "handover") is None  # interrupted mid-run
    started = time.monotonic()
    second = slipway_process("worker", "--until-idle", env=long_lease)
    assert second.returncode == 0, second.stderr
    assert time.monotonic() - started < 25  # not the 30 s lease: time is the subject
    assert_project_complete(cli_app, sandbox, "handover", tmp_path)
