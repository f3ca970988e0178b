"""`slipway project create` with bad input: a non-zero exit, one line that says why (or one
JSON error document under --json), and nothing created anywhere: no database row, no
repository on the forge, no namespace in the cluster, no workflow queued."""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import astuple
from pathlib import Path
from typing import Any

import pytest
from tests.support.cli import InProcessCli

import slipway.templates
from slipway.sandbox.runner import Sandbox

BUILTIN = Path(slipway.templates.__file__).parent / "builtin"

LONG_NAME = "a" * 44  # 'project-<44>-development' is 64 characters
SLIPWAY_TABLES = ("projects", "environments", "repositories", "gitops_resources", "project_events")


def snapshot(sandbox: Sandbox) -> tuple[set[str], set[str]]:
    """Every repository on the forge and every namespace in the cluster, right now."""
    assert sandbox.forge is not None and sandbox.kube is not None
    repos = {r.full_name for r in sandbox.forge.state.repos()}
    namespaces = {n["metadata"]["name"] for n in sandbox.kube.list("v1", "Namespace")}
    return repos, namespaces


def slipway_rows(data_dir: Path) -> dict[str, int]:
    database = data_dir / "slipway.db"
    if not database.exists():
        return {}
    with sqlite3.connect(database) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in SLIPWAY_TABLES
        }


def assert_rejected(
    argv: list[str],
    cli: InProcessCli,
    sandbox: Sandbox,
    data_dir: Path,
    *,
    exit_code: int,
    says: tuple[str, ...],
    field: str | None = None,
) -> dict[str, Any]:
    """Runs `argv` plain and with --json; checks the exit code, the one line, the JSON document
    and that nothing exists afterwards. Returns the JSON error."""
    before = snapshot(sandbox)

    code, out, err = astuple(cli(*argv))
    assert code == exit_code, (out, err)
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for text in says:
        assert text in lines[0], lines[0]

    code, out, err = astuple(cli("--json", *argv))
    assert code == exit_code
    assert err == ""
    document = json.loads(out)  # exactly one document: json.loads refuses trailing data
    assert set(document) == {"error"}
    error: dict[str, Any] = document["error"]
    assert error["message"] and (error["hint"] or "") + error["message"]
    if field is not None:
        assert (error["type"], error["field"]) == ("InvalidInput", field)
        assert error["rule"] and error["rule"] in error["message"]
    for text in says:
        assert text in f"{error['message']} — {error['hint']}"

    assert snapshot(sandbox) == before
    assert not any(slipway_rows(data_dir).values()), slipway_rows(data_dir)
    assert not (data_dir / "workflows.db").exists()  # nothing was handed to a worker
    return error


@pytest.mark.parametrize(
    ("args", "field", "says"),
    [
        (["Shop"], "name", ("'Shop'", "lowercase", "try 'shop'")),
        (["my_shop"], "name", ("'my_shop'", "try 'my-shop'")),
        ([LONG_NAME], "name", ("63-character limit", "development", "at most 43")),
        (["shop", "--template", "nope"], "template", ("'nope'", "fastapi, nextjs, static-site")),
        (["shop", "--template", "fastapi", "--param", "port=abc"], "param.port", ("integer",)),
        (["shop", "--template", "fastapi", "--param", "nope=1"], "param.nope", ("port",)),
        (["shop", "--param", "page_title"], "--param", ("key=value",)),
        (["shop", "--env", "Prod"], "environment", ("'Prod'",)),
        (["shop", "--env", "dev", "--env", "dev"], "environment", ("'dev' is given twice",)),
        (["shop", "--owner", "-bad-"], "owner", ("'-bad-'",)),
        (["shop", "--owner", "two words"], "owner", ("'two words'",)),
        (["shop", "--template", ""], "template", ("must not be empty", "default template")),
        (["shop", "--owner", ""], "owner", ("must not be empty", "own account")),
        (
            ["shop", "--param", "page_title=a", "--param", "page_title=b"],
            "--param",
            ("'page_title' is given twice",),
        ),
    ],
    ids=[
        "uppercase",
        "underscore",
        "too-long",
        "unknown-template",
        "param-type",
        "param-unknown",
        "param-syntax",
        "env-invalid",
        "env-duplicate",
        "owner-hyphen",
        "owner-space",
        "template-empty",
        "owner-empty",
        "param-duplicate",
    ],
)
def test_bad_input_is_one_line_and_creates_nothing(
    args: list[str],
    field: str,
    says: tuple[str, ...],
    cli_env: dict[str, str],
    sandbox: Sandbox,
    sandbox_cli: InProcessCli,
) -> None:
    data_dir = Path(cli_env["SLIPWAY_DATA_DIR"])
    assert_rejected(
        ["project", "create", *args],
        sandbox_cli,
        sandbox,
        data_dir,
        exit_code=2,
        says=says,
        field=field,
    )


def test_every_bad_field_is_named_at_once(
    cli_env: dict[str, str], sandbox: Sandbox, sandbox_cli: InProcessCli
) -> None:
    data_dir = Path(cli_env["SLIPWAY_DATA_DIR"])
    args = ["project", "create", "Shop", "-t", "fastapi", "--param", "port=abc", "--owner", "-bad-"]
    error = assert_rejected(
        args,
        sandbox_cli,
        sandbox,
        data_dir,
        exit_code=2,
        says=("'Shop'", "try 'shop'", "param.port", "integer", "owner: '-bad-'"),
        field="name",
    )
    assert [e["field"] for e in error["errors"]] == ["name", "param.port", "owner"]
    assert error["errors"][0]["hint"] == "try 'shop'"


def test_dry_run_checks_input_too(
    cli_env: dict[str, str], sandbox: Sandbox, sandbox_cli: InProcessCli
) -> None:
    data_dir = Path(cli_env["SLIPWAY_DATA_DIR"])
    args = ["project", "create", "shop", "--env", "Prod", "--dry-run"]
    assert_rejected(args, sandbox_cli, sandbox, data_dir, exit_code=2, says=("'Prod'",))


def test_no_forge_connection_names_forge_connect(
    cli_env: dict[str, str],
    sandbox: Sandbox,
    sandbox_cli: InProcessCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SLIPWAY_FORGE_TOKEN")
    data_dir = Path(cli_env["SLIPWAY_DATA_DIR"])
    error = assert_rejected(
        ["project", "create", "unconnected", "--template", "static-site"],
        sandbox_cli,
        sandbox,
        data_dir,
        exit_code=3,
        says=("github", "slipway forge connect github --token-stdin"),
    )
    assert error["type"] == "ForgeNotConnected"


def test_dry_run_without_a_forge_connection_renders_and_reports_it_as_a_problem(
    cli_env: dict[str, str],
    sandbox: Sandbox,
    sandbox_cli: InProcessCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SLIPWAY_FORGE_TOKEN")
    before = snapshot(sandbox)
    args = ["project", "create", "offline", "--template", "static-site", "--dry-run"]

    code, out, err = astuple(sandbox_cli(*args))
    assert code == 5, err  # `create` could not go ahead: a dry run says so by its exit code
    assert out.startswith("# problem: forge github: no github connection for ")
    assert "kind: Kustomization" in out

    code, out, err = astuple(sandbox_cli(*args, "--owner", "acme", "--json"))
    assert code == 5, err
    plan = json.loads(out)
    assert plan["project"]["owner"] == "acme"
    assert [p["name"] for p in plan["problems"]] == ["forge github"]
    assert plan["problems"][0]["detail"].startswith("no github connection for ")
    assert "url: ssh://git@<github>/acme/offline.git" in plan["manifests"]

    code, out, err = astuple(sandbox_cli(*args, "--owner", "-acme"))  # the syntax is still checked
    assert code == 2
    assert "owner" in err

    assert snapshot(sandbox) == before
    assert slipway_rows(Path(cli_env["SLIPWAY_DATA_DIR"])).get("projects", 0) == 0


def test_an_unknown_option_is_a_usage_error_even_under_json(
    cli_env: dict[str, str], sandbox: Sandbox, sandbox_cli: InProcessCli
) -> None:
    before = snapshot(sandbox)
    code, out, err = astuple(sandbox_cli("project", "create", "shop", "--colour", "red"))
    assert code == 2
    assert out == ""
    assert "No such option: --colour" in err

    code, out, _ = astuple(sandbox_cli("--json", "project", "create", "shop", "--colour", "red"))
    assert code == 2
    error = json.loads(out)["error"]
    assert error["type"] == "UsageError"
    assert "--colour" in error["message"]
    assert snapshot(sandbox) == before
    assert not any(slipway_rows(Path(cli_env["SLIPWAY_DATA_DIR"])).values())


def test_a_secret_parameter_is_shown_as_stars_and_stored_only_encrypted(
    cli_env: dict[str, str],
    sandbox_cli: InProcessCli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A template question with copier's `secret: true`: `--dry-run --json` shows `***`, and
    the database file never holds the value in clear."""
    templates = tmp_path / "templates"
    shutil.copytree(BUILTIN / "static-site", templates / "vault-site")
    with (templates / "vault-site" / "copier.yml").open("a") as copier:
        copier.write("\napi_key:\n  type: str\n  secret: true\n  default: ''\n")
    monkeypatch.setenv("SLIPWAY_TEMPLATES_PATH", str(templates))
    value = "s3cr3t-api-key-0451"
    args = ["project", "create", "vault", "-t", "vault-site", "--param", f"api_key={value}"]

    code, out, err = astuple(sandbox_cli(*args, "--dry-run", "--json"))
    assert code == 0, err + out
    plan = json.loads(out)
    assert plan["project"]["parameters"]["api_key"] == "***"
    assert plan["project"]["secret_parameters"] == ["api_key"]
    assert value not in out

    code, out, err = astuple(sandbox_cli(*args))
    assert code == 0, err
    assert value not in out + err
    database = Path(cli_env["SLIPWAY_DATA_DIR"]) / "slipway.db"
    stored = b"".join(p.read_bytes() for p in database.parent.glob("slipway.db*"))
    assert value.encode() not in stored
    assert b"api_key" not in stored  # not even the name: the secret ones live only encrypted
