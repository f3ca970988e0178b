"""Gitea's account endpoints: the token's user, users and orgs by name, org membership and a
user's permissions in an org (how Slipway checks an owner before creating)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import RedirectResponse, Response

from slipway.sandbox.forge._gitea_shapes import NOT_FOUND, auth, user_json
from slipway.sandbox.forge._routing import Ctx, Router, json_response
from slipway.sandbox.forge._state import Account


def _org(ctx: Ctx) -> Account:
    org = ctx.state.account(ctx.params["org"])
    if org is None or not org.is_org:
        raise NOT_FOUND
    return org


def add_account_routes(router: Router) -> None:
    @router.route("GET", "/user")
    async def get_user(ctx: Ctx) -> Response:
        token = auth(ctx)
        account = ctx.state.account(token.login)
        assert account is not None
        return json_response(user_json(ctx, account))

    @router.route("GET", "/users/{username}")
    async def get_user_by_name(ctx: Ctx) -> Response:
        """Any account by name; Gitea answers for organisations here too."""
        auth(ctx)
        account = ctx.state.account(ctx.params["username"])
        if account is None:
            raise NOT_FOUND
        return json_response(user_json(ctx, account))

    @router.route("GET", "/orgs/{org}")
    async def get_org(ctx: Ctx) -> Response:
        auth(ctx)
        org = _org(ctx)
        return json_response(
            {
                "id": org.id,
                "name": org.login,
                "username": org.login,
                "full_name": org.login,
                "email": "",
                "avatar_url": "",
                "description": "",
                "website": "",
                "location": "",
                "visibility": "public",
                "repo_admin_change_team_access": False,
            }
        )

    @router.route("GET", "/orgs/{org}/members/{username}")
    async def is_member(ctx: Ctx) -> Response:
        """Like Gitea's IsMember: a member asking gets 204/404 for anyone, someone asking
        about themselves gets 404 when not a member, anyone else a redirect to the public
        membership."""
        token = auth(ctx)
        org = _org(ctx)
        user = ctx.state.account(ctx.params["username"])
        if user is None:
            raise NOT_FOUND
        if ctx.state.is_member(token.login, org):
            if ctx.state.is_member(user.login, org):
                return Response(status_code=204)
            raise NOT_FOUND
        if user.login.lower() == token.login.lower():
            raise NOT_FOUND
        target = f"{ctx.api_root}/orgs/{quote(org.login)}/public_members/{quote(user.login)}"
        return RedirectResponse(target, status_code=303)

    @router.route("GET", "/orgs/{org}/public_members/{username}")
    async def is_public_member(ctx: Ctx) -> Response:
        """Memberships are concealed (Gitea's default), so no one is a public member here."""
        _org(ctx)
        raise NOT_FOUND

    @router.route("GET", "/users/{username}/orgs/{org}/permissions")
    async def org_permissions(ctx: Ctx) -> Response:
        auth(ctx)
        user = ctx.state.account(ctx.params["username"])
        org = _org(ctx)
        if user is None:
            raise NOT_FOUND
        member = ctx.state.is_member(user.login, org)
        return json_response(
            {
                "is_owner": False,
                "is_admin": False,
                "can_write": member,
                "can_read": member,
                "can_create_repository": ctx.state.can_create_repo(user.login, org.login),
            }
        )
