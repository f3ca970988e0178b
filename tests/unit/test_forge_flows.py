"""The flows every forge shares (owner check, reuse by marker, the name-taken race, the
idempotent push), over an in-memory forge whose writes are recorded. No network."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from slipway.domain.errors import Conflict, ForgeError
from slipway.domain.model import ForgeKind, PushMethod
from slipway.forges import Repository
from slipway.forges._errors import NameTaken
from slipway.forges._flows import Head, OrgOwners, Owner, Push
from slipway.forges._marker import (
    commit_mark,
    project_from_description,
)
from slipway.forges._tree import tree_sha
from slipway.forges.base import Account, Commit, TokenKind
from slipway.retry import RetryPolicy

CREATED_AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


# --- the shared flows, over primitives kept in memory ------------------------------------------
class MemoryForge(OrgOwners):
    """The primitives over dicts, with every write recorded."""

    kind = ForgeKind.GITEA

    def _connect(self, policy: RetryPolicy) -> None:
        self.repos: dict[str, Repository] = {}
        self.heads: dict[str, Head] = {}
        self.writes: list[str] = []
        self.reads: list[str] = []
        self.taken = False  # the next create finds the name taken ...
        self.appears: Repository | None = None  # ... by this repository (None: one not shown)

    def _new_client(self) -> httpx.AsyncClient:
        raise AssertionError("the memory forge makes no HTTP call")

    async def validate_token(self) -> Account:
        return self._account("alice", TokenKind.PERSONAL, None)

    async def _read_login(self) -> str:
        self.reads.append("login")
        return "alice"

    async def _read_org(self, owner: str) -> str | None:
        return None

    async def _user_exists(self, owner: str) -> bool:
        return False

    async def _check_member(self, group: Owner, login: str) -> None:
        """Everyone may create everywhere."""

    async def _read_repository(self, owner: str, name: str) -> Repository | None:
        self.reads.append(f"{owner}/{name}")
        return self.repos.get(f"{owner}/{name}")

    async def _create_repository(
        self, owner: str | None, name: str, *, description: str, private: bool
    ) -> Repository:
        full_name = f"{owner or 'alice'}/{name}"
        if self.taken or full_name in self.repos:
            if self.appears is not None:
                self.repos[self.appears.full_name] = self.appears
            raise NameTaken(self._site, f"create the repository {full_name}")
        self.writes.append("create")
        self.repos[full_name] = repository(owner or "alice", name, description)
        return self.repos[full_name]

    async def _tag(self, created: Repository) -> Repository:
        self.writes.append("tag")
        return created

    async def delete_repository(self, repo: Repository) -> None:
        self.repos.pop(repo.full_name, None)

    async def _set_description(self, repo: Repository, description: str) -> Repository:
        self.writes.append("describe")
        self.repos[repo.full_name] = updated = repository(repo.owner, repo.name, description)
        return updated

    async def _read_head(self, repo: Repository) -> Head | None:
        return self.heads.get(repo.full_name)

    async def _write(self, repo: Repository, push: Push, head: Head | None) -> Commit:
        self.writes.append("push")
        sha = f"{len(self.writes):040x}"
        mark = commit_mark(push.commit_message())
        self.heads[repo.full_name] = Head(sha, root=True, mark=mark, tree_sha=push.tree_sha)
        return Commit(sha, push.tree_sha)


def repository(owner: str, name: str, description: str) -> Repository:
    project = project_from_description(description)
    return Repository(ForgeKind.GITEA, owner, name, "", "", "main", True, description, project)


@pytest.fixture
def memory() -> MemoryForge:
    return MemoryForge(
        base_url="https://forge.example.com",
        token=SecretStr("ghp_UnitTestSecret0123456789abcdefghijkl"),
        push=PushMethod.API,
    )


def ensure(memory: MemoryForge) -> Awaitable[Repository]:
    return memory.ensure_repository(
        owner="acme", name="shop", project="shop", private=True, description=""
    )


@pytest.mark.parametrize("description", ["by hand", "[slipway:project=other]"])
async def test_a_repository_not_marked_for_the_project_is_a_conflict_and_left_as_is(
    memory: MemoryForge, description: str
) -> None:
    memory.repos["acme/shop"] = existing = repository("acme", "shop", description)
    with pytest.raises(Conflict, match="acme/shop already exists on Gitea"):
        await ensure(memory)
    assert memory.repos["acme/shop"] is existing and memory.writes == []
    memory.repos["acme/shop"] = ours = repository("acme", "shop", "[slipway:project=shop]")
    assert await ensure(memory) is ours and memory.writes == []


@pytest.mark.parametrize(
    ("marker", "outcome"),
    [("[slipway:project=shop]", None), ("[slipway:project=other]", Conflict), (None, ForgeError)],
    ids=["ours", "theirs", "hidden"],
)
async def test_a_create_racing_another_reuses_only_a_repository_marked_for_us(
    memory: MemoryForge, marker: str | None, outcome: type[Exception] | None
) -> None:
    memory.taken = True
    memory.appears = None if marker is None else repository("acme", "shop", marker)
    if outcome is None:
        assert await ensure(memory) == memory.appears
    else:
        with pytest.raises(outcome, match="acme/shop"):
            await ensure(memory)
    assert memory.writes == []  # neither created nor tagged


async def test_a_new_repository_is_created_without_reading_it_first(memory: MemoryForge) -> None:
    repo = await memory.ensure_repository(
        owner=None, name="shop", project="shop", private=True, description=""
    )
    assert repo.full_name == "alice/shop" and repo.project == "shop"
    assert memory.writes == ["create", "tag"] and memory.reads == []  # nor the login
    again = await memory.ensure_repository(
        owner=None, name="shop", project="shop", private=True, description=""
    )
    assert again == repo and memory.writes == ["create", "tag"]
    assert memory.reads == ["login", "alice/shop"]  # only once the name was taken


@pytest.mark.parametrize("owner", ["alice", "ALICE", "acme"])
async def test_a_stored_login_is_not_read_and_names_the_own_account(owner: str) -> None:
    forge = MemoryForge(
        base_url="https://forge.example.com",
        token=SecretStr("ghp_UnitTestSecret0123456789abcdefghijkl"),
        login="alice",
    )
    repo = await forge.ensure_repository(
        owner=owner, name="shop", project="shop", private=True, description=""
    )
    assert repo.owner == ("acme" if owner == "acme" else "alice")
    assert forge.reads == []


async def test_push_writes_once_and_a_rerun_returns_the_same_commit(memory: MemoryForge) -> None:
    repo, files = await ensure(memory), {"README.md": b"# shop\n"}
    first = await memory.push_files(
        repo, files, message="Template", project="shop", committed_at=CREATED_AT
    )
    again = await memory.push_files(
        repo, files, message="Template", project="shop", committed_at=CREATED_AT
    )
    assert again == first and first.tree_sha == tree_sha(files)
    with pytest.raises(Conflict, match="that Slipway did not write"):  # another project's
        await memory.push_files(
            repo, files, message="Template", project="other", committed_at=CREATED_AT
        )
    assert memory.writes == ["create", "tag", "push"]
