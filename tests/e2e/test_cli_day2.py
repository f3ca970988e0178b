"""The CLI around day 2 (issue 11, item 6), as a user runs it against the sandbox: `--wait`
runs only its own project, `--json` failures are one `{"error": ...}` document, `events
--follow --json` streams JSON Lines, `list --status`, exit codes, and what `worker` resumed."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
from pathlib import Path

from tests.e2e.conftest import forge_faulted
from tests.support.cli import InProcessCli, SlipwayProcesses, stop

from slipway.domain.health import Health
from slipway.domain.model import ProjectStatus
from slipway.sandbox.forge import RequestRecorder
from slipway.sandbox.runner import Sandbox

README = Path(__file__).resolve().parents[2] / "README.md"


def test_create_wait_leaves_other_projects_queued_for_a_worker(
    slipway_process: SlipwayProcesses,
) -> None:
    queued = slipway_process("project", "create", "day2-queued", "--json")
    assert queued.returncode == 0, queued.stderr
    assert queued.json()["status"] == "pending"

    waited = slipway_process("project", "create", "day2-waited", "--wait", "--json")

    assert waited.returncode == 0, waited.stderr
    assert waited.json()["status"] == "active"
    assert "DBOS" not in waited.stderr and "Traceback" not in waited.stderr
    assert slipway_process.json("project", "show", "day2-queued")["status"] == "pending"

    worker = slipway_process("worker", "--until-idle", timeout=180)
    assert worker.returncode == 0, worker.stderr
    assert slipway_process.json("project", "show", "day2-queued")["status"] == "active"


def test_list_filters_by_status_and_names_the_allowed_values(sandbox_cli: InProcessCli) -> None:
    assert sandbox_cli("project", "create", "day2-listed").returncode == 0

    pending = sandbox_cli("project", "list", "--status", "pending", "--json").json()
    active = sandbox_cli("project", "list", "--status", "active", "--json").json()
    assert [p["name"] for p in pending] == ["day2-listed"]
    assert active == []

    bad = sandbox_cli("project", "list", "--status", "stuck")
    assert bad.returncode == 2
    assert "--status" in bad.stderr
    assert all(s.value in bad.stderr for s in ProjectStatus)

    bad_json = sandbox_cli("project", "list", "--status", "stuck", "--json")
    assert bad_json.returncode == 2
    assert json.loads(bad_json.stdout)["error"]["field"] == "--status"

    # by health too: a project still queued has no resource observed yet
    queued = sandbox_cli("project", "list", "--health", "pending", "--json").json()
    assert "day2-listed" in [p["name"] for p in queued]
    assert sandbox_cli("project", "list", "--health", "healthy", "--json").json() == []
    sick = sandbox_cli("project", "list", "--health", "sick")
    assert sick.returncode == 2 and "--health" in sick.stderr
    assert all(h.value in sick.stderr for h in Health)


def test_json_failures_are_one_error_document_and_human_ones_one_line_on_stderr(
    sandbox_cli: InProcessCli,
) -> None:
    missing = sandbox_cli("project", "show", "day2-nobody", "--json")
    assert missing.returncode == 3
    (line,) = missing.stdout.splitlines()
    error = json.loads(line)["error"]
    assert error["type"] == "NotFound" and "day2-nobody" in error["message"]
    assert missing.stderr == ""  # stdout is the one document; nothing else is printed
    human = sandbox_cli("project", "show", "day2-nobody")
    assert human.returncode == 3 and human.stdout == ""
    assert human.stderr.startswith("error: ") and "day2-nobody" in human.stderr

    usage = sandbox_cli("project", "list", "--no-such-option", "--json")
    assert usage.returncode == 2
    assert "--no-such-option" in json.loads(usage.stdout)["error"]["message"]


def test_connect_with_a_bad_url_is_exit_2_at_once_without_a_request(
    slipway_process: SlipwayProcesses, sandbox: Sandbox, forge_requests: RequestRecorder
) -> None:
    done = slipway_process(
        "forge", "connect", "github", "--url", "not-a-url", "--token-stdin", stdin="t0ken\n"
    )
    # Exit 2 is bad input, found before any request (a refused connection after retries with
    # backoff would be exit 6): no clock needed to tell them apart.
    assert done.returncode == 2
    assert "url: must" in done.stderr and "absolute http(s) URL with a host" in done.stderr
    # Slipway's own requests only: the shared sandbox's Flux keeps fetching earlier tests'
    # repositories over SSH meanwhile.
    assert [r for r in forge_requests.requests() if "slipway" in (r.user_agent or "")] == []

    as_json = slipway_process(
        "forge", "connect", "github", "--url", "ftp://x", "--token-stdin", "--json", stdin="t\n"
    )
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["error"]["field"] == "url"


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The first line the process prints, read on a thread: raises if none comes in time."""
    stream = process.stdout
    assert stream is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()))
    reader.start()
    reader.join(timeout)
    if not lines or not lines[0]:
        raise TimeoutError(f"no line on stdout within {timeout} s")
    return lines[0]


def test_events_follow_json_streams_one_object_per_line_as_events_happen(
    slipway_process: SlipwayProcesses,
) -> None:
    name = "day2-streamed"
    assert slipway_process("project", "create", name).returncode == 0
    follow = slipway_process.spawn("project", "events", name, "--follow", "--json")
    try:
        first = json.loads(_first_line(follow, timeout=30))
        # Seen before the project ran at all: no worker has started yet.
        assert first["project"] == name and first["final"] is None
        assert follow.poll() is None
        assert slipway_process.json("project", "show", name)["status"] == "pending"
        worker = slipway_process("worker", "--until-idle", timeout=180)
        assert worker.returncode == 0, worker.stderr
    except BaseException:
        stop(follow)
        raise
    rest = slipway_process.finish(follow, timeout=30)
    assert rest.returncode == 0, rest.stderr
    events = [first] + [json.loads(line) for line in rest.stdout.splitlines()]
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["final"] == "completed"
    replay = slipway_process.json("project", "events", name)
    assert isinstance(replay, list) and len(replay) == len(events)


def test_every_documented_exit_code_is_produced(
    slipway_process: SlipwayProcesses, sandbox: Sandbox, tmp_path: Path
) -> None:
    sentence = re.search(r"non-zero exit code \(([^)]*)\)", README.read_text())
    assert sentence is not None, "README lost its exit-code sentence"
    documented = {int(code) for code in re.findall(r"\b(\d+)\s", sentence.group(1))}
    assert documented >= {1, 2, 3, 4, 5, 6, 130}

    produced: dict[int, int] = {}
    run = slipway_process
    produced[2] = run("project", "list", "--status", "stuck").returncode
    produced[3] = run("project", "show", "day2-absent").returncode
    assert run("project", "create", "day2-taken").returncode == 0
    produced[4] = run("project", "create", "day2-taken").returncode
    down = tmp_path / "kubeconfig-down"
    down.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: d, cluster: {server: "
        "'http://127.0.0.1:9'}}]\ncontexts: [{name: d, context: {cluster: d, user: d}}]\n"
        "current-context: d\nusers: [{name: d, user: {token: x}}]\n"
    )
    unreachable = {"KUBECONFIG": str(down), "SLIPWAY_KUBECONFIG": str(down)}
    produced[5] = run("doctor", env=unreachable).returncode
    assert sandbox.forge is not None
    with forge_faulted(sandbox, 403, path_prefix="/user/repos", method="POST", count=5):
        failed = run("project", "create", "day2-failed", "--wait")
    produced[1] = failed.returncode
    assert run("project", "events", "day2-failed", "--follow").returncode == 1
    # The forge failing (5xx through every retry), not a token it refuses (that is bad input).
    with forge_faulted(sandbox, 503, path_prefix="/user", method="GET", count=5):
        produced[6] = run(
            "forge", "connect", "github", "--token-stdin", stdin=f"{sandbox.forge_token}\n"
        ).returncode

    follow = run.spawn("project", "events", "day2-taken", "--follow")  # queued: it waits
    try:
        _first_line(follow, timeout=30)
        follow.send_signal(signal.SIGINT)  # Ctrl-C
    except BaseException:
        stop(follow)
        raise
    produced[130] = run.finish(follow, timeout=30).returncode

    # 7 (a missing or unknown API token) is the API's: no command takes a token yet.
    documented -= {7}
    assert {code: produced.get(code) for code in documented} == {c: c for c in documented}
