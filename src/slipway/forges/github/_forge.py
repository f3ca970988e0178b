"""`GitHubForge`: the Forge primitives on GitHub's REST API (githubkit models and calls).

A repository is created empty (no `auto_init`); its topic needs a call of its own, as GitHub's
create call takes none. With `PushMethod.API` the push uses the Git Data API: text files inline
in one `create tree` call, binary files as blobs first (concurrently), then one parentless
commit and a forced ref update. The Git Data API answers 409 on an empty repository, which
then gets a first commit through the contents API for the forced update to replace, so the
history holds exactly one Slipway commit.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import structlog

from slipway.domain.model import ForgeKind
from slipway.forges._flows import Head, OrgOwners, Owner, Push
from slipway.forges._marker import TOPIC, commit_mark, project_from_description
from slipway.forges._owner import invitation_pending, may_not_create, not_member
from slipway.forges._tree import is_text
from slipway.forges.base import Account, Commit, Repository, TokenKind
from slipway.forges.github._api import GitHubApi, Missing, SharedClientGitHub, connect
from slipway.retry import RetryPolicy

if TYPE_CHECKING:
    from githubkit_schemas.latest.types import (
        ReposOwnerRepoGitTreesPostBodyPropTreeItemsType as TreeItem,
    )

log = structlog.get_logger(__name__)
_APP_PREFIXES = ("ghs_", "ghu_")
_BLOB_UPLOADS = 8  # binary files uploaded at once with PushMethod.API


def token_kind(token: str) -> TokenKind:
    """GitHub tokens say what they are in their prefix."""
    if token.startswith(_APP_PREFIXES):
        return TokenKind.APP
    if token.startswith("github_pat_"):
        return TokenKind.FINE_GRAINED
    if token.startswith("gho_"):
        return TokenKind.OAUTH
    if token.startswith("ghp_"):
        return TokenKind.PERSONAL
    return TokenKind.UNKNOWN


class GitHubForge(OrgOwners):
    """`Forge` for github.com (`https://api.github.com`) or GHE (`https://HOST/api/v3`)."""

    kind = ForgeKind.GITHUB
    _gh: SharedClientGitHub  # builds the requests and sends them over `_http()`
    _api: GitHubApi  # runs them

    def _connect(self, policy: RetryPolicy) -> None:
        self._gh = connect(self.api_url, self._token, self._http)
        self._api = GitHubApi(self._site, policy)

    def _new_client(self) -> httpx.AsyncClient:
        return self._gh.new_async_client()

    # --- account ----------------------------------------------------------------------------
    async def validate_token(self) -> Account:
        response = await self._api.call(
            "read the token's account", self._gh.rest.users.async_get_authenticated
        )
        self._login = login = response.parsed_data.login
        kind = self._token_kind()
        header = response.headers.get("x-oauth-scopes")
        scopes = (
            None if header is None else tuple(s.strip() for s in header.split(",") if s.strip())
        )
        if scopes is not None and kind is TokenKind.UNKNOWN:
            kind = TokenKind.PERSONAL
        return self._account(login, kind, scopes)

    async def _read_login(self) -> str:
        return (await self.validate_token()).login

    def _token_kind(self) -> TokenKind:
        return token_kind(self._token.get_secret_value())

    # --- owners: GitHub never lets a token create repositories under another user ----------
    async def _read_org(self, owner: str) -> str | None:
        org = await self._api.optional(
            f"read the organization {owner}",
            lambda: self._gh.rest.orgs.async_get(quote(owner, safe="")),
        )
        return None if org is None else org.parsed_data.login

    async def _user_exists(self, owner: str) -> bool:
        user = await self._api.optional(
            f"read the account {owner}",
            lambda: self._gh.rest.users.async_get_by_username(quote(owner, safe="")),
        )
        return user is not None

    async def _check_member(self, group: Owner, login: str) -> None:
        """An active member whose role or permissions allow creating repositories."""
        name = group.name
        membership = await self._api.answer(
            f"read the membership of {login} in {name}",
            lambda: self._gh.rest.orgs.async_get_membership_for_authenticated_user(name),
            absent=(403, 404),
        )
        if isinstance(membership, Missing):
            if membership.status == 404:
                raise not_member(self._site, name, login)
            log.info("github_membership_unreadable", owner=name, url=self.base_url)
            return  # no `read:org`: creating the repository will tell
        data = membership.parsed_data
        if data.state == "pending":
            raise invitation_pending(self._site, name, login)
        allowed = getattr(data.permissions, "can_create_repository", True)
        if data.role != "admin" and allowed is False:
            raise may_not_create(self._site, name, login)

    # --- repositories -----------------------------------------------------------------------
    def _repository(self, data: Any) -> Repository:
        topics = data.topics if isinstance(data.topics, list) else []
        return Repository(
            provider=ForgeKind.GITHUB,
            owner=data.owner.login,
            name=data.name,
            clone_url=data.clone_url,
            web_url=data.html_url,
            default_branch=data.default_branch or "main",
            private=data.private,
            description=data.description or "",
            project=project_from_description(data.description),
            topics=tuple(topics),
            id=str(data.id),
        )

    async def _read_repository(self, owner: str, name: str) -> Repository | None:
        found = await self._api.optional(
            f"read the repository {owner}/{name}",
            lambda: self._gh.rest.repos.async_get(owner, name),
        )
        return None if found is None else self._repository(found.parsed_data)

    async def _create_repository(
        self, owner: str | None, name: str, *, description: str, private: bool
    ) -> Repository:
        repos = self._gh.rest.repos
        action = f"create the repository {self._full_name(owner, name)}"
        if owner is None:
            created = await self._api.call(
                action,
                lambda: repos.async_create_for_authenticated_user(
                    name=name, description=description, private=private
                ),
                scope=self._write_scope,
                taken=True,
            )
        else:
            created = await self._api.call(
                action,
                lambda: repos.async_create_in_org(
                    owner, name=name, description=description, private=private
                ),
                scope=self._write_scope,
                taken=True,
                not_found=self._site.not_found(
                    f"organization {owner} not found on GitHub at {self.base_url}",
                    hint="check the owner name, and that the token's account is a member "
                    "allowed to create repositories there",
                ),
            )
        return self._repository(created.parsed_data)

    async def _tag(self, created: Repository) -> Repository:
        owner, name = created.owner, created.name
        await self._api.call(
            f"set the topics of {created.full_name}",
            lambda: self._gh.rest.repos.async_replace_all_topics(owner, name, names=[TOPIC]),
            retry_404=True,
        )
        return replace(created, topics=(TOPIC,))

    async def delete_repository(self, repo: Repository) -> None:
        await self._api.optional(
            f"delete the repository {repo.full_name}",
            lambda: self._gh.rest.repos.async_delete(repo.owner, repo.name),
            scope="delete_repo",
        )

    # --- push: tree, parentless commit, forced ref ------------------------------------------
    async def _read_head(self, repo: Repository) -> Head | None:
        """A 404 right after creation is GitHub catching up, so it is retried briefly; a 409
        is an empty repository, which gets a first commit to write on top of."""
        ref = await self._api.answer(
            f"read the branch {repo.default_branch} of {repo.full_name}",
            lambda: self._gh.rest.git.async_get_ref(
                repo.owner, repo.name, f"heads/{repo.default_branch}"
            ),
            absent=(404, 409),
            retry_404=True,
            policy=self._api.policy.brief(),
        )
        if isinstance(ref, Missing) and ref.status == 404:
            return None
        sha = (
            await self._initialise(repo)
            if isinstance(ref, Missing)
            else ref.parsed_data.object_.sha
        )
        read = await self._api.call(
            f"read the head commit of {repo.full_name}",
            lambda: self._gh.rest.git.async_get_commit(repo.owner, repo.name, sha),
        )
        data = read.parsed_data
        return Head(
            sha=data.sha,
            root=not data.parents,
            mark=commit_mark(data.message),
            tree_sha=data.tree.sha,
        )

    async def _initialise(self, repo: Repository) -> str:
        """Give an empty repository (one created without `auto_init`) a first commit, since
        the Git Data API refuses writes to it; the push then replaces that commit."""
        created = await self._api.call(
            f"initialise the empty repository {repo.full_name}",
            lambda: self._gh.rest.repos.async_create_or_update_file_contents(
                repo.owner,
                repo.name,
                ".slipway",
                message="Initialise repository",
                content=base64.b64encode(b"slipway\n").decode(),
                branch=repo.default_branch,
            ),
        )
        sha = created.parsed_data.commit.sha
        if not isinstance(sha, str):
            raise self._site.error(
                f"GitHub did not report the first commit of {repo.full_name}",
                hint="run the command again",
            )
        return sha

    async def _write(self, repo: Repository, push: Push, head: Head | None) -> Commit:
        owner, name, branch, git = repo.owner, repo.name, repo.default_branch, self._gh.rest.git
        entries = await self._tree_entries(repo, push.files)
        tree = await self._api.call(
            f"write the file tree of {repo.full_name}",
            lambda: git.async_create_tree(owner, name, tree=entries),
        )
        tree_id = tree.parsed_data.sha
        text = push.commit_message(tree_id)
        commit = await self._api.call(
            f"write the commit of {repo.full_name}",
            lambda: git.async_create_commit(owner, name, message=text, tree=tree_id, parents=[]),
        )
        sha = commit.parsed_data.sha
        if head is None:
            await self._api.call(
                f"create the branch {branch} of {repo.full_name}",
                lambda: git.async_create_ref(owner, name, ref=f"refs/heads/{branch}", sha=sha),
            )
        else:
            await self._api.call(
                f"move the branch {branch} of {repo.full_name}",
                lambda: git.async_update_ref(owner, name, f"heads/{branch}", sha=sha, force=True),
            )
        return Commit(sha=sha, tree_sha=tree_id)

    async def _tree_entries(self, repo: Repository, files: Mapping[str, bytes]) -> list[TreeItem]:
        """Text inline (no extra call however many files); binary files as blobs first,
        `_BLOB_UPLOADS` at a time."""
        binary = sorted(path for path, data in files.items() if not is_text(data))
        slots = asyncio.Semaphore(_BLOB_UPLOADS)

        async def upload(path: str) -> str:
            async with slots:
                return await self._upload_blob(repo, path, files[path])

        shas = dict(zip(binary, await asyncio.gather(*map(upload, binary)), strict=True))
        entries: list[TreeItem] = []
        for path, data in sorted(files.items()):
            if path in shas:
                entries.append({"path": path, "mode": "100644", "type": "blob", "sha": shas[path]})
            else:
                entries.append(
                    {"path": path, "mode": "100644", "type": "blob", "content": data.decode()}
                )
        return entries

    async def _upload_blob(self, repo: Repository, path: str, data: bytes) -> str:
        encoded = base64.b64encode(data).decode()
        blob = await self._api.call(
            f"upload {path} to {repo.full_name}",
            lambda: self._gh.rest.git.async_create_blob(
                repo.owner, repo.name, content=encoded, encoding="base64"
            ),
        )
        return blob.parsed_data.sha
