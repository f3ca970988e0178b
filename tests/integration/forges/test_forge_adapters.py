"""Each adapter, through its real client library, against the emulator over HTTP: create,
push, idempotent re-runs, marker-less conflicts and recovery from scripted faults."""

from __future__ import annotations

import time

import pytest

from slipway.domain.errors import Conflict, ForgeError
from slipway.domain.model import ForgeKind
from slipway.forges import Forge
from slipway.sandbox.forge import ForgeEmulator
from slipway.sandbox.forge import _gitstore as gitstore

from ._support import Flavour, api_calls, writes


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


async def test_push_of_1_and_2000_files_takes_the_same_number_of_calls(
    forge: Forge, emulator: ForgeEmulator, repo_name: str
) -> None:
    counts = []
    for size in (1, 2000):
        repo = await forge.ensure_repository(
            owner=None, name=f"{repo_name}-{size}", project="many", private=True, description=""
        )
        files = {
            f"k8s/part-{i // 100}/file-{i}.yaml": f"index: {i}\n".encode() for i in range(size)
        }
        emulator.clear_requests()
        commit = await forge.push_files(repo, files, message="Template", project="many")
        counts.append([(r.method, r.status) for r in api_calls(emulator)])
        stored = emulator.state.repo("alice", repo.name)
        assert stored is not None
        info = gitstore.read_commit(stored.path, commit.sha)
        assert info is not None and info.tree == commit.tree_sha
        assert len(gitstore.flatten_tree(stored.path, info.tree)) == size
    assert counts[0] == counts[1]
    assert len(counts[0]) <= 5


async def test_rerun_creates_no_new_repository_and_no_new_commit(
    forge: Forge, emulator: ForgeEmulator, repo_name: str
) -> None:
    files = {"README.md": b"# shop\n", "k8s/base/kustomization.yaml": b"resources: []\n"}
    repo = await forge.ensure_repository(
        owner="acme", name=repo_name, project="shop", private=True, description="Shop"
    )
    first = await forge.push_files(repo, files, message="Template", project="shop")
    repositories = len(emulator.state.repos())
    emulator.clear_requests()

    again = await forge.ensure_repository(
        owner="acme", name=repo_name, project="shop", private=True, description="Shop"
    )
    second = await forge.push_files(again, files, message="Template", project="shop")

    assert again == repo and second == first
    assert len(emulator.state.repos()) == repositories
    assert writes(api_calls(emulator)) == []


async def test_push_replaces_the_tree_with_exactly_the_new_files(
    forge: Forge, emulator: ForgeEmulator, repo_name: str
) -> None:
    repo = await forge.ensure_repository(
        owner=None, name=repo_name, project="shop", private=True, description=""
    )
    await forge.push_files(
        repo, {"a.txt": b"a\n", "old/b.txt": b"b\n"}, message="v1", project="shop"
    )
    commit = await forge.push_files(
        repo, {"a.txt": b"changed\n", "new/c.txt": b"c\n"}, message="v2", project="shop"
    )
    stored = emulator.state.repo("alice", repo_name)
    assert stored is not None
    head = gitstore.get_ref(stored.path, "refs/heads/main")
    assert head == commit.sha
    info = gitstore.read_commit(stored.path, commit.sha)
    assert info is not None
    assert sorted(gitstore.flatten_tree(stored.path, info.tree)) == ["a.txt", "new/c.txt"]


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
    assert writes(api_calls(emulator)) == []
    assert existing.description == f"Hand made {marker}" and existing.topics == []
    assert gitstore.is_empty(existing.path)


@pytest.mark.parametrize(
    ("marker", "misses", "outcome"),
    [("shop", 1, None), ("other", 1, Conflict), ("shop", 2, ForgeError)],
    ids=["ours", "theirs", "hidden"],
)
async def test_a_create_that_races_another_reuses_only_a_repository_marked_for_us(
    forge: Forge,
    emulator: ForgeEmulator,
    flavour: Flavour,
    repo_name: str,
    marker: str,
    misses: int,
    outcome: type[Exception] | None,
) -> None:
    """The first read misses a repository made at that moment, so the create is refused as
    taken; a second read decides (and a forge that still hides it is an error, not a reuse)."""
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
    assert len(refused) == 1 and refused[0] in (400, 409, 422)  # nothing created or tagged


@pytest.mark.parametrize("status", [429, 502])
async def test_rate_limit_and_server_error_are_retried(
    forge: Forge, emulator: ForgeEmulator, flavour: Flavour, repo_name: str, status: int
) -> None:
    repo = await forge.ensure_repository(
        owner=None, name=repo_name, project="shop", private=True, description=""
    )
    emulator.clear_requests()
    count = 1 if status == 429 else 2
    retry_after = 1 if status == 429 else None
    emulator.add_fault(
        status, method="POST", path_prefix=flavour.prefix, count=count, retry_after=retry_after
    )

    started = time.monotonic()
    commit = await forge.push_files(repo, {"a.txt": b"a\n"}, message="Template", project="shop")
    elapsed = time.monotonic() - started

    log = api_calls(emulator)
    faulted = [r for r in log if r.faulted]
    assert [r.status for r in faulted] == [status] * count
    if retry_after:
        assert elapsed >= retry_after * 0.9  # the Retry-After was waited out
    retried = [r for r in log if r.method == "POST" and not r.faulted]
    assert retried and retried[0].path == faulted[0].path  # the same call, answered this time
    stored = emulator.state.repo("alice", repo_name)
    assert stored is not None and gitstore.get_ref(stored.path, "refs/heads/main") == commit.sha


async def test_not_found_right_after_creation_is_retried_briefly(
    forge: Forge, emulator: ForgeEmulator, flavour: Flavour, repo_name: str
) -> None:
    repo = await forge.ensure_repository(
        owner=None, name=repo_name, project="shop", private=True, description=""
    )
    emulator.add_fault(
        404, method="GET", path_prefix=flavour.prefix, count=2, message="404 Project Not Found"
    )
    commit = await forge.push_files(repo, {"a.txt": b"a\n"}, message="Template", project="shop")
    stored = emulator.state.repo("alice", repo_name)
    assert stored is not None and gitstore.get_ref(stored.path, "refs/heads/main") == commit.sha


async def test_delete_is_idempotent(forge: Forge, emulator: ForgeEmulator, repo_name: str) -> None:
    repo = await forge.ensure_repository(
        owner="acme", name=repo_name, project="shop", private=True, description=""
    )
    await forge.delete_repository(repo)
    await forge.delete_repository(repo)
    assert emulator.state.repo("acme", repo_name) is None
    assert await forge.find_repository(owner="acme", name=repo_name) is None


async def test_binary_files_travel_as_blobs_on_github_and_text_stays_inline(
    forge: Forge, emulator: ForgeEmulator, flavour: Flavour, repo_name: str
) -> None:
    repo = await forge.ensure_repository(
        owner=None, name=repo_name, project="shop", private=True, description=""
    )
    files = {"logo.png": b"\x89PNG\r\n\x1a\n\x00\x01", "icon.bin": b"\xff\x00", "a.txt": b"a\n"}
    emulator.clear_requests()
    commit = await forge.push_files(repo, files, message="Template", project="shop")
    blobs = [r for r in api_calls(emulator) if r.path.endswith("/git/blobs")]
    assert len(blobs) == (2 if flavour.kind is ForgeKind.GITHUB else 0)
    stored = emulator.state.repo("alice", repo_name)
    assert stored is not None
    info = gitstore.read_commit(stored.path, commit.sha)
    assert info is not None
    tree = gitstore.flatten_tree(stored.path, info.tree)
    assert {p: gitstore.read_blob(stored.path, sha) for p, (_, sha) in tree.items()} == files
