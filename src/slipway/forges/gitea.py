"""Gitea and Forgejo through their REST API /api/v1, with httpx.

A repository is created empty; its topic needs a call of its own (CreateRepoOption has no
topics). With `PushMethod.API` a push is one `POST /repos/{owner}/{repo}/contents`
(ChangeFilesOptions): every file in one commit, contents base64-encoded (the API takes nothing
else), which works on an empty repository too, so the history holds exactly one commit.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx

from slipway.domain.errors import SlipwayError
from slipway.domain.model import ForgeKind
from slipway.domain.text import t
from slipway.forges._changes import ChangeSet, ChangeSetWrites, FilesPage
from slipway.forges._deploy_keys import DeployKeyFlows, key_in_use
from slipway.forges._flows import Head, OrgOwners, Owner, Push
from slipway.forges._http import HttpForge
from slipway.forges._marker import TOPIC, commit_mark, description_mark, forge_initial
from slipway.forges._owner import may_not_create, not_member
from slipway.forges._ssh import ssh_clone_url
from slipway.forges.base import Account, Commit, DeployKey, Repository, TokenKind

DEFAULT_BRANCH = "main"
_PAGE = 1000
_KEYS_PAGE = 50  # Gitea's default most items per page (MAX_RESPONSE_ITEMS)


def _q(path: str) -> str:
    return quote(path, safe="")


def _repo_path(owner: str, name: str) -> str:
    return f"repos/{_q(owner)}/{_q(name)}"


class GiteaForge(OrgOwners, ChangeSetWrites, DeployKeyFlows, HttpForge):
    """`Forge` for a Gitea or Forgejo instance; `base_url` is the instance URL."""

    kind = ForgeKind.GITEA
    auth_scheme = "token"

    # --- account --------------------------------------------------------------------------
    async def validate_token(self) -> Account:
        """Gitea does not tell a token its own scopes, so `scopes` is None; a missing scope
        shows up as a 403 naming it on the first write."""
        self._login = login = await self._read_login()
        return self._account(login, TokenKind.PERSONAL, None)

    async def _read_login(self) -> str:
        user = await self._api.call("GET", "user", action=t("read the token's account"))
        return str(user.json()["login"])

    # --- owners: an organization the account belongs to and may create in -------------------
    async def _read_org(self, owner: str) -> str | None:
        org = await self._api.optional(
            "GET", f"orgs/{_q(owner)}", action=t("read the organization {owner}", owner=owner)
        )
        if org is None:
            return None
        data = org.json()
        return str(data.get("name") or data["username"])

    async def _user_exists(self, owner: str) -> bool:
        user = await self._api.optional(
            "GET", f"users/{_q(owner)}", action=t("read the account {owner}", owner=owner)
        )
        return user is not None

    async def _check_member(self, group: Owner, login: str) -> None:
        org_path, user_path = _q(group.name), _q(login)
        member = await self._api.optional(
            "GET",
            f"orgs/{org_path}/members/{user_path}",
            action=t("check that {login} is a member of {name}", login=login, name=group.name),
        )
        if member is None:
            raise not_member(self._site, group.name, login)
        permissions = await self._api.optional(  # a Gitea from before 1.16 has none: 404
            "GET",
            f"users/{user_path}/orgs/{org_path}/permissions",
            action=t("read the permissions of {login} in {name}", login=login, name=group.name),
        )
        if permissions is not None and permissions.json().get("can_create_repository") is False:
            raise may_not_create(self._site, group.name, login)

    # --- repositories ---------------------------------------------------------------------
    def _repository(self, data: Mapping[str, Any]) -> Repository:
        description = data.get("description") or ""
        mark = description_mark(description)
        return Repository(
            provider=ForgeKind.GITEA,
            owner=str(data["owner"]["login"]),
            name=str(data["name"]),
            clone_url=str(data["clone_url"]),
            web_url=str(data["html_url"]),
            default_branch=str(data.get("default_branch") or DEFAULT_BRANCH),
            private=bool(data.get("private")),
            description=description,
            project=mark.project if mark else None,
            topics=tuple(data.get("topics") or ()),
            id=str(data["id"]),
            ssh_url=ssh_clone_url(data.get("ssh_url")),
            installation=mark.installation if mark else None,
        )

    async def _read_repository(self, owner: str, name: str) -> Repository | None:
        found = await self._api.optional(
            "GET",
            _repo_path(owner, name),
            action=t("read the repository {owner}/{name}", owner=owner, name=name),
        )
        return None if found is None else self._repository(found.json())

    async def _create_repository(
        self, owner: str | None, name: str, *, description: str, private: bool
    ) -> Repository:
        created = await self._api.call(
            "POST",
            "user/repos" if owner is None else f"orgs/{_q(owner)}/repos",
            json={
                "name": name,
                "description": description,
                "private": private,
                "auto_init": False,
                "default_branch": DEFAULT_BRANCH,
            },
            action=t("create the repository {full_name}", full_name=self._full_name(owner, name)),
            scope=self._write_scope,
            taken=lambda answer: answer.status_code == 409,
            not_found=None
            if owner is None
            else self._site.not_found(
                t(
                    "organization {owner} not found on Gitea at {base_url}",
                    owner=owner,
                    base_url=self.base_url,
                ),
                hint=t(
                    "check the owner name, and that the token's account may "
                    "create repositories there"
                ),
            ),
        )
        return self._repository(created.json())

    async def _tag(self, created: Repository) -> Repository:
        await self._api.call(
            "PUT",
            f"{_repo_path(created.owner, created.name)}/topics",
            json={"topics": [TOPIC]},
            action=t("set the topics of {full_name}", full_name=created.full_name),
            scope=self._write_scope,
            not_yet=lambda _: True,
        )
        return replace(created, topics=(TOPIC,))

    async def _set_description(self, repo: Repository, description: str) -> Repository:
        updated = await self._api.call(
            "PATCH",
            _repo_path(repo.owner, repo.name),
            json={"description": description},
            action=t("update the description of {full_name}", full_name=repo.full_name),
            scope=self._write_scope,
        )
        return self._repository(updated.json())

    async def delete_repository(self, repo: Repository) -> None:
        await self._api.optional(
            "DELETE",
            _repo_path(repo.owner, repo.name),
            action=t("delete the repository {full_name}", full_name=repo.full_name),
            scope=self._write_scope,
        )

    # --- push -----------------------------------------------------------------------------
    async def _read_head(self, repo: Repository) -> Head | None:
        base, branch = _repo_path(repo.owner, repo.name), repo.default_branch
        found = await self._api.optional(
            "GET",
            f"{base}/branches/{_q(branch)}",
            action=t(
                "read the branch {branch} of {full_name}", branch=branch, full_name=repo.full_name
            ),
            not_yet=lambda answer: "branch" not in answer.text,  # repository not visible yet
        )
        if found is None:
            return None
        sha = str(found.json()["commit"]["id"])
        read = await self._api.call(
            "GET",
            f"{base}/git/commits/{sha}",
            action=t("read the head of {full_name}", full_name=repo.full_name),
        )
        data = read.json()
        message = data["commit"]["message"]
        return Head(
            sha=sha,
            root=not data.get("parents"),
            mark=commit_mark(message),
            tree_sha=str(data["commit"]["tree"]["sha"]),
            initial=forge_initial(message),
        )

    async def _files_page(self, repo: Repository, head: Head, page: int) -> FilesPage:
        tree = head.tree_sha or head.sha  # Gitea reports the tree; a commit id names it too
        listed = await self._api.call(
            "GET",
            f"{_repo_path(repo.owner, repo.name)}/git/trees/{tree}",
            params={"recursive": "true", "per_page": _PAGE, "page": page},
            action=t("list the files of {full_name}", full_name=repo.full_name),
        )
        data = listed.json()
        return FilesPage(
            blobs={e["path"]: e["sha"] for e in data.get("tree") or [] if e["type"] == "blob"},
            next_page=page + 1 if data.get("truncated") else None,
        )

    async def _commit_changes(self, repo: Repository, changes: ChangeSet, push: Push) -> Commit:
        files, existing = changes.files, changes.existing
        operations = [_change("create", p, files[p]) for p in changes.create]
        operations += [
            {**_change("update", p, files[p]), "sha": existing[p]} for p in changes.update
        ]
        operations += [
            {"operation": "delete", "path": p, "sha": existing[p]} for p in changes.delete
        ]
        created = await self._api.call(
            "POST",
            f"{_repo_path(repo.owner, repo.name)}/contents",
            json={
                "branch": repo.default_branch,
                "message": push.commit_message(),
                "files": operations,
            },
            action=t("commit the files to {full_name}", full_name=repo.full_name),
            scope=self._write_scope,
        )
        commit = created.json()["commit"]
        return Commit(sha=str(commit["sha"]), tree_sha=str(commit["tree"]["sha"]))

    # --- deploy keys ----------------------------------------------------------------------
    def _refused(self, repo: Repository) -> Callable[[httpx.Response], SlipwayError | None]:
        refusal = self._site.deploy_keys_refused(repo.full_name)
        return lambda answer: refusal if answer.status_code == 403 else None

    async def _create_deploy_key(
        self, repo: Repository, *, title: str, public_key: str
    ) -> DeployKey:
        created = await self._api.call(
            "POST",
            f"{_repo_path(repo.owner, repo.name)}/keys",
            json={"title": title, "key": public_key, "read_only": True},
            action=t(
                "add the deploy key {title} to {full_name}", title=title, full_name=repo.full_name
            ),
            taken=lambda answer: key_in_use(answer.text),
            refused=self._refused(repo),
        )
        return _deploy_key(created.json())

    async def list_deploy_keys(self, repo: Repository) -> list[DeployKey]:
        keys: list[DeployKey] = []
        page = 1
        while True:
            listed = await self._api.call(
                "GET",
                f"{_repo_path(repo.owner, repo.name)}/keys",
                params={"page": page, "limit": _KEYS_PAGE},
                action=t("list the deploy keys of {full_name}", full_name=repo.full_name),
                refused=self._refused(repo),
            )
            found = listed.json()
            keys += map(_deploy_key, found)
            if len(found) < _KEYS_PAGE:
                return keys
            page += 1

    async def remove_deploy_key(self, repo: Repository, key_id: str) -> None:
        await self._api.optional(
            "DELETE",
            f"{_repo_path(repo.owner, repo.name)}/keys/{_q(key_id)}",
            action=t(
                "remove the deploy key {key_id} from {full_name}",
                key_id=key_id,
                full_name=repo.full_name,
            ),
            refused=self._refused(repo),
        )


def _deploy_key(data: Mapping[str, Any]) -> DeployKey:
    return DeployKey(
        id=str(data["id"]),
        title=str(data.get("title") or ""),
        public_key=str(data["key"]),
        read_only=data.get("read_only") is not False,
    )


def _change(operation: str, path: str, data: bytes) -> dict[str, str]:
    return {"operation": operation, "path": path, "content": base64.b64encode(data).decode()}
