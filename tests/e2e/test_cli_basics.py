"""CLI conventions: --json prints one document, errors are one line with a non-zero code and
no traceback unless --debug, and nothing secret is ever echoed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support.cli import InProcessCli

from slipway import __version__


def test_version_json(slipway_cli: InProcessCli) -> None:
    assert slipway_cli("version", "--json").json() == {"version": __version__}


def test_help_exits_0(slipway_cli: InProcessCli) -> None:
    done = slipway_cli("project", "create", "--help")
    assert done.returncode == 0
    assert "--template" in done.stdout


def test_unknown_command_is_a_usage_error(slipway_cli: InProcessCli) -> None:
    done = slipway_cli("no-such-command")
    assert done.returncode == 2
    assert "No such command" in done.stderr


def test_templates_list_json_has_the_three_templates_with_parameters(
    slipway_cli: InProcessCli,
) -> None:
    templates = {t["name"]: t for t in slipway_cli("--json", "templates", "list").json()}
    assert {"static-site", "fastapi", "nextjs"} <= set(templates)
    port = next(p for p in templates["fastapi"]["parameters"] if p["name"] == "port")
    assert port["type"] == "int"


def test_an_unreachable_database_is_one_line_without_its_password(
    slipway_cli: InProcessCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPWAY_DATABASE_URL", "postgresql+psycopg://app:hunter2@127.0.0.1:1/x")
    slipway_cli.transcript.secrets = ("hunter2",)
    done = slipway_cli("project", "list")
    assert done.returncode == 6
    [line] = done.stderr.strip().splitlines()
    assert "cannot open the database postgresql+psycopg://app:***@127.0.0.1:1/x" in line
    assert "SLIPWAY_DATABASE_URL" in line

    done = slipway_cli("project", "list", "--json")
    assert done.returncode == 6
    error = json.loads(done.stdout)["error"]
    assert (error["type"], error["system"]) == ("ExternalError", "database")


def test_an_unexpected_error_is_one_line_and_a_traceback_only_with_debug(
    tmp_path: Path, slipway_cli: InProcessCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("SLIPWAY_DATA_DIR", str(tmp_path / "a-file" / "data"))
    done = slipway_cli("project", "list")
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: unexpected NotADirectoryError")
    assert "--debug" in line
    assert "Traceback" not in done.stderr

    with pytest.raises(NotADirectoryError):
        slipway_cli("--debug", "project", "list")


def test_a_bad_setting_names_the_variable_not_its_value(
    slipway_cli: InProcessCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPWAY_WORKER_CONCURRENCY", "s3cr3t-value")
    slipway_cli.transcript.secrets = ("s3cr3t-value",)
    done = slipway_cli("version")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: SLIPWAY_WORKER_CONCURRENCY: ")

    done = slipway_cli("--json", "version")
    assert done.returncode == 2
    error = json.loads(done.stdout)["error"]
    assert error["field"] == "SLIPWAY_WORKER_CONCURRENCY"
