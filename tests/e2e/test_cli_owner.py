"""`slipway project create --owner`: an owner the forge does not know, or one the token's
account may not create repositories under, is bad input (exit 2, one line naming the owner)
and nothing is created anywhere; an org the account belongs to works end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.e2e.helpers import FLUX_SOURCE
from tests.e2e.test_cli_input import assert_rejected
from tests.support.cli import InProcessCli, SlipwayProcesses

from slipway.domain.names import ResourceNames
from slipway.sandbox.runner import SANDBOX_ORG, SANDBOX_USER, Sandbox

CLOSED_ORG = "closed-e2e-org"  # exists, but the sandbox user is not a member


@pytest.fixture(scope="module", autouse=True)
def _closed_org(sandbox: Sandbox) -> None:
    """Adds an org to the shared sandbox (the emulator cannot remove one); no other test
    names it, so none can depend on it."""
    assert sandbox.forge is not None
    sandbox.forge.add_org(CLOSED_ORG)


@pytest.mark.parametrize(
    ("owner", "says"),
    [
        ("nobody-org", ("owner", "'nobody-org'", "is not a user or organization on GitHub")),
        (CLOSED_ORG, ("owner", f"'{CLOSED_ORG}'", f"{SANDBOX_USER} is not a member")),
    ],
    ids=["missing", "not-a-member"],
)
@pytest.mark.parametrize("dry_run", [False, True], ids=["create", "dry-run"])
def test_an_owner_that_cannot_be_used_is_bad_input_and_creates_nothing(
    owner: str,
    says: tuple[str, ...],
    dry_run: bool,
    cli_env: dict[str, str],
    sandbox: Sandbox,
    sandbox_cli: InProcessCli,
) -> None:
    argv = ["project", "create", "x", "--owner", owner, *(["--dry-run"] if dry_run else [])]
    error = assert_rejected(
        argv,
        sandbox_cli,
        sandbox,
        Path(cli_env["SLIPWAY_DATA_DIR"]),
        exit_code=2,
        says=says,
        field="owner",
    )
    assert error["hint"]
    assert sandbox.forge_token not in json.dumps(error)


def test_an_org_the_account_belongs_to_works_end_to_end(
    slipway_process: SlipwayProcesses, sandbox: Sandbox, sandbox_cli: InProcessCli
) -> None:
    """Given in another case, the owner is stored and used as the forge spells it."""
    assert sandbox.forge is not None and sandbox.kube is not None
    name = "org-owned"
    args = ("--owner", SANDBOX_ORG.upper(), "--env", "dev", "--template", "static-site")
    done = slipway_process("project", "create", name, *args, "--wait", timeout=120)
    assert done.returncode == 0, (done.stdout, done.stderr)  # the token is checked for in both

    view = sandbox_cli("project", "show", name, "--json").json()
    assert (view["status"], view["owner"]) == ("active", SANDBOX_ORG)
    assert view["repository"]["owner"] == SANDBOX_ORG
    assert [e["name"] for e in view["environments"]] == ["dev"]
    repo = sandbox.forge.state.repo(SANDBOX_ORG, name)
    assert repo is not None and repo.owner == SANDBOX_ORG
    assert sandbox.forge.state.repo(SANDBOX_USER, name) is None
    names = ResourceNames(view["slug"], "dev")
    source = sandbox.kube.get(FLUX_SOURCE, "GitRepository", names.git_repository, names.namespace)
    assert source is not None
    assert source["spec"]["url"] == sandbox.forge.ssh_clone_url(SANDBOX_ORG, name)
