"""Each adapter, through its real client library, against the emulator over HTTP: create
first, reuse on a re-run, marker-less conflicts, the "name taken" read, deletion. Pushing is
in test_forge_push.py."""

from __future__ import annotations

import pytest

from slipway.domain.errors import Conflict, ForgeError
from slipway.domain.model import ForgeKind
from slipway.forges import Forge
from slipway.forges._errors import TAKEN_STATUSES
from slipway.sandbox.forge import ForgeEmulator
from slipway.sandbox.forge import _gitstore as gitstore

from ._support import Flavour, accepted_writes, api_calls, make_forge, shape, writes


async def test_validate_token_reports_account_kind_and_scopes(
    forge: Forge, flavour: Flavour
) -> None:
    account = await forge.validate_token()
    assert account.login == "alice"
    assert account.provider is flavour.kind
    if flavour.id == "gitea":
        assert account.scopes is None  # Gitea does not report a token's scopes
    else:
        assert account.scopes is not None and account.missing_scopes == ()


@pytest.mark.parametrize("owner", [None, "acme"], ids=["user", "org"])
async def test_ensure_repository_creates_private_marked_repository(
    forge: Forge, emulator: ForgeEmulator, repo_name: str, owner: str | None
) -> None:
    repo = await forge.ensure_repository(
        owner=owner, name=repo_name, project="shop", private=True, description="The shop"
    )
    assert (repo.owner, repo.name) == (owner or "alice", repo_name)
    assert repo.project == "shop" and repo.private
    assert repo.clone_url == emulator.clone_url(owner or "alice", repo_name)
    stored = emulator.state.repo(owner or "alice", repo_name)
    assert stored is not None and stored.private
    assert "slipway:project=shop" in stored.description and "The shop" in stored.description
    assert stored.topics == ["slipway"]
    found = await forge.find_repository(owner=owner, name=repo_name)
    assert found == repo


@pytest.mark.parametrize("owner", [None, "acme"], ids=["user", "org"])
async def test_creation_is_one_create_call_and_the_topic_where_the_create_cannot_set_it(
    emulator: ForgeEmulator, flavour: Flavour, repo_name: str, owner: str | None
) -> None:
    """The login the connection stored is not read again; the repository is not read first;
    only GitLab takes the topic in the create call (GitHub's and Gitea's create APIs have no
    topics field), but it needs a group's id, read first."""
    forge = make_forge(emulator, flavour, login="alice")
    with emulator.recording() as log:
        repo = await forge.ensure_repository(
            owner=owner, name=repo_name, project="shop", private=True, description=""
        )
    await forge.aclose()
    if flavour.kind is ForgeKind.GITLAB:
        expected = [("GET", "acme", 200)] if owner else []
        expected.append(("POST", "projects", 201))
    else:
        status = 200 if flavour.kind is ForgeKind.GITHUB else 204
        expected = [("POST", "repos", 201), ("PUT", "topics", status)]
    assert shape(log.requests()) == expected
    assert repo.topics == ("slipway",)
    stored = emulator.state.repo(owner or "alice", repo_name)
    assert stored is not None and gitstore.is_empty(stored.path)  # no auto_init


async def test_rerun_reads_the_taken_name_once_and_reuses_it(
    forge: Forge, emulator: ForgeEmulator, flavour: Flavour, repo_name: str
) -> None:
    repo = await forge.ensure_repository(
        owner="acme", name=repo_name, project="shop", private=True, description="Shop"
    )
    repositories = len(emulator.state.repos())

    with emulator.recording() as log:
        again = await forge.ensure_repository(
            owner="acme", name=repo_name, project="shop", private=True, description="Shop"
        )

    assert again == repo
    assert len(emulator.state.repos()) == repositories
    (refused, read) = log.requests()
    assert refused.method == "POST" and refused.status in TAKEN_STATUSES
    assert (read.method, read.status) == ("GET", 200)
    assert accepted_writes(log.requests()) == []


@pytest.mark.parametrize("marker", ["", "[slipway:project=other]"], ids=["no-marker", "other"])
async def test_existing_repository_without_our_marker_is_a_conflict_and_untouched(
    forge: Forge, emulator: ForgeEmulator, repo_name: str, marker: str
) -> None:
    existing = emulator.state.create_repo("alice", repo_name, description=f"Hand made {marker}")
    emulator.clear_requests()

    with pytest.raises(Conflict) as caught:
        await forge.ensure_repository(
            owner=None, name=repo_name, project="shop", private=True, description=""
        )

    assert repo_name in str(caught.value) and caught.value.hint
    assert accepted_writes(api_calls(emulator)) == []
    assert existing.description == f"Hand made {marker}" and existing.topics == []
    assert gitstore.is_empty(existing.path)


@pytest.mark.parametrize(
    ("marker", "misses", "outcome"),
    [("shop", 0, None), ("other", 0, Conflict), ("shop", 1, ForgeError)],
    ids=["ours", "theirs", "hidden"],
)
async def test_a_taken_name_is_reused_only_when_marked_for_us(
    forge: Forge,
    emulator: ForgeEmulator,
    flavour: Flavour,
    repo_name: str,
    marker: str,
    misses: int,
    outcome: type[Exception] | None,
) -> None:
    """The create is refused as taken; one read decides (and a forge that will not show the
    repository to this token is an error, not a reuse)."""
    emulator.state.create_repo("acme", repo_name, description=f"[slipway:project={marker}]")
    route = "projects" if flavour.kind is ForgeKind.GITLAB else "repos"
    path = f"{flavour.prefix}/{route}/acme/{repo_name}"
    emulator.add_fault(404, method="GET", path_prefix=path, count=misses)
    emulator.clear_requests()
    ensure = forge.ensure_repository(
        owner="acme", name=repo_name, project="shop", private=True, description=""
    )
    if outcome is None:
        assert (await ensure).project == "shop"
    else:
        with pytest.raises(outcome, match=f"acme/{repo_name}"):
            await ensure
    refused = [r.status for r in writes(api_calls(emulator))]
    assert len(refused) == 1 and refused[0] in TAKEN_STATUSES  # nothing created or tagged
    assert len([r for r in api_calls(emulator) if r.path == path]) == 1  # read once


async def test_delete_is_idempotent(forge: Forge, emulator: ForgeEmulator, repo_name: str) -> None:
    repo = await forge.ensure_repository(
        owner="acme", name=repo_name, project="shop", private=True, description=""
    )
    await forge.delete_repository(repo)
    await forge.delete_repository(repo)
    assert emulator.state.repo("acme", repo_name) is None
    assert await forge.find_repository(owner="acme", name=repo_name) is None
