"""The project commands as a user runs them: `slipway` processes against the session sandbox.

One project is created with `--wait` for the whole module and read back by `show`, `list`
and `events`; every command's output is checked for the forge token, and so are the
databases (Slipway's and DBOS's) once the run is over.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.e2e.conftest import forge_faulted
from tests.e2e.helpers import clone
from tests.support.cli import (
    CliResult,
    InProcessCli,
    SlipwayProcesses,
    Transcript,
    clean_environment,
    stop,
)
from tests.support.commands import git
from tests.support.waiting import wait_until

from slipway.sandbox.kube import KubeEmulator
from slipway.sandbox.runner import SANDBOX_USER, Sandbox

PROJECT = "cli-shop"
ENVIRONMENTS = ("development", "staging", "production")
FLUX_KINDS = ("GitRepository", "Kustomization")


@pytest.fixture(scope="module")
def cli(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> SlipwayProcesses:
    """`slipway` processes for the whole module, on one data directory; every output (these
    and the in-process runs of `run`) is checked for the forge token."""
    root = tmp_path_factory.mktemp("cli-project")
    env = clean_environment(
        **sandbox.environment(),
        SLIPWAY_DATA_DIR=str(root / "data"),
        SLIPWAY_READY_TIMEOUT="60",
        SLIPWAY_LEASE_SECONDS="2",
        SLIPWAY_LOG_LEVEL="warning",
    )
    return SlipwayProcesses(env, root, Transcript((sandbox.forge_token,)))


def data_dir(cli: SlipwayProcesses) -> Path:
    return Path(cli.env["SLIPWAY_DATA_DIR"])


@pytest.fixture
def run(
    cli: SlipwayProcesses, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> InProcessCli:
    """`slipway.cli.main` in this process, with the module's environment (quicker than a
    process for commands where no process boundary matters)."""
    for key, value in cli.env.items():
        if key.startswith("SLIPWAY_") or key == "KUBECONFIG":
            monkeypatch.setenv(key, value)
    assert cli.cwd is not None
    monkeypatch.chdir(cli.cwd)
    return InProcessCli(capsys, cli.transcript)


def holds_open(process: subprocess.Popen[str], path: Path) -> bool:
    """Whether `process` has `path` open (Linux: /proc/PID/fd)."""
    target = str(path.resolve())
    for fd in Path(f"/proc/{process.pid}/fd").iterdir():
        try:
            if os.readlink(fd) == target:
                return True
        except OSError:  # closed meanwhile
            continue
    return False


def as_json(result: CliResult) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # exactly one document: trailing text would fail


@pytest.fixture(scope="module")
def created(cli: SlipwayProcesses) -> CliResult:
    """`project create --wait` once, in --debug so the most verbose logs are checked too."""
    return cli("--debug", "project", "create", PROJECT, "--template", "static-site", "--wait")


def test_create_wait_shows_progress_then_a_table(created: CliResult) -> None:
    assert created.returncode == 0, created.stderr
    # progress (stderr): the last step, the bar at 100 % and the final message
    assert "finalize" in created.stderr
    assert "100%" in created.stderr
    assert f"project {PROJECT} is active" in created.stderr
    # result (stdout): the project line, the repository and one table row per resource
    lines = created.stdout.splitlines()
    assert re.match(rf"^{PROJECT}\s+active\s+template static-site", lines[0])
    assert f"/{SANDBOX_USER}/{PROJECT}.git" in created.stdout
    rows = [line for line in lines if line.startswith("│") and "ready" in line]
    assert len(rows) == 6 * len(ENVIRONMENTS)
    # Flux objects show the revision as `git log --oneline` would; Ready needs no message.
    flux_rows = [r for r in rows if "GitRepository" in r or "Kustomization" in r]
    assert len(flux_rows) == 2 * len(ENVIRONMENTS)
    assert all(re.search(r"│ main@sha1:[0-9a-f]{12} +│ +│$", r) for r in flux_rows), flux_rows


def test_show_json_reports_every_resource_ready_with_its_revision(
    run: InProcessCli,
    created: CliResult,
    sandbox: Sandbox,
    tmp_path: Path,
) -> None:
    view = as_json(run("project", "show", PROJECT, "--json"))
    assert view["status"] == "active"
    assert (view["failed_step"], view["error_message"]) == (None, None)
    assert view["progress"] == 100
    assert [(e["name"], e["status"]) for e in view["environments"]] == [
        (env, "ready") for env in ENVIRONMENTS
    ]
    assert len(view["resources"]) == 18
    assert {r["status"] for r in view["resources"]} == {"ready"}

    checkout = clone(sandbox, PROJECT, tmp_path / "clone")
    sha = git(checkout, "rev-parse", "HEAD")
    repository = view["repository"]
    assert repository["initial_commit_sha"] == sha
    assert repository["clone_url"].endswith(f"/{SANDBOX_USER}/{PROJECT}.git")
    flux = [r for r in view["resources"] if r["kind"] in FLUX_KINDS]
    assert len(flux) == 2 * len(ENVIRONMENTS)
    assert {r["revision"] for r in flux} == {f"{repository['default_branch']}@sha1:{sha}"}
    assert all(r["message"] for r in flux)
    datetime.fromisoformat(view["created_at"])  # ISO 8601 on the wire


def test_list_json(run: InProcessCli, created: CliResult) -> None:
    projects = {p["name"]: p for p in as_json(run("--json", "project", "list"))}
    assert projects[PROJECT]["status"] == "active"
    assert projects[PROJECT]["progress"] == 100
    assert [e["status"] for e in projects[PROJECT]["environments"]] == ["ready"] * 3
    human = run("project", "list")
    assert human.returncode == 0
    assert re.search(rf"{PROJECT}\s+│\s+active", human.stdout)


def test_events_replay_from_zero_to_completed(run: InProcessCli, created: CliResult) -> None:
    events = as_json(run("project", "events", PROJECT, "--json"))
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    percents = [e["percent"] for e in events]
    assert percents == sorted(percents)
    assert (percents[0], percents[-1]) == (0, 100)
    assert [e["final"] for e in events] == [None] * (len(events) - 1) + ["completed"]
    steps = list(dict.fromkeys(e["step"] for e in events))
    assert steps == [
        "create_project",
        "load_template",
        "create_environments",
        "create_repository",
        "push_template",
        "record_repository",
        "deploy_key",
        "gitops_resources",
        "finalize",
    ]
    assert all(datetime.fromisoformat(e["created_at"]).tzinfo for e in events)

    human = run("project", "events", PROJECT)
    assert human.returncode == 0
    assert len(human.stdout.splitlines()) == len(events)  # one line per event, never wrapped


def test_events_follow_returns_once_final(cli: SlipwayProcesses, created: CliResult) -> None:
    done = cli("project", "events", PROJECT, "--follow", timeout=15)
    assert done.returncode == 0
    assert "100%" in done.stdout.splitlines()[-1]


def test_queued_project_runs_on_a_worker_while_events_follow_it(cli: SlipwayProcesses) -> None:
    """`create` without --wait only queues; `worker --until-idle` runs it; `--follow` waits."""
    name = "cli-queued"
    queued = cli("project", "create", name, "--template", "static-site", "--env", "dev")
    assert queued.returncode == 0, queued.stderr
    assert f"slipway project events {name} --follow" in queued.stdout
    assert cli.json("project", "show", name)["status"] == "pending"

    follow = cli.spawn("project", "events", name, "--follow", "--json")
    try:
        wait_until(
            lambda: holds_open(follow, data_dir(cli) / "slipway.db") or follow.poll() is not None,
            message="`events --follow` to open the database",
        )
        assert follow.poll() is None  # following, not returned: no worker has run it yet
        worker = cli("worker", "--until-idle", timeout=90)
        assert worker.returncode == 0, worker.stderr
    except BaseException:
        stop(follow)
        raise
    followed = cli.finish(follow, timeout=15)
    assert followed.returncode == 0, followed.stderr
    events = [json.loads(line) for line in followed.stdout.splitlines()]  # JSON Lines
    assert events[0]["percent"] == 0
    assert events[-1]["final"] == "completed"
    assert cli.json("project", "show", name)["status"] == "active"


def test_an_unreachable_cluster_is_found_before_anything_is_recorded_or_created(
    cli: SlipwayProcesses, run: InProcessCli, sandbox: Sandbox, tmp_path: Path
) -> None:
    """Preflight runs before the project is recorded: exit 5 with the one real cause, no
    project row, no repository on the forge, and the name stays free."""
    assert sandbox.forge is not None
    stopped = KubeEmulator().start()
    kubeconfig = stopped.write_kubeconfig(tmp_path / "kubeconfig-down")
    url = stopped.url
    stopped.stop()
    name = "cli-offline"
    args = ("project", "create", name, "--template", "static-site", "--env", "dev", "--wait")
    done = cli(*args, env={"KUBECONFIG": str(kubeconfig)})
    assert done.returncode == 5, done.stderr
    assert url in done.stderr and "not checked" not in done.stderr
    assert run("project", "show", name).returncode == 3
    assert sandbox.forge.state.repo("sandbox", name) is None
    dry = cli(
        "project", "create", name, "--env", "dev", "--dry-run", env={"KUBECONFIG": str(kubeconfig)}
    )
    assert dry.returncode == 5 and "# problem: Kubernetes API: cannot reach" in dry.stdout


def test_a_cluster_lost_after_recording_ends_the_project_degraded(
    cli: SlipwayProcesses, run: InProcessCli, sandbox: Sandbox, tmp_path: Path
) -> None:
    """Preflight passed, then the cluster went away before the worker ran: the repository is
    made, the project ends degraded naming the cluster, and following it exits 1."""
    name = "cli-lost"
    queued = cli("project", "create", name, "--template", "static-site", "--env", "dev")
    assert queued.returncode == 0, queued.stderr
    stopped = KubeEmulator().start()
    kubeconfig = stopped.write_kubeconfig(tmp_path / "kubeconfig-down")
    url = stopped.url
    stopped.stop()
    worker = cli("worker", "--until-idle", env={"KUBECONFIG": str(kubeconfig)}, timeout=120)
    assert worker.returncode == 0, worker.stderr
    events = as_json(run("project", "events", name, "--json"))
    assert events[-1]["final"] == "degraded"
    assert url in events[-1]["message"] and "not checked" not in events[-1]["message"]
    shown = run("project", "show", name)
    assert re.match(rf"^{name}\s+degraded", shown.stdout) and "gitops_resources:" in shown.stdout
    followed = run("project", "events", name, "--follow")
    assert followed.returncode == 1
    assert url in followed.stdout.splitlines()[-1]


def test_create_wait_exits_non_zero_when_the_project_fails(
    cli: SlipwayProcesses, run: InProcessCli, sandbox: Sandbox
) -> None:
    """The forge keeps failing to create the repository: the project fails there, exit 1."""
    assert sandbox.forge is not None
    name = "cli-forge-down"
    with forge_faulted(sandbox, 502, path_prefix="/user/repos", method="POST", count=50):
        done = cli("project", "create", name, "--env", "dev", "--wait")
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert re.match(rf"^{name}\s+failed", lines[0])
    assert lines[1].startswith("create_repository: GitHub:")
    assert len(lines) == 2  # no repository line, no empty table
    view = as_json(run("project", "show", name, "--json"))
    assert (view["status"], view["failed_step"]) == ("failed", "create_repository")
    assert not [r for r in sandbox.forge.state.repos() if r.name == name]


def test_a_taken_name_exits_4_and_leaves_the_first_project_alone(
    cli: SlipwayProcesses,
    run: InProcessCli,
    created: CliResult,
    sandbox: Sandbox,
) -> None:
    assert sandbox.forge is not None and sandbox.kube is not None
    before = as_json(run("project", "show", PROJECT, "--json"))
    namespaces = {n["metadata"]["name"] for n in sandbox.kube.list("v1", "Namespace")}

    again = cli("project", "create", PROJECT, "--template", "fastapi", "--wait")
    assert again.returncode == 4
    assert again.stdout == ""
    line = again.stderr.strip()
    assert len(line.splitlines()) == 1
    assert f"a project named '{PROJECT}' already exists" in line
    assert f"slipway project show {PROJECT}" in line
    assert "[create_project]" in line  # not swallowed as Rich markup

    as_document = run("--json", "project", "create", PROJECT, "--template", "fastapi")
    assert as_document.returncode == 4
    assert json.loads(as_document.stdout)["error"]["type"] == "Conflict"

    assert as_json(run("project", "show", PROJECT, "--json")) == before
    assert len([r for r in sandbox.forge.state.repos() if r.name == PROJECT]) == 1
    assert {n["metadata"]["name"] for n in sandbox.kube.list("v1", "Namespace")} == namespaces


def test_dry_run_prints_files_and_redacted_manifests_and_creates_nothing(
    run: InProcessCli, sandbox: Sandbox
) -> None:
    assert sandbox.forge is not None and sandbox.kube is not None
    name = "cli-dry"
    done = run("project", "create", name, "--template", "static-site", "--dry-run")
    assert done.returncode == 0, done.stderr
    header, _, manifests = done.stdout.partition("apiVersion:")
    assert "17 files would be pushed in one commit" in header
    assert "#   k8s/overlays/production/kustomization.yaml" in header
    objects = list(yaml.safe_load_all("apiVersion:" + manifests))
    assert len(objects) == 6 * len(ENVIRONMENTS)
    secrets = [o for o in objects if o["kind"] == "Secret"]
    assert [s["data"] for s in secrets] == [
        {"identity": "<redacted>", "identity.pub": "<redacted>", "known_hosts": "<redacted>"}
    ] * 3
    kustomizations = [o for o in objects if o["kind"] == "Kustomization"]
    assert [k["spec"]["path"] for k in kustomizations] == [
        f"./k8s/overlays/{env}" for env in ENVIRONMENTS
    ]

    plan = as_json(run("project", "create", name, "--dry-run", "--json"))
    assert plan["project"]["slug"] == name
    assert "k8s/base/deployment.yaml" in plan["files"]
    assert list(yaml.safe_load_all(plan["manifests"])) == objects

    assert not [r for r in sandbox.forge.state.repos() if r.name == name]
    namespaces = [n["metadata"]["name"] for n in sandbox.kube.list("v1", "Namespace")]
    assert not [n for n in namespaces if n.startswith(f"project-{name}-")]
    assert run("project", "show", name).returncode == 3


def test_debug_error_paths_do_not_leak_the_token(cli: SlipwayProcesses, created: CliResult) -> None:
    taken = cli("--debug", "project", "create", PROJECT)
    assert taken.returncode != 0
    assert "Traceback" in taken.stderr and "Conflict" in taken.stderr
    missing = cli("--debug", "project", "show", "no-such-project")
    assert missing.returncode != 0
    assert "NotFound" in missing.stderr


def _texts_in_database(path: Path) -> Iterator[str]:
    """Every cell of every table as text, plus base64-decoded cells (DBOS pickles arguments)."""
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):  # noqa: S608
                for cell in row:
                    if cell is None:
                        continue
                    raw = cell if isinstance(cell, bytes) else str(cell).encode()
                    yield raw.decode("utf-8", "replace")
                    try:
                        decoded = base64.b64decode(raw, validate=True)
                    except (binascii.Error, ValueError):
                        continue
                    yield decoded.decode("utf-8", "replace")


def test_the_token_is_in_no_database_and_no_output(
    cli: SlipwayProcesses, created: CliResult
) -> None:
    [token] = cli.transcript.secrets
    workflows = data_dir(cli) / "workflows.db"
    assert workflows.exists()
    texts = list(_texts_in_database(workflows))
    assert any("slipway-init-" in t for t in texts)  # the workflows really are recorded here
    assert not [t for t in texts if token in t]
    for path in data_dir(cli).glob("*.db*"):  # both databases, WAL and journal files included
        assert token.encode() not in path.read_bytes(), path

    with sqlite3.connect(data_dir(cli) / "slipway.db") as conn:
        messages = [r[0] for r in conn.execute("SELECT message FROM project_events")]
    assert len(messages) > 10
    assert not [m for m in messages if token in m]

    assert created.stdout and created.stderr
    outputs = cli.transcript.outputs
    assert outputs and not [o for o in outputs if token in o]
