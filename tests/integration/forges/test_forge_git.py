"""What the adapters pushed, seen by the real `git` CLI over smart HTTP: exactly one commit
holding exactly the files, byte for byte, that `git fsck` finds sound and whose author, date
and id Slipway knew before pushing; wrong tokens refused; pushes accepted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.support.commands import git, git_refused

from slipway.domain.errors import Conflict
from slipway.domain.model import PushMethod
from slipway.forges import Forge
from slipway.sandbox.forge import ForgeEmulator

from ._support import (
    CREATED_AT,
    FLAVOURS,
    OUTSIDER_TOKEN,
    TOKEN,
    WRONG_TOKEN,
    authed_url,
    make_forge,
    working_tree,
)

FILES = {
    "README.md": "# Shop\n\nÜnïcödé text stays text.\n".encode(),
    "k8s/base/kustomization.yaml": b"resources:\n  - deployment.yaml\n",
    "k8s/overlays/production/kustomization.yaml": b"resources: [../../base]\n",
    "static/logo.png": bytes(range(256)) * 4,  # binary: NUL bytes, not UTF-8
    "static/empty.txt": b"",
    "scripts/crlf.txt": b"windows\r\nline endings\r\n",
}


async def test_pushed_commit_is_the_only_one_and_matches_the_files(
    forge: Forge, emulator: ForgeEmulator, repo_name: str, tmp_path: Path
) -> None:
    repo = await forge.ensure_repository(
        owner=None, name=repo_name, project="shop", private=True, description="Shop"
    )
    commit = await forge.push_files(
        repo, FILES, message="Template", project="shop", committed_at=CREATED_AT
    )
    credentials = forge.git_credentials()
    url = authed_url(repo.clone_url, credentials.password.get_secret_value(), credentials.username)

    git(tmp_path, "clone", url, str(tmp_path / "clone"))

    clone = tmp_path / "clone"
    assert git(clone, "rev-list", "--count", "HEAD") == "1"
    assert git(clone, "rev-parse", "HEAD") == commit.sha
    assert git(clone, "rev-parse", "HEAD^{tree}") == commit.tree_sha
    assert git(clone, "branch", "--show-current") == repo.default_branch
    assert working_tree(clone) == FILES
    message = git(clone, "log", "-1", "--format=%B")
    assert "Template" in message and "Slipway-Project: shop" in message
    stamp = str(int(CREATED_AT.timestamp()))
    made = git(clone, "log", "-1", "--format=%an <%ae> %at|%cn <%ce> %ct %cI")
    assert made == (
        f"Slipway <slipway@users.noreply.invalid> {stamp}|"
        f"Slipway <slipway@users.noreply.invalid> {stamp} 2026-03-01T12:00:00+00:00"
    )
    git(clone, "fsck", "--strict", "--no-dangling")


@pytest.mark.parametrize("method", list(PushMethod), ids=[m.value for m in PushMethod])
async def test_github_keeps_one_commit_after_a_changed_push(
    emulator: ForgeEmulator, repo_name: str, tmp_path: Path, method: PushMethod
) -> None:
    forge = make_forge(emulator, FLAVOURS[0], push=method)
    repo = await forge.ensure_repository(
        owner=None, name=repo_name, project="shop", private=True, description=""
    )
    await forge.push_files(
        repo, {"a.txt": b"1\n"}, message="v1", project="shop", committed_at=CREATED_AT
    )
    await forge.push_files(
        repo, {"b.txt": b"2\n"}, message="v2", project="shop", committed_at=CREATED_AT
    )
    git(tmp_path, "clone", authed_url(repo.clone_url, TOKEN), str(tmp_path / "c"))
    assert git(tmp_path / "c", "rev-list", "--count", "HEAD") == "1"
    assert working_tree(tmp_path / "c") == {"b.txt": b"2\n"}
    await forge.aclose()


@pytest.fixture
async def gitea(emulator: ForgeEmulator) -> AsyncIterator[Forge]:
    """Smart HTTP does not depend on the API flavour: one adapter is enough to set up."""
    forge = make_forge(emulator, FLAVOURS[-1])
    yield forge
    await forge.aclose()


@pytest.mark.parametrize("token", [WRONG_TOKEN, None], ids=["wrong-token", "anonymous"])
async def test_clone_without_a_valid_token_fails(
    gitea: Forge, repo_name: str, tmp_path: Path, token: str | None
) -> None:
    forge = gitea
    repo = await forge.ensure_repository(
        owner=None, name=repo_name, project="shop", private=True, description=""
    )
    await forge.push_files(
        repo, {"a.txt": b"a\n"}, message="v1", project="shop", committed_at=CREATED_AT
    )
    url = authed_url(repo.clone_url, token) if token else repo.clone_url

    stderr = git_refused(tmp_path, "clone", url, str(tmp_path / "denied"))

    # git got a 401 challenge: with a token it reports the failure, without one it would
    # have prompted for a username (prompts are off here).
    refused = ("Authentication failed", "401", "could not read Username")
    assert any(reason in stderr for reason in refused)
    assert not (tmp_path / "denied" / "a.txt").exists()


async def test_git_push_over_smart_http_moves_the_branch(
    gitea: Forge, repo_name: str, tmp_path: Path
) -> None:
    forge = gitea
    repo = await forge.ensure_repository(
        owner="acme", name=repo_name, project="shop", private=True, description=""
    )
    await forge.push_files(
        repo, {"a.txt": b"a\n"}, message="v1", project="shop", committed_at=CREATED_AT
    )
    clone = tmp_path / "work"
    git(tmp_path, "clone", authed_url(repo.clone_url, TOKEN), str(clone))
    (clone / "added.txt").write_bytes(b"from git push\n")
    git(clone, "add", "added.txt")
    git(clone, "commit", "-q", "-m", "by hand")

    git(clone, "push", "origin", f"HEAD:{repo.default_branch}")

    pushed = git(clone, "rev-parse", "HEAD")
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", authed_url(repo.clone_url, TOKEN), str(fresh))
    assert git(fresh, "rev-parse", "HEAD") == pushed
    assert (fresh / "added.txt").read_bytes() == b"from git push\n"
    # The forge's API sees the pushed commit too: Slipway never rewrites it.
    with pytest.raises(Conflict, match=f"holds commit {pushed[:12]} that Slipway did not write"):
        await forge.push_files(
            repo, {"a.txt": b"a\n"}, message="v1", project="shop", committed_at=CREATED_AT
        )
    assert git(tmp_path, "ls-remote", authed_url(repo.clone_url, TOKEN), "HEAD").split()[0] == (
        pushed
    )


async def test_push_by_a_non_member_is_refused(
    gitea: Forge, repo_name: str, tmp_path: Path
) -> None:
    forge = gitea
    repo = await forge.ensure_repository(
        owner="acme", name=repo_name, project="shop", private=False, description=""
    )
    await forge.push_files(
        repo, {"a.txt": b"a\n"}, message="v1", project="shop", committed_at=CREATED_AT
    )
    clone = tmp_path / "public"
    git(tmp_path, "clone", repo.clone_url, str(clone))  # public: anonymous read is fine
    (clone / "x.txt").write_text("x")
    git(clone, "add", "x.txt")
    git(clone, "commit", "-q", "-m", "x")
    stderr = git_refused(clone, "push", authed_url(repo.clone_url, OUTSIDER_TOKEN), "HEAD:main")
    assert "403" in stderr


@pytest.mark.parametrize("method", list(PushMethod), ids=[m.value for m in PushMethod])
@pytest.mark.parametrize("flavour_index", [0, 2, 3], ids=["github", "gitlab", "gitea"])
async def test_marked_but_empty_repository_gets_exactly_one_commit(
    emulator: ForgeEmulator, repo_name: str, tmp_path: Path, flavour_index: int, method: PushMethod
) -> None:
    """A repository with our marker but no commits (every repository Slipway creates starts
    empty): GitHub's Git Data API refuses it with 409 until it has a commit."""
    emulator.state.create_repo("alice", repo_name, description="[slipway:project=shop]")
    forge = make_forge(emulator, FLAVOURS[flavour_index], push=method)
    repo = await forge.ensure_repository(
        owner=None, name=repo_name, project="shop", private=True, description=""
    )
    await forge.push_files(
        repo, {"a.txt": b"a\n"}, message="Template", project="shop", committed_at=CREATED_AT
    )
    git(tmp_path, "clone", authed_url(repo.clone_url, TOKEN), str(tmp_path / "c"))
    assert git(tmp_path / "c", "rev-list", "--count", "HEAD") == "1"
    assert working_tree(tmp_path / "c") == {"a.txt": b"a\n"}
    await forge.aclose()
