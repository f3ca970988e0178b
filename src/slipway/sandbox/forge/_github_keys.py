"""GitHub's deploy keys (`/repos/{owner}/{repo}/keys`): repository admins only, everyone else
gets 404 as GitHub hides the endpoint; a key may serve one repository in the whole forge."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from slipway.sandbox.forge._common import iso
from slipway.sandbox.forge._github_shapes import NOT_FOUND, GitHubAuth, the_repo
from slipway.sandbox.forge._keys import InvalidKey, parse_public_key
from slipway.sandbox.forge._routing import ApiError, Ctx, Router, json_response
from slipway.sandbox.forge._state import DeployKey, DeployKeyInUse, Repo

KEYS_DOCS = "https://docs.github.com/rest/deploy-keys/deploy-keys#create-a-deploy-key"
# Classic and OAuth tokens reach deploy keys with `repo` only; GitHub hides them otherwise.
_SCOPES = ("repo",)


def _invalid(message: str) -> ApiError:
    return ApiError(
        422,
        {
            "message": "Validation Failed",
            "errors": [
                {"resource": "PublicKey", "code": "custom", "field": "key", "message": message}
            ],
            "documentation_url": KEYS_DOCS,
            "status": "422",
        },
    )


def deploy_key_json(ctx: Ctx, repo: Repo, key: DeployKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "key": key.key.text,
        "url": f"{ctx.api_root}/repos/{repo.full_name}/keys/{key.id}",
        "title": key.title,
        "verified": True,
        "created_at": iso(key.created_at),
        "read_only": key.read_only,
        "added_by": key.added_by,
        "last_used": iso(key.last_used) if key.last_used is not None else None,
        "enabled": True,
    }


def add_key_routes(router: Router, auth: GitHubAuth) -> None:
    def admin_repo(ctx: Ctx) -> Repo:
        """The repository if the caller administers it; 404 otherwise, scope included."""
        token = auth(ctx)
        assert token is not None
        ctx.extra_headers["x-accepted-oauth-scopes"] = ", ".join(_SCOPES)
        repo = the_repo(ctx)
        scoped = token.kind in ("pat", "oauth")
        if (scoped and not set(_SCOPES) & set(token.scopes)) or not ctx.state.can_write(
            token.login, repo.owner
        ):
            raise NOT_FOUND
        return repo

    def the_key(ctx: Ctx, repo: Repo) -> DeployKey:
        key_id = ctx.params["key_id"]
        key = ctx.state.deploy_key(int(key_id)) if key_id.isdigit() else None
        if key is None or key.repo_id != repo.id:
            raise NOT_FOUND
        return key

    @router.route("GET", "/repos/{owner}/{repo}/keys")
    async def list_keys(ctx: Ctx) -> Response:
        repo = admin_repo(ctx)
        keys = ctx.state.deploy_keys(repo)
        return json_response([deploy_key_json(ctx, repo, k) for k in keys])

    @router.route("POST", "/repos/{owner}/{repo}/keys")
    async def add_key(ctx: Ctx) -> Response:
        repo = admin_repo(ctx)
        token = ctx.token
        assert token is not None
        body = await ctx.json()
        if "key" not in body:
            raise _invalid("key is invalid. You must supply a key in OpenSSH public key format")
        try:
            public = parse_public_key(body["key"])
        except InvalidKey:
            raise _invalid(
                "key is invalid. You must supply a key in OpenSSH public key format"
            ) from None
        try:
            key = ctx.state.add_deploy_key(
                repo,
                public,
                title=str(body.get("title") or ""),
                read_only=bool(body.get("read_only", False)),
                added_by=token.login,
                may_share=lambda _: False,
            )
        except DeployKeyInUse:
            raise _invalid("key is already in use") from None
        return json_response(deploy_key_json(ctx, repo, key), 201)

    @router.route("GET", "/repos/{owner}/{repo}/keys/{key_id}")
    async def get_key(ctx: Ctx) -> Response:
        repo = admin_repo(ctx)
        return json_response(deploy_key_json(ctx, repo, the_key(ctx, repo)))

    @router.route("DELETE", "/repos/{owner}/{repo}/keys/{key_id}")
    async def delete_key(ctx: Ctx) -> Response:
        repo = admin_repo(ctx)
        ctx.state.remove_deploy_key(the_key(ctx, repo))
        return Response(status_code=204)
