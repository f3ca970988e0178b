"""The REST API as a real process: `slipway demo --serve` (the one command to try the API,
with the curl session it prints) and `slipway serve` against the sandbox (probes, and a
SIGTERM in the middle of a creation that the next worker finishes)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from tests.e2e.conftest import forge_slowed
from tests.e2e.helpers import assert_project_complete
from tests.support.cli import SLIPWAY, SlipwayProcesses, clean_environment
from tests.support.serve import Lines, follow, stopped
from tests.support.waiting import wait_until

from slipway.bootstrap import App, bootstrap
from slipway.config import Settings
from slipway.domain.model import Step
from slipway.sandbox.runner import Sandbox
from slipway.store.models import ExecutorLease

# What a sandbox forge token looks like (runner.py): none may ever be printed.
FORGE_TOKEN = re.compile(r"sandbox_[0-9a-f]{32}")


@pytest.fixture
def demo_serve(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    log = tmp_path / "demo.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [SLIPWAY, "demo", "--serve", "--port", "0"],
            env=clean_environment(SLIPWAY_LOG_LEVEL="warning"),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        yield process, log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_demo_serve_prints_a_curl_session_that_creates_follows_and_shows_a_project(
    demo_serve: tuple[subprocess.Popen[str], Path], tmp_path: Path
) -> None:
    process, log = demo_serve
    lines = Lines(process)
    url = lines.until(r"^serving (http://127\.0\.0\.1:\d+)$").group(1)
    exported = lines.until(r"^export SLIPWAY_URL=(\S+) SLIPWAY_TOKEN=(\S+)$")
    assert exported.group(1) == url
    token = exported.group(2)
    show = lines.until(r"^curl .*/api/v1/projects/shop$").group(0)
    session = "".join(lines.seen)
    assert '-d \'{"name": "shop", "template": "static-site"}\' $SLIPWAY_URL' in session
    assert "curl -N " in session and "$SLIPWAY_URL/api/v1/projects/shop/events/stream" in session

    # The session, step by step, as the printed curl commands do it.
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=auth, timeout=60.0) as http:
        created = http.post("/api/v1/projects", json={"name": "shop", "template": "static-site"})
        assert created.status_code == 201, created.text
        events = follow(http, "shop")
        assert events[-1]["final"] == "completed", events[-1]
        assert [e["percent"] for e in events] == sorted(e["percent"] for e in events)
        shown = http.get("/api/v1/projects/shop")
        assert shown.status_code == 200, shown.text
        assert shown.json()["status"] == "active"
        assert [e["status"] for e in shown.json()["environments"]] == ["ready"] * 3
        # Without the token: the API's problem document, not the project.
        anonymous = httpx.get(f"{url}/api/v1/projects/shop", timeout=60.0)
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"].startswith("application/problem+json")

    if shutil.which("curl"):  # the printed lines paste as they are (quoting, variables)
        pasted = subprocess.run(
            ["bash", "-c", f"{exported.group(0)}\n{show}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert pasted.returncode == 0, pasted.stderr
        assert json.loads(pasted.stdout)["status"] == "active"

    assert stopped(process) == 0, log.read_text()
    printed = session + log.read_text()
    assert not FORGE_TOKEN.search(printed)  # the sandbox forge token stays inside
    assert not list(tmp_path.glob(".slipway*"))  # the working tree is left alone


@pytest.fixture
def cli_app(cli_env: dict[str, str]) -> Iterator[App]:
    """The database the `slipway` processes share, opened from the test."""
    instance = bootstrap(Settings())
    yield instance
    instance.close()


def lease_of(app: App, pid: int) -> ExecutorLease | None:
    with app.session() as session:
        return session.scalars(sa.select(ExecutorLease).where(ExecutorLease.pid == pid)).first()


def test_serve_answers_probes_and_hands_a_creation_over_on_sigterm(
    slipway_process: SlipwayProcesses, cli_app: App, sandbox: Sandbox, tmp_path: Path
) -> None:
    """A rolling deploy of the API: SIGTERM mid-creation exits 0 and expires the process's
    lease at once (30 s otherwise), and the next worker finishes the project."""
    long_lease = {"SLIPWAY_LEASE_SECONDS": "30"}
    token = slipway_process.json("user", "create", "ops", "--admin")["token"]
    server = slipway_process.spawn("serve", "--port", "0", env=long_lease)
    try:
        lines = Lines(server)
        url = lines.until(r"^serving (http://127\.0\.0\.1:\d+)$").group(1)
        with httpx.Client(base_url=url, timeout=60.0) as probes:
            assert probes.get("/healthz").json() == {"status": "ok"}
            ready = probes.get("/readyz")
            assert ready.status_code == 200 and ready.json()["ready"] is True, ready.text

        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"{url}/api/v1", headers=auth, timeout=60.0) as http:
            connected = http.post(
                "/connections", json={"forge": "github", "token": sandbox.forge_token}
            )
            assert connected.status_code == 201, connected.text

            def reached_push() -> bool:
                events = http.get("/projects/serve-handover/events").json()
                return any(e["step"] == Step.PUSH_TEMPLATE.value for e in events)

            with forge_slowed(sandbox, 300):  # the run is still going when SIGTERM comes
                body = {"name": "serve-handover", "template": "static-site"}
                assert http.post("/projects", json=body).status_code == 201
                wait_until(reached_push, message="the run to reach push_template", timeout=60)
                lease = lease_of(cli_app, server.pid)
                assert lease is not None and lease.expires_at > datetime.now(UTC)
                code = stopped(server)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
    assert server.stderr is not None
    stderr = server.stderr.read()
    slipway_process.transcript.check("".join(lines.seen), stderr)
    assert code == 0, stderr
    handed_over = lease_of(cli_app, server.pid)
    assert handed_over is not None and handed_over.expires_at < datetime.now(UTC)

    worker = slipway_process("worker", "--until-idle", env=long_lease)
    assert worker.returncode == 0, worker.stderr
    assert re.search(r"^resumed serve-handover at step \S+ \(", worker.stdout, re.M), worker.stdout
    assert_project_complete(cli_app, sandbox, "serve-handover", tmp_path)
