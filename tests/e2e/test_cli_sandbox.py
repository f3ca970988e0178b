"""`slipway sandbox` and `slipway demo` as real processes: what a newcomer runs first."""

from __future__ import annotations

import json
import re
import select
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.support.cli import SLIPWAY, CliResult, SlipwayProcesses, clean_environment, stop
from tests.support.commands import kubectl

READY_WITHIN = 20.0


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        raise AssertionError(f"no output within {timeout}s")
    return process.stdout.readline()


@pytest.fixture
def sandbox_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, Path]]:
    directory = tmp_path / "sandbox"
    log = tmp_path / "sandbox.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [SLIPWAY, "sandbox", "--dir", str(directory)],
            env=clean_environment(),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        yield process, directory, log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_sandbox_runs_until_sigterm_and_points_slipway_and_kubectl_at_itself(
    sandbox_process: tuple[subprocess.Popen[str], Path, Path], tmp_path: Path
) -> None:
    process, directory, log = sandbox_process
    started = time.monotonic()  # time is the subject: "ready" within READY_WITHIN seconds
    assert read_line(process, READY_WITHIN).strip() == "ready", log.read_text()
    assert time.monotonic() - started < READY_WITHIN

    kubeconfig, env_file = directory / "kubeconfig", directory / "sandbox.env"
    for path in (kubeconfig, env_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    exports = env_file.read_text()
    assert f"export KUBECONFIG={kubeconfig.resolve()}" in exports
    assert "export SLIPWAY_FORGE_TOKEN=" in exports
    token = next(
        line.split("=", 1)[1]
        for line in exports.splitlines()
        if line.startswith("export SLIPWAY_FORGE_TOKEN=")
    )
    assert token not in log.read_text()  # stderr shows where things are, not the token

    script = f"source {env_file} && slipway project create x --template static-site --wait"
    created = subprocess.run(
        ["bash", "-c", script],
        env=clean_environment(
            SLIPWAY_DATA_DIR=str(tmp_path / "data"),
            SLIPWAY_READY_TIMEOUT="60",
            SLIPWAY_LOG_LEVEL="warning",
        ),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    assert token not in created.stdout + created.stderr
    assert created.stdout.split()[:2] == ["x", "active"]

    namespaces = kubectl(kubeconfig, "get", "ns", "-o", "name").stdout.split()
    for env in ("development", "staging", "production"):
        assert f"namespace/project-x-{env}" in namespaces

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert process.stdout is not None and process.stdout.read() == ""  # "ready" only, once


@dataclass
class Demo:
    done: CliResult
    cwd: Path


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Demo]:
    """`slipway demo --json` and `slipway demo` (what `make demo` runs), side by side: each
    has its own in-process sandbox, so they share nothing but the time they take."""
    started = {}
    for mode, args in (("json", ["--json"]), ("human", [])):
        cli = SlipwayProcesses(clean_environment(), tmp_path_factory.mktemp(f"demo-{mode}"))
        started[mode] = (cli, cli.spawn("demo", *args))
    try:
        return {
            mode: Demo(cli.finish(process, timeout=180), cli.cwd or Path())
            for mode, (cli, process) in started.items()
        }
    finally:
        stop(*(process for _, process in started.values()))


def test_demo_json_ends_active_with_every_environment_ready(demos: dict[str, Demo]) -> None:
    done = demos["json"].done
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # one document, nothing else on stdout
    assert result["status"] == "active"
    assert result["final"] == "completed"
    assert [e["status"] for e in result["environments"]] == ["ready"] * 3
    assert {r["status"] for r in result["resources"]} == {"ready"}
    assert not (demos["json"].cwd / ".slipway").exists()  # the working tree is left alone
    # The user's token never reaches the cluster: a grep over every Secret's decoded data.
    assert result["cluster_secrets"] >= 3
    assert result["cluster_secrets_holding_the_forge_token"] == 0


def test_demo_prints_the_summary_and_what_kubectl_sees(demos: dict[str, Demo]) -> None:
    """What `make demo` shows, piped (as in CI): nothing cut at 80 columns."""
    done = demos["human"].done
    assert done.returncode == 0, done.stderr
    assert "project demo-site is active: 3 environments Ready" in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["demo-site", "active"]
    for env in ("development", "staging", "production"):
        assert any(re.match(rf"^│ {env}\s+│ project-demo-site-{env}\s+│ ready", x) for x in lines)
    command = next(x for x in lines if x.startswith("$ "))
    assert command.endswith("--kubeconfig KUBECONFIG get gitrepositories,kustomizations -A")
    ready = [x for x in lines if x.startswith("project-demo-site-") and " True " in x]
    assert len(ready) == 6, done.stdout  # a GitRepository and a Kustomization per environment
    assert "kubectl --kubeconfig .slipway/sandbox/kubeconfig get" in done.stdout
    assert re.search(r"Secrets in the cluster: \d+; holding the forge token: 0 ", done.stdout)
    assert all("ssh://git@" in x for x in ready if "gitrepository" in x)
