"""Gitea and Forgejo through their REST API /api/v1, with httpx.

A push is one `POST /repos/{owner}/{repo}/contents` (ChangeFilesOptions): every file in one
commit, contents base64-encoded (the API takes nothing else), which works on an empty
repository too, so no initial commit is needed and the history holds exactly one commit.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from slipway.domain.errors import Conflict, SlipwayError
from slipway.domain.model import ForgeKind
from slipway.forges._errors import Site
from slipway.forges._http import JsonApi
from slipway.forges._marker import (
    TOPIC,
    CommitMark,
    commit_mark,
    commit_message,
    mark_description,
    project_from_description,
)
from slipway.forges._owner import may_not_create, not_member, other_user, unknown_owner
from slipway.forges._tree import check_paths, plan_changes, tree_sha
from slipway.forges.base import Account, Commit, GitCredentials, Repository, TokenKind
from slipway.retry import DEFAULT_POLICY, RetryPolicy

DEFAULT_BRANCH = "main"
WRITE_SCOPE = "write:repository"
_PAGE = 1000


class GiteaForge:
    """`Forge` for a Gitea or Forgejo instance; `base_url` is the instance URL."""

    kind = ForgeKind.GITEA

    def __init__(
        self,
        *,
        base_url: str,
        token: SecretStr,
        step: str | None = None,
        retry_policy: RetryPolicy = DEFAULT_POLICY,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/").removesuffix("/api/v1")
        self._site = Site(ForgeKind.GITEA, self.base_url, step)
        self._token = token
        self._api = JsonApi(
            site=self._site,
            api_url=f"{self.base_url}/api/v1",
            token=token,
            auth_scheme="token",
            policy=retry_policy,
            transport=transport,
        )
        self._login: str | None = None

    def __repr__(self) -> str:
        return f"GiteaForge(base_url={self.base_url!r})"

    async def validate_token(self) -> Account:
        """Gitea does not tell a token its own scopes, so `scopes` is None; a missing scope
        shows up as a 403 naming it on the first write."""
        return Account(
            ForgeKind.GITEA, await self._own_login(refresh=True), TokenKind.PERSONAL, None
        )

    async def _own_login(self, *, refresh: bool = False) -> str:
        if self._login is None or refresh:
            user = await self._api.call("GET", "user", action="read the token's account")
            assert user is not None
            self._login = str(user.json()["login"])
        return self._login

    async def check_owner(self, owner: str | None) -> str:
        """Own account, else an organization the token's account belongs to and may create
        repositories in; Gitea never lets a token create under another user."""
        login = await self._own_login()
        if owner is None or owner.lower() == login.lower():
            return login
        org = await self._api.call(
            "GET",
            f"orgs/{quote(owner, safe='')}",
            action=f"read the organization {owner}",
            absent=(404,),
        )
        if org is None:
            user = await self._api.call(
                "GET",
                f"users/{quote(owner, safe='')}",
                action=f"read the account {owner}",
                absent=(404,),
            )
            if user is None:
                raise unknown_owner(self._site, owner, login)
            raise other_user(self._site, owner, login)
        data = org.json()
        name = str(data.get("name") or data["username"])
        org_path, user_path = quote(name, safe=""), quote(login, safe="")
        member = await self._api.call(
            "GET",
            f"orgs/{org_path}/members/{user_path}",
            action=f"check that {login} is a member of {name}",
            absent=(404,),
        )
        if member is None:
            raise not_member(self._site, name, login)
        permissions = await self._api.call(
            "GET",
            f"users/{user_path}/orgs/{org_path}/permissions",
            action=f"read the permissions of {login} in {name}",
            absent=(404,),  # a Gitea from before 1.16 has no such endpoint
        )
        if permissions is not None and permissions.json().get("can_create_repository") is False:
            raise may_not_create(self._site, name, login)
        return name

    def _repository(self, data: Mapping[str, Any]) -> Repository:
        description = data.get("description") or ""
        return Repository(
            provider=ForgeKind.GITEA,
            owner=str(data["owner"]["login"]),
            name=str(data["name"]),
            clone_url=str(data["clone_url"]),
            web_url=str(data["html_url"]),
            default_branch=str(data.get("default_branch") or DEFAULT_BRANCH),
            private=bool(data.get("private")),
            description=description,
            project=project_from_description(description),
            topics=tuple(data.get("topics") or ()),
            id=str(data["id"]),
        )

    @staticmethod
    def _path(owner: str, name: str) -> str:
        return f"repos/{quote(owner, safe='')}/{quote(name, safe='')}"

    async def find_repository(self, *, owner: str | None, name: str) -> Repository | None:
        owner = owner or await self._own_login()
        response = await self._api.call(
            "GET",
            self._path(owner, name),
            action=f"read the repository {owner}/{name}",
            absent=(404,),
        )
        return None if response is None else self._repository(response.json())

    async def ensure_repository(
        self, *, owner: str | None, name: str, project: str, private: bool, description: str
    ) -> Repository:
        login = await self._own_login()
        owner = owner or login
        existing = await self.find_repository(owner=owner, name=name)
        if existing is not None:
            return self._site.reuse(existing, project)
        body = {
            "name": name,
            "description": mark_description(description, project),
            "private": private,
            "auto_init": False,
            "default_branch": DEFAULT_BRANCH,
        }
        mine = owner.lower() == login.lower()
        taken = _Sentinel()
        try:
            created = await self._api.call(
                "POST",
                "user/repos" if mine else f"orgs/{quote(owner, safe='')}/repos",
                json=body,
                action=f"create the repository {owner}/{name}",
                scope=WRITE_SCOPE,
                conflict=lambda r: taken if r.status_code == 409 else None,
                not_found=self._site.not_found(
                    f"organization {owner} not found on Gitea at {self.base_url}",
                    hint="check the owner name, and that the token's account may create "
                    "repositories there",
                ),
            )
        except SlipwayError as exc:
            if exc is not taken:
                raise
            again = await self.find_repository(owner=owner, name=name)
            if again is None:
                raise self._site.error(
                    f"Gitea says {owner}/{name} exists but does not show it to this token",
                    hint="check the token's access to that owner, or choose another name",
                ) from None
            return self._site.reuse(again, project)
        assert created is not None
        repo = self._repository(created.json())
        await self._api.call(
            "PUT",
            f"{self._path(owner, name)}/topics",
            json={"topics": [TOPIC]},
            action=f"set the topics of {owner}/{name}",
            scope=WRITE_SCOPE,
            retry_404_if=lambda _: True,
        )
        return replace(repo, topics=(TOPIC,))

    async def push_files(
        self, repo: Repository, files: Mapping[str, bytes], *, message: str, project: str
    ) -> Commit:
        check_paths(files)
        expected = tree_sha(files)
        base, branch = self._path(repo.owner, repo.name), repo.default_branch
        head = await self._api.call(
            "GET",
            f"{base}/branches/{quote(branch, safe='')}",
            action=f"read the branch {branch} of {repo.full_name}",
            absent=(404,),
            retry_404_if=lambda r: "branch" not in r.text,  # repository not visible yet
        )
        existing: dict[str, str] = {}
        if head is not None:
            sha = str(head.json()["commit"]["id"])
            current = await self._api.call(
                "GET", f"{base}/git/commits/{sha}", action=f"read the head of {repo.full_name}"
            )
            assert current is not None
            data = current.json()
            mark = commit_mark(data["commit"]["message"])
            tree = str(data["commit"]["tree"]["sha"])
            if not data.get("parents") and tree == expected and mark == CommitMark(project, tree):
                return Commit(sha=sha, tree_sha=tree)
            existing = await self._files(base, tree, repo)
        create, update, delete = plan_changes(existing, files)
        changes: list[dict[str, str]] = [_change("create", p, files[p]) for p in create]
        changes += [{**_change("update", p, files[p]), "sha": existing[p]} for p in update]
        changes += [{"operation": "delete", "path": p, "sha": existing[p]} for p in delete]
        if not changes:  # someone else's commit with our exact tree: leave it be
            return Commit(sha=str(head.json()["commit"]["id"]) if head else "", tree_sha=expected)
        created = await self._api.call(
            "POST",
            f"{base}/contents",
            json={
                "branch": branch,
                "message": commit_message(message, project=project, tree_sha=expected),
                "files": changes,
            },
            action=f"commit the files to {repo.full_name}",
            scope=WRITE_SCOPE,
        )
        assert created is not None
        commit = created.json()["commit"]
        return Commit(sha=str(commit["sha"]), tree_sha=str(commit["tree"]["sha"]))

    async def _files(self, base: str, tree: str, repo: Repository) -> dict[str, str]:
        """Every file of a tree (path -> blob id); Gitea pages long recursive listings."""
        found: dict[str, str] = {}
        page = 1
        while True:
            response = await self._api.call(
                "GET",
                f"{base}/git/trees/{tree}",
                params={"recursive": "true", "per_page": _PAGE, "page": page},
                action=f"list the files of {repo.full_name}",
            )
            assert response is not None
            data = response.json()
            found.update(
                {e["path"]: e["sha"] for e in data.get("tree") or [] if e["type"] == "blob"}
            )
            if not data.get("truncated"):
                return found
            page += 1

    async def delete_repository(self, repo: Repository) -> None:
        await self._api.call(
            "DELETE",
            self._path(repo.owner, repo.name),
            action=f"delete the repository {repo.full_name}",
            scope="write:repository",
            absent=(404,),
        )

    def git_credentials(self) -> GitCredentials:
        """Gitea checks the token as the password of its own account: use the login once
        known (after `validate_token` or any repository call), else `git`."""
        return GitCredentials(username=self._login or "git", password=self._token)

    async def aclose(self) -> None:
        await self._api.aclose()


def _change(operation: str, path: str, data: bytes) -> dict[str, str]:
    return {"operation": operation, "path": path, "content": base64.b64encode(data).decode()}


class _Sentinel(Conflict):
    def __init__(self) -> None:
        super().__init__("handled inside the Gitea adapter", system="Gitea")
