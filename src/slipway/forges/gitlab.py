"""GitLab (gitlab.com or self-managed) through its REST API /api/v4, with httpx.

Why httpx and not python-gitlab: python-gitlab is synchronous (it would need a thread per
call), runs its own sleep-and-retry loop on 429, and drops the response headers from its
exceptions, so `Retry-After` / `RateLimit-Reset` could not reach `slipway.retry`. The
endpoints used here are stable and small. A project is created empty, its topic in the same
call. With `PushMethod.API` a push is one "create a commit with multiple files and actions"
call: text inline, binary base64-encoded.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx
from dulwich.objects import Tree

from slipway.domain.errors import SlipwayError
from slipway.domain.model import ForgeKind
from slipway.domain.text import t
from slipway.forges._changes import ChangeSet, ChangeSetWrites, FilesPage
from slipway.forges._deploy_keys import DeployKeyFlows, key_in_use
from slipway.forges._flows import Head, Owner, Push
from slipway.forges._http import HttpForge
from slipway.forges._marker import TOPIC, commit_mark, description_mark, forge_initial
from slipway.forges._owner import hidden_owner, may_not_create, no_access
from slipway.forges._ssh import ssh_clone_url
from slipway.forges._tree import is_text
from slipway.forges.base import Account, Commit, DeployKey, Repository, TokenKind
from slipway.retry import RetryPolicy

DEFAULT_BRANCH = "main"
_PAGE = 100
# A group's `project_creation_level` -> the lowest member `access_level` that may create
# projects there (GitLab's GroupPolicy); None: no member may (administrators aside).
_CREATION_LEVELS: dict[str, int | None] = {
    "developer": 30,
    "maintainer": 40,
    "owner": 50,
    "noone": None,
    "administrator": None,
}
_ROLES = {10: "Guest", 20: "Reporter", 30: "Developer", 40: "Maintainer", 50: "Owner"}


def _pid(repo: Repository) -> str:
    return repo.id or quote(repo.full_name, safe="")


def _q(path: str) -> str:
    return quote(path, safe="")


class GitLabForge(ChangeSetWrites, DeployKeyFlows, HttpForge):
    """`Forge` for a GitLab instance; `base_url` is the instance (`https://gitlab.com`)."""

    kind = ForgeKind.GITLAB
    taken_says = t("is taken")
    owner_noun = t("namespace")
    _user_id: int | None = None  # read with the login; group members are named by it
    _namespaces: dict[str, Owner]  # read once per adapter: by `check_owner`, used to create

    def _connect(self, policy: RetryPolicy) -> None:
        super()._connect(policy)
        self._namespaces = {}

    # --- account --------------------------------------------------------------------------
    async def validate_token(self) -> Account:
        self._login = login = await self._read_login()
        # Only a personal/project/group access token can describe itself; an OAuth token can't.
        own = await self._api.optional(
            "GET",
            "personal_access_tokens/self",
            action=t("read the token's scopes"),
            absent=(401, 403, 404),
        )
        if own is None:
            return self._account(login, TokenKind.OAUTH, None)
        scopes = tuple(str(s) for s in own.json().get("scopes", []))
        return self._account(login, TokenKind.PERSONAL, scopes)

    async def _read_login(self) -> str:
        data = (await self._api.call("GET", "user", action=t("read the token's account"))).json()
        self._user_id = int(data["id"])
        return str(data["username"])

    # --- owners: namespaces, told apart with `exists` where GitLab hides them ----------------
    async def _read_owner(self, owner: str, login: str) -> Owner | None:
        """GitLab shows a namespace only to its members (and admins): a 404 is either a
        group the account is not in, another user, or nothing at all."""
        found = await self._api.optional(
            "GET", f"namespaces/{_q(owner)}", action=t("read the namespace {owner}", owner=owner)
        )
        if found is None:
            if "/" in owner:  # `exists` only knows top-level paths
                raise hidden_owner(self._site, owner, login)
            exists = await self._api.call(
                "GET",
                f"namespaces/{_q(owner)}/exists",
                action=t("check whether the namespace {owner} exists", owner=owner),
            )
            if exists.json().get("exists") is True:
                raise no_access(self._site, owner, login)
            return None
        data = found.json()
        path = str(data.get("full_path") or data["path"])
        read = Owner(path, user=data.get("kind") == "user", id=str(data["id"]))
        self._namespaces[owner.lower()] = read
        return read

    async def _own_user_id(self) -> int:
        """The account's id, read only where a call needs it (a group's member list)."""
        if self._user_id is None:
            self._login = await self._read_login()
        assert self._user_id is not None
        return self._user_id

    async def _check_member(self, group: Owner, login: str) -> None:
        """Refuse when the group's `project_creation_level` asks for a higher role than the
        member's `access_level` (inherited memberships included). What cannot be read (a
        GitLab without the field, a membership through a shared group) is left to creation."""
        read = await self._api.optional(
            "GET", f"groups/{group.id}", action=t("read the group {name}", name=group.name)
        )
        level = None if read is None else read.json().get("project_creation_level")
        if level not in _CREATION_LEVELS:
            return
        needed = _CREATION_LEVELS[level]
        if needed is None:
            raise may_not_create(
                self._site,
                group.name,
                login,
                why=t("the group's settings let only administrators create projects")
                if level == "administrator"
                else t("the group's settings let no one create projects"),
                ask=t("to let members create projects in the group's permission settings"),
            )
        member = await self._api.optional(
            "GET",
            f"groups/{group.id}/members/all/{await self._own_user_id()}",
            action=t("read the role of {login} in {name}", login=login, name=group.name),
        )
        access = None if member is None else member.json().get("access_level")
        if isinstance(access, int) and access < needed:
            role, wanted = _ROLES.get(access, f"access level {access}"), _ROLES[needed]
            raise may_not_create(
                self._site,
                group.name,
                login,
                why=t(
                    "that takes the {wanted} role or higher, and {login}'s role is {role}",
                    wanted=wanted,
                    login=login,
                    role=role,
                ),
                ask=t("to give {login} the {wanted} role", login=login, wanted=wanted),
            )

    # --- projects -------------------------------------------------------------------------
    def _repository(self, data: Mapping[str, Any]) -> Repository:
        namespace = data.get("namespace") or {}
        description = data.get("description") or ""
        mark = description_mark(description)
        return Repository(
            provider=ForgeKind.GITLAB,
            owner=str(namespace.get("full_path") or data["path_with_namespace"].rsplit("/", 1)[0]),
            name=str(data["path"]),
            clone_url=str(data["http_url_to_repo"]),
            web_url=str(data["web_url"]),
            default_branch=str(data.get("default_branch") or DEFAULT_BRANCH),
            private=data.get("visibility") != "public",
            description=description,
            project=mark.project if mark else None,
            topics=tuple(data.get("topics") or ()),
            id=str(data["id"]),
            ssh_url=ssh_clone_url(data.get("ssh_url_to_repo")),
            installation=mark.installation if mark else None,
        )

    async def _read_repository(self, owner: str, name: str) -> Repository | None:
        found = await self._api.optional(
            "GET",
            f"projects/{_q(f'{owner}/{name}')}",
            action=t("read the project {owner}/{name}", owner=owner, name=name),
        )
        return None if found is None else self._repository(found.json())

    async def _create_repository(
        self, owner: str | None, name: str, *, description: str, private: bool
    ) -> Repository:
        body: dict[str, Any] = {
            "name": name,
            "path": name,
            "description": description,
            "visibility": "private" if private else "public",
            "topics": [TOPIC],
            "initialize_with_readme": False,
        }
        if owner is not None:
            body["namespace_id"] = await self._namespace_id(owner)
        created = await self._api.call(
            "POST",
            "projects",
            json=body,
            action=t("create the project {full_name}", full_name=self._full_name(owner, name)),
            scope=self._write_scope,
            taken=lambda answer: "taken" in answer.text,
        )
        return self._repository(created.json())

    async def _tag(self, created: Repository) -> Repository:
        return created  # the topic went with the create call

    async def _namespace_id(self, owner: str) -> int:
        """The namespace's id, which the create call needs; read at most once per adapter."""
        known = self._namespaces.get(owner.lower())
        if known is not None:
            return int(known.id)
        found = await self._api.call(
            "GET",
            f"namespaces/{_q(owner)}",
            action=t("find the group {owner}", owner=owner),
            not_found=self._site.not_found(
                t(
                    "group {owner} not found on GitLab at {base_url}",
                    owner=owner,
                    base_url=self.base_url,
                ),
                hint=t(
                    "check the group path, and that the token's account may create projects in it"
                ),
            ),
        )
        data = found.json()
        path = str(data.get("full_path") or data.get("path") or owner)
        self._namespaces[owner.lower()] = Owner(
            path, user=data.get("kind") == "user", id=str(data["id"])
        )
        return int(data["id"])

    async def _set_description(self, repo: Repository, description: str) -> Repository:
        updated = await self._api.call(
            "PUT",
            f"projects/{_pid(repo)}",
            json={"description": description},
            action=t("update the description of {full_name}", full_name=repo.full_name),
            scope=self._write_scope,
        )
        return self._repository(updated.json())

    async def delete_repository(self, repo: Repository) -> None:
        await self._api.optional(
            "DELETE",
            f"projects/{_pid(repo)}",
            action=t("delete the project {full_name}", full_name=repo.full_name),
            scope=self._write_scope,
        )

    # --- push -----------------------------------------------------------------------------
    async def _read_head(self, repo: Repository) -> Head | None:
        branch = repo.default_branch
        found = await self._api.optional(
            "GET",
            f"projects/{_pid(repo)}/repository/commits/{_q(branch)}",
            action=t(
                "read the branch {branch} of {full_name}", branch=branch, full_name=repo.full_name
            ),
            not_yet=lambda answer: "Project" in answer.text,  # not visible yet, vs. no commit
        )
        if found is None:
            return None
        data = found.json()
        root = not data.get("parent_ids")
        message = data.get("message")
        return Head(
            sha=str(data["id"]),
            root=root,
            mark=commit_mark(message),
            initial=forge_initial(message),
        )

    async def _head_tree(self, repo: Repository, head: Head) -> str:
        """GitLab's commits do not name their tree: it is built from the top level's
        entries (each with its mode and id), exactly as git builds it."""
        tree = Tree()
        page: int | None = 1
        while page is not None:
            listed = await self._api.call(
                "GET",
                f"projects/{_pid(repo)}/repository/tree",
                params={"ref": head.sha, "per_page": _PAGE, "page": page},
                action=t("read the tree of {full_name}'s head", full_name=repo.full_name),
            )
            for entry in listed.json():
                tree.add(str(entry["name"]).encode(), int(entry["mode"], 8), entry["id"].encode())
            following = listed.headers.get("x-next-page", "")
            page = int(following) if following else None
        return tree.id.decode("ascii")

    async def _files_page(self, repo: Repository, head: Head, page: int) -> FilesPage:
        listed = await self._api.call(
            "GET",
            f"projects/{_pid(repo)}/repository/tree",
            params={
                "ref": repo.default_branch,
                "recursive": "true",
                "per_page": _PAGE,
                "page": page,
            },
            action=t("list the files of {full_name}", full_name=repo.full_name),
        )
        following = listed.headers.get("x-next-page", "")
        return FilesPage(
            blobs={i["path"]: i["id"] for i in listed.json() if i["type"] == "blob"},
            next_page=int(following) if following else None,
        )

    async def _commit_changes(self, repo: Repository, changes: ChangeSet, push: Push) -> Commit:
        files = changes.files
        actions = [_action("create", p, files[p]) for p in changes.create]
        actions += [_action("update", p, files[p]) for p in changes.update]
        actions += [{"action": "delete", "file_path": p} for p in changes.delete]
        created = await self._api.call(
            "POST",
            f"projects/{_pid(repo)}/repository/commits",
            json={
                "branch": repo.default_branch,
                "commit_message": push.commit_message(),
                "actions": actions,
            },
            action=t("commit the files to {full_name}", full_name=repo.full_name),
            scope=self._write_scope,
        )
        return Commit(sha=str(created.json()["id"]), tree_sha=push.tree_sha)

    # --- deploy keys ----------------------------------------------------------------------
    def _refused(self, repo: Repository) -> Callable[[httpx.Response], SlipwayError | None]:
        """403, or a 404 that is not about the project (deploy keys disabled, or a role
        below maintainer): GitLab refuses deploy keys here."""
        refusal = self._site.deploy_keys_refused(repo.full_name)

        def refused(answer: httpx.Response) -> SlipwayError | None:
            if answer.status_code == 403:
                return refusal
            if answer.status_code == 404 and "Project" not in answer.text:
                return refusal
            return None

        return refused

    async def _create_deploy_key(
        self, repo: Repository, *, title: str, public_key: str
    ) -> DeployKey:
        created = await self._api.call(
            "POST",
            f"projects/{_pid(repo)}/deploy_keys",
            json={"title": title, "key": public_key, "can_push": False},
            action=t(
                "add the deploy key {title} to {full_name}", title=title, full_name=repo.full_name
            ),
            taken=lambda answer: key_in_use(answer.text),
            refused=self._refused(repo),
        )
        return _deploy_key(created.json())

    async def list_deploy_keys(self, repo: Repository) -> list[DeployKey]:
        keys: list[DeployKey] = []
        page: int | None = 1
        while page is not None:
            listed = await self._api.call(
                "GET",
                f"projects/{_pid(repo)}/deploy_keys",
                params={"per_page": _PAGE, "page": page},
                action=t("list the deploy keys of {full_name}", full_name=repo.full_name),
                refused=self._refused(repo),
            )
            keys += map(_deploy_key, listed.json())
            following = listed.headers.get("x-next-page", "")
            page = int(following) if following else None
        return keys

    async def remove_deploy_key(self, repo: Repository, key_id: str) -> None:
        await self._api.optional(
            "DELETE",
            f"projects/{_pid(repo)}/deploy_keys/{_q(key_id)}",
            action=t(
                "remove the deploy key {key_id} from {full_name}",
                key_id=key_id,
                full_name=repo.full_name,
            ),
            refused=lambda answer: (
                self._site.deploy_keys_refused(repo.full_name)
                if answer.status_code == 403
                else None
            ),
        )


def _deploy_key(data: Mapping[str, Any]) -> DeployKey:
    return DeployKey(
        id=str(data["id"]),
        title=str(data.get("title") or ""),
        public_key=str(data["key"]),
        read_only=not data.get("can_push"),
    )


def _action(kind: str, path: str, data: bytes) -> dict[str, str]:
    if is_text(data):
        return {"action": kind, "file_path": path, "content": data.decode(), "encoding": "text"}
    encoded = base64.b64encode(data).decode()
    return {"action": kind, "file_path": path, "content": encoded, "encoding": "base64"}
