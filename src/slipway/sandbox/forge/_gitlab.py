"""The GitLab /api/v4 subset Slipway uses: user, token scopes, namespaces, groups with their
project creation level and members' roles, and projects by id or URL-encoded path; commits,
trees and files are in `_gitlab_repository`."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from slipway.sandbox.forge._common import commit_initial_readme, iso
from slipway.sandbox.forge._gitlab_keys import add_key_routes
from slipway.sandbox.forge._gitlab_repository import add_repository_routes
from slipway.sandbox.forge._gitlab_shapes import (
    auth,
    error,
    error_body,
    namespace_json,
    need_api,
    project_json,
    the_project,
    writable_project,
)
from slipway.sandbox.forge._routing import ApiError, Ctx, Router, json_response
from slipway.sandbox.forge._state import Account

DEVELOPER = 30  # GitLab's access_level for the Developer role: every member's role here


def _account_named(ctx: Ctx) -> Account | None:
    """The user or group the `id` path parameter names: a number, or a URL-encoded path."""
    ident = ctx.params["id"]
    return ctx.state.account_by_id(int(ident)) if ident.isdigit() else ctx.state.account(ident)


def _the_group(ctx: Ctx) -> Account:
    """The group named by `id` if the caller is a member; GitLab answers 404 for a private
    group to anyone else."""
    token = auth(ctx)
    group = _account_named(ctx)
    if group is None or not ctx.state.is_member(token.login, group):
        raise error(404, "404 Group Not Found")
    return group


def _group_json(ctx: Ctx, group: Account) -> dict[str, Any]:
    """`project_creation_level` is who may create projects: with `members_can_create_repositories`
    Developers and up (every member here), else Maintainers and up (no member here)."""
    level = "developer" if group.members_can_create_repositories else "maintainer"
    return {
        "id": group.id,
        "name": group.login,
        "path": group.login,
        "description": "",
        "visibility": "private",
        "avatar_url": None,
        "web_url": f"{ctx.web_root}/groups/{group.login}",
        "request_access_enabled": True,
        "full_name": group.login,
        "full_path": group.login,
        "parent_id": None,
        "created_at": iso(group.created_at),
        "project_creation_level": level,
        "subgroup_creation_level": "maintainer",
    }


def _user_json(ctx: Ctx, user: Account) -> dict[str, Any]:
    """The fields GitLab shows for a user, as `/user` and a group's member both start with."""
    return {
        "id": user.id,
        "username": user.login,
        "name": user.login,
        "state": "active",
        "locked": False,
        "avatar_url": None,
        "web_url": f"{ctx.web_root}/{user.login}",
        "created_at": iso(user.created_at),
    }


def create_gitlab_router() -> Router:
    router = Router(error_body)
    add_repository_routes(router)
    add_key_routes(router)

    @router.route("GET", "/user")
    async def get_user(ctx: Ctx) -> Response:
        token = auth(ctx)
        account = ctx.state.account(token.login)
        assert account is not None
        return json_response(_user_json(ctx, account) | {"bot": False})

    @router.route("GET", "/personal_access_tokens/self")
    async def token_self(ctx: Ctx) -> Response:
        token = auth(ctx)
        if token.kind == "oauth":
            raise error(401, "401 Unauthorized")
        account = ctx.state.account(token.login)
        assert account is not None
        return json_response(
            {
                "id": abs(hash(token.value)) % 100000,
                "name": "slipway",
                "revoked": False,
                "created_at": iso(account.created_at),
                "scopes": list(token.scopes),
                "user_id": account.id,
                "last_used_at": None,
                "active": True,
                "expires_at": None,
            }
        )

    @router.route("GET", "/namespaces/{id}")
    async def get_namespace(ctx: Ctx) -> Response:
        token = auth(ctx)
        account = _account_named(ctx)
        if account is None or not ctx.state.can_write(token.login, account.login):
            raise error(404, "404 Namespace Not Found")
        return json_response(namespace_json(ctx, account))

    @router.route("GET", "/namespaces/{id}/exists")
    async def namespace_exists(ctx: Ctx) -> Response:
        """Whether a top-level namespace path is taken, visible or not, with free suggestions."""
        auth(ctx)
        path = ctx.params["id"]
        taken = "/" not in path and ctx.state.account(path) is not None
        suggests = [f"{path}{n}" for n in range(1, 4) if ctx.state.account(f"{path}{n}") is None]
        return json_response({"exists": taken, "suggests": suggests[:1] if taken else []})

    @router.route("GET", "/groups/{id}")
    async def get_group(ctx: Ctx) -> Response:
        return json_response(_group_json(ctx, _the_group(ctx)))

    @router.route("GET", "/groups/{id}/members/all/{user_id}")
    async def get_member(ctx: Ctx) -> Response:
        """A member, inherited memberships included (none here: groups are not nested). An
        unknown or outside user is ActiveRecord's RecordNotFound: GitLab's bare "404 Not found"."""
        user_id = ctx.params["user_id"]
        if not user_id.isdigit():
            raise ApiError(400, {"error": "user_id is invalid"})
        group = _the_group(ctx)
        user = ctx.state.account_by_id(int(user_id))
        if user is None or not ctx.state.is_member(user.login, group):
            raise error(404, "404 Not found")
        membership = {"access_level": DEVELOPER, "expires_at": None, "membership_state": "active"}
        return json_response(_user_json(ctx, user) | membership)

    @router.route("POST", "/projects")
    async def create_project(ctx: Ctx) -> Response:
        token = auth(ctx)
        need_api(token)
        body = await ctx.json()
        name = body.get("path") or body.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(
                400, {"error": "name, path are missing, at least one parameter must be provided"}
            )
        owner = ctx.state.account(token.login)
        if body.get("namespace_id") is not None:
            owner = ctx.state.account_by_id(int(body["namespace_id"]))
            if owner is None or not ctx.state.can_create_repo(token.login, owner.login):
                # Projects::CreateService: a namespace the user may not create in "is not valid",
                # be it a group they are not in or one whose creation level is above their role.
                raise ApiError(400, {"message": {"namespace": ["is not valid"]}})
        assert owner is not None
        try:
            repo = ctx.state.create_repo(
                owner.login,
                name,
                description=str(body.get("description") or ""),
                private=body.get("visibility", "private") != "public",
                default_branch=str(body.get("default_branch") or "main"),
            )
        except ValueError:
            raise ApiError(
                400,
                {
                    "message": {
                        "project_namespace.name": ["has already been taken"],
                        "name": ["has already been taken"],
                        "path": ["has already been taken"],
                    }
                },
            ) from None
        repo.topics = [str(t) for t in body.get("topics") or []]
        if body.get("initialize_with_readme"):
            commit_initial_readme(repo, author=token.login)
        return json_response(project_json(ctx, repo), 201)

    @router.route("GET", "/projects/{id}")
    async def get_project(ctx: Ctx) -> Response:
        return json_response(project_json(ctx, the_project(ctx)))

    @router.route("PUT", "/projects/{id}")
    async def edit_project(ctx: Ctx) -> Response:
        repo, _ = writable_project(ctx)
        body = await ctx.json()
        if "description" in body:
            repo.description = str(body["description"] or "")
        if "topics" in body:
            repo.topics = [str(t) for t in body["topics"] or []]
        return json_response(project_json(ctx, repo))

    @router.route("DELETE", "/projects/{id}")
    async def delete_project(ctx: Ctx) -> Response:
        repo, _ = writable_project(ctx)
        ctx.state.delete_repo(repo)
        return json_response({"message": "202 Accepted"}, 202)

    return router
