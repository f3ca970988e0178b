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
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.e2e.helpers import clone, git

from slipway.cli import main
from slipway.config import get_settings
from slipway.sandbox.kube import KubeEmulator
from slipway.sandbox.runner import SANDBOX_USER, Sandbox

SLIPWAY = str(Path(sys.executable).parent / "slipway")
PROJECT = "cli-shop"
ENVIRONMENTS = ("development", "staging", "production")
FLUX_KINDS = ("GitRepository", "Kustomization")


@dataclass
class Cli:
    """Runs `slipway` as a process; every output is checked for the forge token."""

    env: dict[str, str]
    cwd: Path
    token: str
    outputs: list[str] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return Path(self.env["SLIPWAY_DATA_DIR"])

    def __call__(
        self,
        *args: str,
        timeout: float = 120,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [SLIPWAY, *args],
            env={**self.env, **(env or {})},
            cwd=self.cwd,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        self.check_no_token(done.stdout, done.stderr)
        return done

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [SLIPWAY, *args],
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def check_no_token(self, *texts: str) -> None:
        for text in texts:
            assert self.token not in text
            self.outputs.append(text)

    def json(self, *args: str) -> Any:
        done = self(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)  # exactly one document


def clean_environment() -> dict[str, str]:
    """The caller's environment without anything that would point Slipway elsewhere."""
    return {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("SLIPWAY_") or k in ("KUBECONFIG", "K3S_KUBECONFIG_PATH"))
    }


@pytest.fixture(scope="module")
def cli(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    root = tmp_path_factory.mktemp("cli-project")
    env = {
        **clean_environment(),
        **sandbox.environment(),
        "SLIPWAY_DATA_DIR": str(root / "data"),
        "SLIPWAY_READY_TIMEOUT": "60",
        "SLIPWAY_LEASE_SECONDS": "2",
        "SLIPWAY_LOG_LEVEL": "warning",
    }
    return Cli(env=env, cwd=root, token=sandbox.forge_token)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Result]:
    """`slipway.cli.main` in this process, with the module's environment (quicker than a
    process for commands where no process boundary matters)."""
    for key, value in cli.env.items():
        if key.startswith("SLIPWAY_") or key == "KUBECONFIG":
            monkeypatch.setenv(key, value)
    monkeypatch.chdir(cli.cwd)

    def invoke(*args: str) -> Result:
        get_settings.cache_clear()
        code = main(list(args))
        captured = capsys.readouterr()
        cli.check_no_token(captured.out, captured.err)
        return Result(code, captured.out, captured.err)

    return invoke


def as_json(result: Result) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # exactly one document: trailing text would fail


@pytest.fixture(scope="module")
def created(cli: Cli) -> subprocess.CompletedProcess[str]:
    """`project create --wait` once, in --debug so the most verbose logs are checked too."""
    return cli("--debug", "project", "create", PROJECT, "--template", "static-site", "--wait")


def test_create_wait_shows_progress_then_a_table(created: subprocess.CompletedProcess[str]) -> None:
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
    run: Callable[..., Result],
    created: subprocess.CompletedProcess[str],
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


def test_list_json(run: Callable[..., Result], created: subprocess.CompletedProcess[str]) -> None:
    projects = {p["name"]: p for p in as_json(run("--json", "project", "list"))}
    assert projects[PROJECT]["status"] == "active"
    assert projects[PROJECT]["progress"] == 100
    assert [e["status"] for e in projects[PROJECT]["environments"]] == ["ready"] * 3
    human = run("project", "list")
    assert human.returncode == 0
    assert re.search(rf"{PROJECT}\s+│\s+active", human.stdout)


def test_events_replay_from_zero_to_completed(
    run: Callable[..., Result], created: subprocess.CompletedProcess[str]
) -> None:
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
        "gitops_resources",
        "finalize",
    ]
    assert all(datetime.fromisoformat(e["created_at"]).tzinfo for e in events)

    human = run("project", "events", PROJECT)
    assert human.returncode == 0
    assert len(human.stdout.splitlines()) == len(events)  # one line per event, never wrapped


def test_events_follow_returns_once_final(
    cli: Cli, created: subprocess.CompletedProcess[str]
) -> None:
    done = cli("project", "events", PROJECT, "--follow", timeout=15)
    assert done.returncode == 0
    assert "100%" in done.stdout.splitlines()[-1]


def test_queued_project_runs_on_a_worker_while_events_follow_it(cli: Cli) -> None:
    """`create` without --wait only queues; `worker --until-idle` runs it; `--follow` waits."""
    name = "cli-queued"
    queued = cli("project", "create", name, "--template", "static-site", "--env", "dev")
    assert queued.returncode == 0, queued.stderr
    assert f"slipway project events {name} --follow" in queued.stdout
    assert cli.json("project", "show", name)["status"] == "pending"

    follow = cli.spawn("project", "events", name, "--follow", "--json")
    time.sleep(1.0)
    assert follow.poll() is None  # still waiting: no worker has run it yet
    worker = cli("worker", "--until-idle", timeout=90)
    assert worker.returncode == 0, worker.stderr
    out, err = follow.communicate(timeout=15)
    cli.check_no_token(out, err)
    assert follow.returncode == 0, err
    events = json.loads(out)
    assert events[0]["percent"] == 0
    assert events[-1]["final"] == "completed"
    assert cli.json("project", "show", name)["status"] == "active"


def test_create_wait_exits_non_zero_when_the_project_ends_degraded(
    cli: Cli, run: Callable[..., Result], sandbox: Sandbox, tmp_path: Path
) -> None:
    """The cluster is down: the repository is made, the project ends degraded, exit 1."""
    stopped = KubeEmulator().start()
    kubeconfig = stopped.write_kubeconfig(tmp_path / "kubeconfig-down")
    url = stopped.url
    stopped.stop()
    name = "cli-offline"
    args = ("project", "create", name, "--template", "static-site", "--env", "dev", "--wait")
    done = cli(*args, env={"KUBECONFIG": str(kubeconfig)})
    assert done.returncode == 1, done.stderr
    assert re.match(rf"^{name}\s+degraded", done.stdout)
    assert "gitops_resources:" in done.stdout and url in done.stdout
    events = as_json(run("project", "events", name, "--json"))
    assert events[-1]["final"] == "degraded"
    assert url in events[-1]["message"]
    # Following a project to a degraded end reports it like --wait does.
    followed = run("project", "events", name, "--follow")
    assert followed.returncode == 1
    assert url in followed.stdout.splitlines()[-1]


def test_create_wait_exits_non_zero_when_the_project_fails(
    cli: Cli, run: Callable[..., Result], sandbox: Sandbox
) -> None:
    """The forge keeps failing to create the repository: the project fails there, exit 1."""
    assert sandbox.forge is not None
    name = "cli-forge-down"
    sandbox.forge.add_fault(502, path_prefix="/user/repos", method="POST", count=50)
    try:
        done = cli("project", "create", name, "--env", "dev", "--wait")
    finally:
        sandbox.forge.clear_faults()
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert re.match(rf"^{name}\s+failed", lines[0])
    assert lines[1].startswith("create_repository: GitHub:")
    assert len(lines) == 2  # no repository line, no empty table
    view = as_json(run("project", "show", name, "--json"))
    assert (view["status"], view["failed_step"]) == ("failed", "create_repository")
    assert not [r for r in sandbox.forge.state.repos() if r.name == name]


def test_a_taken_name_exits_4_and_leaves_the_first_project_alone(
    cli: Cli,
    run: Callable[..., Result],
    created: subprocess.CompletedProcess[str],
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
    run: Callable[..., Result], sandbox: Sandbox
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
        {"username": "<redacted>", "password": "<redacted>"}
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


def test_debug_error_paths_do_not_leak_the_token(
    cli: Cli, created: subprocess.CompletedProcess[str]
) -> None:
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
    cli: Cli, created: subprocess.CompletedProcess[str]
) -> None:
    token = cli.token
    workflows = cli.data_dir / "workflows.db"
    assert workflows.exists()
    texts = list(_texts_in_database(workflows))
    assert any("slipway-init-" in t for t in texts)  # the workflows really are recorded here
    assert not [t for t in texts if token in t]
    for path in cli.data_dir.glob("*.db*"):  # both databases, WAL and journal files included
        assert token.encode() not in path.read_bytes(), path

    with sqlite3.connect(cli.data_dir / "slipway.db") as conn:
        messages = [r[0] for r in conn.execute("SELECT message FROM project_events")]
    assert len(messages) > 10
    assert not [m for m in messages if token in m]

    assert created.stdout and created.stderr
    assert cli.outputs and not [o for o in cli.outputs if token in o]
