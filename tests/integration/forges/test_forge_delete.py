"""Deleting a project's repository on every forge flavour: only one whose marker names the
project and this installation goes (GitHub 204, GitLab 202 Accepted, Gitea 204); another
installation's, another project's or an unmarked one is refused and stays; gone already is
fine; GitHub refuses a token without the `delete_repo` scope the way GitHub does."""

from __future__ import annotations

import pytest

from slipway.domain.errors import Conflict, ForgeError
from slipway.domain.model import ForgeKind
from slipway.forges import Forge
from slipway.sandbox.forge import ForgeEmulator

from ._support import FLAVOURS, OAUTH_TOKEN, Flavour, api_calls, make_forge

INSTALLATION = "0123456789abcdef"
OTHER_INSTALLATION = "fedcba9876543210"
ACCEPTED = {ForgeKind.GITHUB: 204, ForgeKind.GITLAB: 202, ForgeKind.GITEA: 204}


async def test_the_projects_repository_is_deleted_once(
    forge: Forge, emulator: ForgeEmulator, flavour: Flavour, repo_name: str
) -> None:
    await forge.ensure_repository(
        owner="acme",
        name=repo_name,
        project="shop",
        private=True,
        description="",
        installation=INSTALLATION,
    )
    emulator.clear_requests()

    deleted = await forge.delete_project_repository(
        owner="acme", name=repo_name, project="shop", installation=INSTALLATION
    )

    assert deleted is True
    assert emulator.state.repo("acme", repo_name) is None
    removals = [r.status for r in api_calls(emulator) if r.method == "DELETE"]
    assert removals == [ACCEPTED[flavour.kind]]
    again = await forge.delete_project_repository(
        owner="acme", name=repo_name, project="shop", installation=INSTALLATION
    )
    assert again is False


@pytest.mark.parametrize(
    ("marked_project", "marked_installation", "says"),
    [
        ("shop", OTHER_INSTALLATION, f"another Slipway installation {OTHER_INSTALLATION}"),
        ("till", INSTALLATION, "belongs to project till"),
        (None, None, "has no Slipway marker"),
    ],
    ids=["other-installation", "other-project", "unmarked"],
)
async def test_a_repository_that_is_not_the_projects_is_refused_and_stays(
    forge: Forge,
    emulator: ForgeEmulator,
    repo_name: str,
    marked_project: str | None,
    marked_installation: str | None,
    says: str,
) -> None:
    if marked_project is None:
        emulator.state.create_repo("acme", repo_name, description="a team's own repository")
    else:
        await forge.ensure_repository(
            owner="acme",
            name=repo_name,
            project=marked_project,
            private=True,
            description="",
            installation=marked_installation,
        )
    emulator.clear_requests()

    with pytest.raises(Conflict, match=says) as refused:
        await forge.delete_project_repository(
            owner="acme", name=repo_name, project="shop", installation=INSTALLATION
        )

    assert f"acme/{repo_name}" in str(refused.value)
    assert emulator.state.repo("acme", repo_name) is not None
    assert [r for r in api_calls(emulator) if r.method == "DELETE"] == []


async def test_github_refuses_a_token_without_the_delete_repo_scope(
    emulator: ForgeEmulator, repo_name: str
) -> None:
    flavour = next(f for f in FLAVOURS if f.kind is ForgeKind.GITHUB)
    oauth = make_forge(emulator, flavour, OAUTH_TOKEN)  # scopes repo, api: no delete_repo
    try:
        await oauth.ensure_repository(
            owner="acme",
            name=repo_name,
            project="shop",
            private=True,
            description="",
            installation=INSTALLATION,
        )
        emulator.clear_requests()
        with pytest.raises(ForgeError, match="`delete_repo` scope"):
            await oauth.delete_project_repository(
                owner="acme", name=repo_name, project="shop", installation=INSTALLATION
            )
    finally:
        await oauth.aclose()
    refused = [r for r in api_calls(emulator) if r.method == "DELETE"]
    assert [r.status for r in refused] == [403]
    assert emulator.state.repo("acme", repo_name) is not None
