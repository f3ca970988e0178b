"""CLI conventions: --json prints one document, errors are one line with a non-zero code and
no traceback unless --debug, and nothing secret is ever echoed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slipway import __version__
from slipway.cli import main


def test_version_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"version": __version__}


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["project", "create", "--help"]) == 0
    assert "--template" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_templates_list_json_has_the_three_templates_with_parameters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--json", "templates", "list"]) == 0
    templates = {t["name"]: t for t in json.loads(capsys.readouterr().out)}
    assert {"static-site", "fastapi", "nextjs"} <= set(templates)
    port = next(p for p in templates["fastapi"]["parameters"] if p["name"] == "port")
    assert port["type"] == "int"


def test_an_unreachable_database_is_one_line_without_its_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPWAY_DATABASE_URL", "postgresql+psycopg://app:hunter2@127.0.0.1:1/x")
    assert main(["project", "list"]) == 6
    captured = capsys.readouterr()
    [line] = captured.err.strip().splitlines()
    assert "cannot open the database postgresql+psycopg://app:***@127.0.0.1:1/x" in line
    assert "SLIPWAY_DATABASE_URL" in line
    assert "hunter2" not in captured.out + captured.err

    assert main(["project", "list", "--json"]) == 6
    error = json.loads(capsys.readouterr().out)["error"]
    assert (error["type"], error["system"]) == ("ExternalError", "database")


def test_an_unexpected_error_is_one_line_and_a_traceback_only_with_debug(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("SLIPWAY_DATA_DIR", str(tmp_path / "a-file" / "data"))
    assert main(["project", "list"]) == 1
    captured = capsys.readouterr()
    [line] = captured.err.strip().splitlines()
    assert line.startswith("error: unexpected NotADirectoryError")
    assert "--debug" in line
    assert "Traceback" not in captured.err

    with pytest.raises(NotADirectoryError):
        main(["--debug", "project", "list"])


def test_a_bad_setting_names_the_variable_not_its_value(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPWAY_WORKER_CONCURRENCY", "s3cr3t-value")
    assert main(["version"]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.strip().splitlines()
    assert line.startswith("error: SLIPWAY_WORKER_CONCURRENCY: ")
    assert "s3cr3t-value" not in captured.out + captured.err

    assert main(["--json", "version"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["field"] == "SLIPWAY_WORKER_CONCURRENCY"
