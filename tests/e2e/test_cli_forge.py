"""`slipway forge connect`: the token comes from stdin, is checked against the forge, stored
only encrypted, and then used by `project create` without SLIPWAY_FORGE_TOKEN."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from tests.support.cli import InProcessCli, SlipwayProcesses

from slipway.sandbox.runner import SANDBOX_USER, Sandbox


def connections(data_dir: Path) -> list[tuple[str, str, str, bytes]]:
    database = data_dir / "slipway.db"
    if not database.exists():
        return []
    with sqlite3.connect(database) as conn:
        return list(
            conn.execute(
                "SELECT provider, server_url, account_name, encrypted_token FROM forge_connections"
            )
        )


@pytest.fixture
def slipway(slipway_process: SlipwayProcesses) -> SlipwayProcesses:
    """`slipway` processes pointed at the sandbox without SLIPWAY_FORGE_TOKEN: the token is
    given to `forge connect` on stdin only (and must never be printed)."""
    env = {k: v for k, v in slipway_process.env.items() if k != "SLIPWAY_FORGE_TOKEN"}
    return SlipwayProcesses(env, slipway_process.cwd, slipway_process.transcript)


def test_connect_then_create_with_the_stored_connection(
    slipway: SlipwayProcesses, sandbox: Sandbox
) -> None:
    assert sandbox.forge is not None and sandbox.kube is not None
    token = sandbox.forge_token
    data_dir = Path(slipway.env["SLIPWAY_DATA_DIR"])
    url = sandbox.forge.url

    done = slipway(
        "forge",
        "connect",
        "github",
        "--token-stdin",
        "--url",
        url,
        stdin=token + "\n",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"connected github as {SANDBOX_USER}"

    [(provider, server_url, account, encrypted)] = connections(data_dir)
    assert (provider, server_url, account) == ("github", url, SANDBOX_USER)
    assert encrypted and token.encode() not in encrypted
    assert token.encode() not in (data_dir / "slipway.db").read_bytes()

    created = slipway(
        "project",
        "create",
        "cli-connected",
        "--template",
        "static-site",
        "--env",
        "dev",
        "--wait",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    view = json.loads(created.stdout)
    assert view["status"] == "active"
    assert view["repository"]["owner"] == SANDBOX_USER
    assert [r.full_name for r in sandbox.forge.state.repos() if r.name == "cli-connected"] == [
        f"{SANDBOX_USER}/cli-connected"
    ]
    for path in data_dir.glob("*.db*"):  # Slipway's and DBOS's databases
        assert token.encode() not in path.read_bytes(), path


def test_connect_json_reports_account_and_scopes(
    slipway: SlipwayProcesses, sandbox: Sandbox
) -> None:
    assert sandbox.forge is not None
    done = slipway(
        "--json",
        "forge",
        "connect",
        "github",
        "--token-stdin",
        "--url",
        sandbox.forge.url,
        stdin=sandbox.forge_token,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["forge"] == "github"
    assert document["account"] == SANDBOX_USER
    assert {"repo", "workflow"} <= set(document["scopes"])
    assert document["missing_scopes"] == []
    assert "token" not in json.dumps(document).replace("token_kind", "")


def test_a_wrong_token_is_refused_with_what_to_do_and_nothing_is_stored(
    slipway: SlipwayProcesses, sandbox: Sandbox
) -> None:
    assert sandbox.forge is not None
    wrong = "ghp_" + "x" * 36
    args = ("forge", "connect", "github", "--token-stdin", "--url", sandbox.forge.url)
    done = slipway(*args, stdin=wrong)
    assert done.returncode == 2  # the token typed in is bad input, not an outage
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert wrong not in line
    assert "rejected by GitHub" in line
    assert "invalid, expired or revoked" in line
    assert "slipway forge connect github --token-stdin" in line

    done = slipway("--json", *args, stdin=wrong)
    assert done.returncode != 0
    error = json.loads(done.stdout)["error"]
    assert error["type"] == "InvalidInput"
    assert error["field"] == "token"
    assert "rejected by GitHub" in error["rule"]
    assert wrong not in done.stdout
    assert connections(Path(slipway.env["SLIPWAY_DATA_DIR"])) == []


def test_token_stdin_is_required(cli_env: dict[str, str], sandbox_cli: InProcessCli) -> None:
    done = sandbox_cli("forge", "connect", "github")
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert "--token-stdin: is required" in line
    assert 'echo "$TOKEN" | slipway forge connect github --token-stdin' in line

    empty = sandbox_cli("forge", "connect", "github", "--token-stdin", "--json", stdin="\n")
    assert empty.returncode == 2
    error = json.loads(empty.stdout)["error"]
    assert (error["field"], error["rule"]) == ("token", "must not be empty")
    assert connections(Path(cli_env["SLIPWAY_DATA_DIR"])) == []


def test_an_unknown_forge_is_a_usage_error(sandbox_cli: InProcessCli) -> None:
    done = sandbox_cli("forge", "connect", "bitbucket", "--token-stdin")
    assert done.returncode == 2
    assert "bitbucket" in done.stderr


def test_list_and_disconnect_never_show_the_token_and_projects_let_go(
    slipway: SlipwayProcesses, sandbox: Sandbox
) -> None:
    """A project remembers the connection it acts as; disconnecting removes the token and
    leaves the project, which then names no connection."""
    assert sandbox.forge is not None
    token, url = sandbox.forge_token, sandbox.forge.url
    data_dir = Path(slipway.env["SLIPWAY_DATA_DIR"])
    assert slipway("forge", "list").stdout.startswith("no stored forge connections")
    connect = ("forge", "connect", "github", "--token-stdin", "--url", url)
    assert slipway(*connect, stdin=token + "\n").returncode == 0
    listed = slipway("forge", "list", "--json").json()
    assert [(c["forge"], c["url"], c["account"]) for c in listed] == [("github", url, SANDBOX_USER)]
    # The listed id is what `create --connection` takes.
    assert f" {listed[0]['id']} " in slipway("forge", "list").stdout
    create = ("project", "create", "let-go", "-t", "static-site", "--env", "dev")
    created = slipway(*create, "--connection", str(listed[0]["id"]))
    assert created.returncode == 0, created.stderr

    def acting_connection() -> object:
        with sqlite3.connect(data_dir / "slipway.db") as conn:
            sql = "SELECT forge_connection_id FROM projects WHERE name = 'let-go'"
            return conn.execute(sql).fetchone()[0]

    assert acting_connection() == listed[0]["id"]
    gone = slipway("forge", "disconnect", "github", "--url", url, "--json").json()
    assert (gone["forge"], gone["account"]) == ("github", SANDBOX_USER)
    assert connections(data_dir) == [] and acting_connection() is None
    again = slipway("forge", "disconnect", "github", "--url", url)
    assert again.returncode == 3 and "slipway forge list" in again.stderr
    assert all(token not in text for text in slipway.transcript.outputs)
