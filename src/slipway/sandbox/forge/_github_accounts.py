"""GitHub's account endpoints: the token's own user, another user or organisation by name,
and the token's membership of an organisation (how Slipway checks an owner before creating)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from slipway.sandbox.forge._common import iso
from slipway.sandbox.forge._github_shapes import NOT_FOUND, GitHubAuth, error, user_json
from slipway.sandbox.forge._routing import Ctx, Router, json_response
from slipway.sandbox.forge._state import Account

# Classic and OAuth tokens need one of these to read organisation memberships.
MEMBERSHIP_SCOPES = ("read:org", "write:org", "admin:org", "user")
_PRIVATE_USER_FIELDS = (
    "private_gists",
    "total_private_repos",
    "owned_private_repos",
    "disk_usage",
    "collaborators",
    "two_factor_authentication",
)


def org_simple_json(ctx: Ctx, org: Account) -> dict[str, Any]:
    """GitHub's "Organization Simple" shape (what a membership embeds)."""
    api = f"{ctx.api_root}/orgs/{org.login}"
    return {
        "login": org.login,
        "id": org.id,
        "node_id": f"O_{org.id}",
        "url": api,
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events",
        "hooks_url": f"{api}/hooks",
        "issues_url": f"{api}/issues",
        "members_url": f"{api}/members{{/member}}",
        "public_members_url": f"{api}/public_members{{/member}}",
        "avatar_url": f"{ctx.web_root}/avatars/{org.login}",
        "description": None,
    }


def add_account_routes(router: Router, auth: GitHubAuth) -> None:
    @router.route("GET", "/user")
    async def get_user(ctx: Ctx) -> Response:
        token = auth(ctx)
        assert token is not None
        account = ctx.state.account(token.login)
        if account is None or token.kind == "app":
            raise error(403, "Resource not accessible by integration")
        return json_response(user_json(ctx, account, private=True))

    @router.route("GET", "/users/{username}")
    async def get_user_by_name(ctx: Ctx) -> Response:
        """A user's (or an organisation's) public profile; 404 for an unknown login."""
        auth(ctx, required=False)
        account = ctx.state.account(ctx.params["username"])
        if account is None:
            raise NOT_FOUND
        body = user_json(ctx, account, private=True)
        for name in _PRIVATE_USER_FIELDS:
            body.pop(name, None)
        return json_response(body)

    @router.route("GET", "/orgs/{org}")
    async def get_org(ctx: Ctx) -> Response:
        auth(ctx, required=False)
        org = ctx.state.account(ctx.params["org"])
        if org is None or not org.is_org:
            raise NOT_FOUND
        body = user_json(ctx, org)
        body.update(org_simple_json(ctx, org))
        body.update(
            {
                "html_url": f"{ctx.web_root}/{org.login}",
                "type": "Organization",
                "has_organization_projects": True,
                "has_repository_projects": True,
                "public_repos": 0,
                "public_gists": 0,
                "followers": 0,
                "following": 0,
                "created_at": iso(org.created_at),
                "updated_at": iso(org.created_at),
                "archived_at": None,
            }
        )
        return json_response(body)

    @router.route("GET", "/user/memberships/orgs/{org}")
    async def get_own_membership(ctx: Ctx) -> Response:
        """The token's membership of an organisation: 404 when it is not affiliated (or the
        organisation does not exist), 403 for a classic token without an org-reading scope."""
        token = auth(ctx)
        assert token is not None
        auth.need_scope(ctx, token, *MEMBERSHIP_SCOPES)
        org = ctx.state.account(ctx.params["org"])
        user = ctx.state.account(token.login)
        if org is None or user is None or not ctx.state.is_member(token.login, org):
            raise NOT_FOUND
        return json_response(
            {
                "url": f"{ctx.api_root}/orgs/{org.login}/memberships/{user.login}",
                "state": "active",
                "role": "member",
                "organization_url": f"{ctx.api_root}/orgs/{org.login}",
                "organization": org_simple_json(ctx, org),
                "user": user_json(ctx, user),
                "permissions": {
                    "can_create_repository": ctx.state.can_create_repo(user.login, org.login)
                },
            }
        )
