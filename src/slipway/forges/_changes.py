"""Pushing as a change set: for forges whose API commits file actions (GitLab, Gitea).

Such an API cannot replace a tree wholesale, so the push lists the branch's files (page by page),
plans create/update/delete against them, and commits only the difference in one call.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

from slipway.forges._flows import ForgeFlows, Head, Push
from slipway.forges._tree import plan_changes
from slipway.forges.base import Commit, Repository


@dataclass(frozen=True)
class ChangeSet:
    """What turns the branch's files (`existing`: path -> blob id) into exactly `files`."""

    files: Mapping[str, bytes]
    existing: Mapping[str, str]
    create: list[str]
    update: list[str]
    delete: list[str]

    @classmethod
    def plan(cls, existing: Mapping[str, str], files: Mapping[str, bytes]) -> ChangeSet:
        create, update, delete = plan_changes(existing, files)
        return cls(files, existing, create, update, delete)

    @property
    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)


@dataclass(frozen=True)
class FilesPage:
    """One page of a branch's file listing (path -> blob id) and the next page, if any."""

    blobs: Mapping[str, str]
    next_page: int | None


class ChangeSetWrites(ForgeFlows):
    """`_write` as list, plan and commit the difference; subclasses read pages and commit."""

    @abstractmethod
    async def _files_page(self, repo: Repository, head: Head, page: int) -> FilesPage: ...

    @abstractmethod
    async def _commit_changes(self, repo: Repository, changes: ChangeSet, push: Push) -> Commit:
        """One commit on the default branch applying `changes`, with `push`'s message."""

    async def _list_files(self, repo: Repository, head: Head) -> dict[str, str]:
        found: dict[str, str] = {}
        page: int | None = 1
        while page is not None:
            listed = await self._files_page(repo, head, page)
            found.update(listed.blobs)
            page = listed.next_page
        return found

    async def _write(self, repo: Repository, push: Push, head: Head | None) -> Commit:
        existing = {} if head is None else await self._list_files(repo, head)
        changes = ChangeSet.plan(existing, push.files)
        if head is not None and changes.empty:  # someone else's commit, our exact tree: keep it
            return Commit(sha=head.sha, tree_sha=push.tree_sha)
        return await self._commit_changes(repo, changes, push)
