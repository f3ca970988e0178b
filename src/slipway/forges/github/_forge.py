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

from slipway.domain.errors import SlipwayError
from slipway.domain.model import ForgeKind
from slipway.domain.text import t
from slipway.forges._deploy_keys import DeployKeyFlows, key_in_use
from slipway.forges._flows import Head, OrgOwners, Owner, Push
from slipway.forges._marker import (
    FORGE_INITIAL_MESSAGE,
    TOPIC,
    commit_mark,
    description_mark,
    forge_initial,
)
from slipway.forges._owner import invitation_pending, may_not_create, not_member
from slipway.forges._ssh import ssh_clone_url
from slipway.forges._tree import is_text
from slipway.forges.base import Account, Commit, DeployKey, Repository, TokenKind
from slipway.forges.github._api import GitHubApi, Missing, SharedClientGitHub, connect
from slipway.retry import RetryPolicy

if TYPE_CHECKING:
    from githubkit_schemas.latest.types import (
        ReposOwnerRepoGitTreesPostBodyPropTreeItemsType as TreeItem,
    )

log = structlog.get_logger(__name__)
_APP_PREFIXES = ("ghs_", "ghu_")
_BLOB_UPLOADS = 8  # binary files uploaded at once with PushMethod.API
_PAGE = 100  # deploy keys listed per request (GitHub's most)


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


class GitHubForge(OrgOwners, DeployKeyFlows):
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
            t("read the token's account"), self._gh.rest.users.async_get_authenticated
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
        mark = description_mark(data.description)
        return Repository(
            provider=ForgeKind.GITHUB,
            owner=data.owner.login,
            name=data.name,
            clone_url=data.clone_url,
            web_url=data.html_url,
            default_branch=data.default_branch or "main",
            private=data.private,
            description=data.description or "",
            project=mark.project if mark else None,
            topics=tuple(topics),
            id=str(data.id),
            ssh_url=ssh_clone_url(data.ssh_url if isinstance(data.ssh_url, str) else ""),
            installation=mark.installation if mark else None,
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
        action = t("create the repository {full_name}", full_name=self._full_name(owner, name))
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
                    t(
                        "organization {owner} not found on GitHub at {base_url}",
                        owner=owner,
                        base_url=self.base_url,
                    ),
                    hint=t(
                        "check the owner name, and that the token's account is a "
                        "member allowed to create repositories there"
                    ),
                ),
            )
        return self._repository(created.parsed_data)

    async def _tag(self, created: Repository) -> Repository:
        owner, name = created.owner, created.name
        await self._api.call(
            t("set the topics of {full_name}", full_name=created.full_name),
            lambda: self._gh.rest.repos.async_replace_all_topics(owner, name, names=[TOPIC]),
            retry_404=True,
        )
        return replace(created, topics=(TOPIC,))

    async def _set_description(self, repo: Repository, description: str) -> Repository:
        updated = await self._api.call(
            t("update the description of {full_name}", full_name=repo.full_name),
            lambda: self._gh.rest.repos.async_update(
                repo.owner, repo.name, description=description
            ),
            scope=self._write_scope,
        )
        return replace(self._repository(updated.parsed_data), topics=repo.topics)

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
            t("read the head commit of {full_name}", full_name=repo.full_name),
            lambda: self._gh.rest.git.async_get_commit(repo.owner, repo.name, sha),
        )
        data = read.parsed_data
        return Head(
            sha=data.sha,
            root=not data.parents,
            mark=commit_mark(data.message),
            tree_sha=data.tree.sha,
            initial=forge_initial(data.message),
        )

    async def _initialise(self, repo: Repository) -> str:
        """Give an empty repository (one created without `auto_init`) a first commit, since
        the Git Data API refuses writes to it; the push then replaces that commit (it is
        what `auto_init` would have written, so a re-run after a failure replaces it too)."""
        created = await self._api.call(
            t("initialise the empty repository {full_name}", full_name=repo.full_name),
            lambda: self._gh.rest.repos.async_create_or_update_file_contents(
                repo.owner,
                repo.name,
                ".slipway",
                message=FORGE_INITIAL_MESSAGE,  # what auto_init writes: replaceable
                content=base64.b64encode(b"slipway\n").decode(),
                branch=repo.default_branch,
            ),
        )
        sha = created.parsed_data.commit.sha
        if not isinstance(sha, str):
            raise self._site.error(
                t(
                    "GitHub did not report the first commit of {full_name}",
                    full_name=repo.full_name,
                ),
                hint=t("run the command again"),
            )
        return sha

    async def _write(self, repo: Repository, push: Push, head: Head | None) -> Commit:
        owner, name, branch, git = repo.owner, repo.name, repo.default_branch, self._gh.rest.git
        entries = await self._tree_entries(repo, push.files)
        tree = await self._api.call(
            t("write the file tree of {full_name}", full_name=repo.full_name),
            lambda: git.async_create_tree(owner, name, tree=entries),
        )
        tree_id = tree.parsed_data.sha
        text = push.commit_message(tree_id)
        commit = await self._api.call(
            t("write the commit of {full_name}", full_name=repo.full_name),
            lambda: git.async_create_commit(owner, name, message=text, tree=tree_id, parents=[]),
        )
        sha = commit.parsed_data.sha
        if head is None:
            await self._api.call(
                t(
                    "create the branch {branch} of {full_name}",
                    branch=branch,
                    full_name=repo.full_name,
                ),
                lambda: git.async_create_ref(owner, name, ref=f"refs/heads/{branch}", sha=sha),
            )
        else:
            await self._api.call(
                t(
                    "move the branch {branch} of {full_name}",
                    branch=branch,
                    full_name=repo.full_name,
                ),
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
            t("upload {path} to {full_name}", path=path, full_name=repo.full_name),
            lambda: self._gh.rest.git.async_create_blob(
                repo.owner, repo.name, content=encoded, encoding="base64"
            ),
        )
        return blob.parsed_data.sha

    # --- deploy keys ------------------------------------------------------------------------
    async def _create_deploy_key(
        self, repo: Repository, *, title: str, public_key: str
    ) -> DeployKey:
        created = await self._api.answer(
            f"add the deploy key {title} to {repo.full_name}",
            lambda: self._gh.rest.repos.async_create_deploy_key(
                repo.owner, repo.name, title=title, key=public_key, read_only=True
            ),
            absent=(404,),
            taken=key_in_use,
            forbidden=self._site.deploy_keys_refused(repo.full_name),
        )
        if isinstance(created, Missing):
            raise await self._keys_hidden(repo)
        return _deploy_key(created.parsed_data)

    async def list_deploy_keys(self, repo: Repository) -> list[DeployKey]:
        keys: list[DeployKey] = []
        page = 1
        while True:
            listed = await self._api.answer(
                f"list the deploy keys of {repo.full_name}",
                lambda page=page: self._gh.rest.repos.async_list_deploy_keys(  # type: ignore[misc]
                    repo.owner, repo.name, per_page=_PAGE, page=page
                ),
                absent=(404,),
                forbidden=self._site.deploy_keys_refused(repo.full_name),
            )
            if isinstance(listed, Missing):
                raise await self._keys_hidden(repo)
            keys += map(_deploy_key, listed.parsed_data)
            if len(listed.parsed_data) < _PAGE:
                return keys
            page += 1

    async def remove_deploy_key(self, repo: Repository, key_id: str) -> None:
        """GitHub's key ids are numbers: any other id names no key, so there is none to remove."""
        if not key_id.isdigit():
            return
        await self._api.optional(
            f"remove the deploy key {key_id} from {repo.full_name}",
            lambda: self._gh.rest.repos.async_delete_deploy_key(repo.owner, repo.name, int(key_id)),
            forbidden=self._site.deploy_keys_refused(repo.full_name),
        )

    async def _keys_hidden(self, repo: Repository) -> SlipwayError:
        """GitHub answers 404 for the deploy keys of a repository the token may not
        administer, as for one that is gone: one read tells which."""
        if await self._read_repository(repo.owner, repo.name) is not None:
            return self._site.deploy_keys_refused(repo.full_name)
        return self._site.not_found(
            t(
                "the repository {full_name} was not found on GitHub at {base_url}",
                full_name=repo.full_name,
                base_url=self.base_url,
            ),
            hint=t("check that it exists and that the token may see it"),
        )


def _deploy_key(data: Any) -> DeployKey:
    return DeployKey(
        id=str(data.id),
        title=str(data.title),
        public_key=str(data.key),
        read_only=data.read_only is not False,
    )
