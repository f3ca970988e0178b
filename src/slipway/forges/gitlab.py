"""GitLab (gitlab.com or self-managed) through its REST API /api/v4, with httpx.

Why httpx and not python-gitlab: python-gitlab is synchronous (it would need a thread per
call), runs its own sleep-and-retry loop on 429, and drops the response headers from its
exceptions, so `Retry-After` / `RateLimit-Reset` could not reach `slipway.retry`. The
endpoints used here are stable and small. A push is one "create a commit with multiple files
and actions" call: text inline, binary base64-encoded.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
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
from slipway.forges._owner import (
    hidden_owner,
    may_not_create,
    no_access,
    other_user,
    unknown_owner,
)
from slipway.forges._tree import check_paths, is_text, plan_changes, tree_sha
from slipway.forges.base import Account, Commit, GitCredentials, Repository, TokenKind
from slipway.retry import DEFAULT_POLICY, RetryPolicy

DEFAULT_URL = "https://gitlab.com"
DEFAULT_BRANCH = "main"
REQUIRED_SCOPES = ("api",)
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


class GitLabForge:
    """`Forge` for a GitLab instance; `base_url` is the instance (`https://gitlab.com`)."""

    kind = ForgeKind.GITLAB

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_URL,
        token: SecretStr,
        step: str | None = None,
        retry_policy: RetryPolicy = DEFAULT_POLICY,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/").removesuffix("/api/v4")
        self._site = Site(ForgeKind.GITLAB, self.base_url, step)
        self._token = token
        self._api = JsonApi(
            site=self._site,
            api_url=f"{self.base_url}/api/v4",
            token=token,
            policy=retry_policy,
            transport=transport,
        )
        self._login: str | None = None
        self._user_id: int | None = None

    def __repr__(self) -> str:
        return f"GitLabForge(base_url={self.base_url!r})"

    async def validate_token(self) -> Account:
        login = await self._read_user()
        # Only a personal/project/group access token can describe itself; an OAuth token can't.
        own = await self._api.call(
            "GET",
            "personal_access_tokens/self",
            action="read the token's scopes",
            absent=(401, 403, 404),
        )
        if own is None:
            return Account(ForgeKind.GITLAB, login, TokenKind.OAUTH, None)
        scopes = tuple(str(s) for s in own.json().get("scopes", []))
        missing = tuple(s for s in REQUIRED_SCOPES if s not in scopes)
        return Account(ForgeKind.GITLAB, login, TokenKind.PERSONAL, scopes, missing)

    async def _read_user(self) -> str:
        """The token's username, remembered with its user id (the id names it in members)."""
        user = await self._api.call("GET", "user", action="read the token's account")
        assert user is not None
        data = user.json()
        self._login, self._user_id = str(data["username"]), int(data["id"])
        return self._login

    async def _own_login(self) -> str:
        return self._login if self._login is not None else await self._read_user()

    async def check_owner(self, owner: str | None) -> str:
        """Own account, else a group the token's account is a member of with a role that may
        create projects there. GitLab shows a namespace only to its members (and admins), so a
        404 is told apart with `exists`."""
        login = await self._own_login()
        if owner is None or owner.lower() == login.lower():
            return login
        response = await self._api.call(
            "GET",
            f"namespaces/{quote(owner, safe='')}",
            action=f"read the namespace {owner}",
            absent=(404,),
        )
        if response is None:
            if "/" in owner:  # `exists` only knows top-level paths
                raise hidden_owner(self._site, owner, login)
            exists = await self._api.call(
                "GET",
                f"namespaces/{quote(owner, safe='')}/exists",
                action=f"check whether the namespace {owner} exists",
            )
            assert exists is not None
            if exists.json().get("exists") is True:
                raise no_access(self._site, owner, login)
            raise unknown_owner(self._site, owner, login)
        data = response.json()
        path = str(data.get("full_path") or data["path"])
        if data.get("kind") == "user":
            if path.lower() != login.lower():
                raise other_user(self._site, path, login)
            return path
        await self._check_creation_role(int(data["id"]), path, login)
        return path

    async def _check_creation_role(self, group_id: int, path: str, login: str) -> None:
        """Refuse when the group's `project_creation_level` asks for a higher role than the
        member's `access_level` (inherited memberships included). What cannot be read (a
        GitLab without the field, a membership through a shared group) is left to creation."""
        group = await self._api.call(
            "GET", f"groups/{group_id}", action=f"read the group {path}", absent=(404,)
        )
        level = None if group is None else group.json().get("project_creation_level")
        if level not in _CREATION_LEVELS:
            return
        needed = _CREATION_LEVELS[level]
        if needed is None:
            who = "only administrators" if level == "administrator" else "no one"
            raise may_not_create(
                self._site,
                path,
                login,
                why=f"the group's settings let {who} create projects",
                ask="to let members create projects in the group's permission settings",
            )
        assert self._user_id is not None  # read with the login
        member = await self._api.call(
            "GET",
            f"groups/{group_id}/members/all/{self._user_id}",
            action=f"read the role of {login} in {path}",
            absent=(404,),
        )
        access = None if member is None else member.json().get("access_level")
        if isinstance(access, int) and access < needed:
            role, wanted = _ROLES.get(access, f"access level {access}"), _ROLES[needed]
            raise may_not_create(
                self._site,
                path,
                login,
                why=f"that takes the {wanted} role or higher, and {login}'s role is {role}",
                ask=f"to give {login} the {wanted} role",
            )

    def _repository(self, data: Mapping[str, Any]) -> Repository:
        namespace = data.get("namespace") or {}
        description = data.get("description") or ""
        return Repository(
            provider=ForgeKind.GITLAB,
            owner=str(namespace.get("full_path") or data["path_with_namespace"].rsplit("/", 1)[0]),
            name=str(data["path"]),
            clone_url=str(data["http_url_to_repo"]),
            web_url=str(data["web_url"]),
            default_branch=str(data.get("default_branch") or DEFAULT_BRANCH),
            private=data.get("visibility") != "public",
            description=description,
            project=project_from_description(description),
            topics=tuple(data.get("topics") or ()),
            id=str(data["id"]),
        )

    async def find_repository(self, *, owner: str | None, name: str) -> Repository | None:
        owner = owner or await self._own_login()
        response = await self._api.call(
            "GET",
            f"projects/{quote(f'{owner}/{name}', safe='')}",
            action=f"read the project {owner}/{name}",
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
        body: dict[str, Any] = {
            "name": name,
            "path": name,
            "description": mark_description(description, project),
            "visibility": "private" if private else "public",
            "topics": [TOPIC],
            "initialize_with_readme": False,
        }
        if owner.lower() != login.lower():
            body["namespace_id"] = await self._namespace_id(owner)
        taken = _Sentinel()
        try:
            created = await self._api.call(
                "POST",
                "projects",
                json=body,
                action=f"create the project {owner}/{name}",
                scope="api",
                conflict=lambda r: taken if "taken" in r.text else None,
            )
        except SlipwayError as exc:
            if exc is not taken:
                raise
            again = await self.find_repository(owner=owner, name=name)
            if again is None:
                raise self._site.error(
                    f"GitLab says {owner}/{name} is taken but does not show it to this token",
                    hint="check the token's access to that namespace, or choose another name",
                ) from None
            return self._site.reuse(again, project)
        assert created is not None
        return self._repository(created.json())

    async def _namespace_id(self, owner: str) -> int:
        response = await self._api.call(
            "GET",
            f"namespaces/{quote(owner, safe='')}",
            action=f"find the group {owner}",
            not_found=self._site.not_found(
                f"group {owner} not found on GitLab at {self.base_url}",
                hint="check the group path, and that the token's account may create projects in it",
            ),
        )
        assert response is not None
        return int(response.json()["id"])

    async def push_files(
        self, repo: Repository, files: Mapping[str, bytes], *, message: str, project: str
    ) -> Commit:
        check_paths(files)
        expected = tree_sha(files)
        pid, branch = _pid(repo), repo.default_branch
        head = await self._api.call(
            "GET",
            f"projects/{pid}/repository/commits/{quote(branch, safe='')}",
            action=f"read the branch {branch} of {repo.full_name}",
            absent=(404,),
            retry_404_if=lambda r: "Project" in r.text,  # not visible yet, vs. no commit yet
        )
        existing: dict[str, str] = {}
        if head is not None:
            data = head.json()
            mark = commit_mark(data.get("message"))
            if not data.get("parent_ids") and mark == CommitMark(project, expected):
                return Commit(sha=str(data["id"]), tree_sha=expected)
            existing = await self._files(pid, branch, repo)
        create, update, delete = plan_changes(existing, files)
        actions = [_action("create", p, files[p]) for p in create]
        actions += [_action("update", p, files[p]) for p in update]
        actions += [{"action": "delete", "file_path": p} for p in delete]
        if not actions:  # someone else's commit with our exact tree: leave it be
            return Commit(sha=str(head.json()["id"]) if head else "", tree_sha=expected)
        created = await self._api.call(
            "POST",
            f"projects/{pid}/repository/commits",
            json={
                "branch": branch,
                "commit_message": commit_message(message, project=project, tree_sha=expected),
                "actions": actions,
            },
            action=f"commit the files to {repo.full_name}",
            scope="api",
        )
        assert created is not None
        return Commit(sha=str(created.json()["id"]), tree_sha=expected)

    async def _files(self, pid: str, branch: str, repo: Repository) -> dict[str, str]:
        """Every file on the branch (path -> blob id), page by page."""
        found: dict[str, str] = {}
        page = 1
        while True:
            response = await self._api.call(
                "GET",
                f"projects/{pid}/repository/tree",
                params={"ref": branch, "recursive": "true", "per_page": _PAGE, "page": page},
                action=f"list the files of {repo.full_name}",
            )
            assert response is not None
            found.update({i["path"]: i["id"] for i in response.json() if i["type"] == "blob"})
            following = response.headers.get("x-next-page", "")
            if not following:
                return found
            page = int(following)

    async def delete_repository(self, repo: Repository) -> None:
        await self._api.call(
            "DELETE",
            f"projects/{_pid(repo)}",
            action=f"delete the project {repo.full_name}",
            scope="api",
            absent=(404,),
        )

    def git_credentials(self) -> GitCredentials:
        """`oauth2` works for OAuth tokens and PATs alike over git-over-HTTPS."""
        return GitCredentials(username="oauth2", password=self._token)

    async def aclose(self) -> None:
        await self._api.aclose()


def _action(kind: str, path: str, data: bytes) -> dict[str, str]:
    if is_text(data):
        return {"action": kind, "file_path": path, "content": data.decode(), "encoding": "text"}
    encoded = base64.b64encode(data).decode()
    return {"action": kind, "file_path": path, "content": encoded, "encoding": "base64"}


class _Sentinel(Conflict):
    def __init__(self) -> None:
        super().__init__("handled inside the GitLab adapter", system="GitLab")
