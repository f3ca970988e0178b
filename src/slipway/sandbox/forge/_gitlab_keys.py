"""GitLab's project deploy keys (`/projects/{id}/deploy_keys`). As in GitLab's API, posting a
key the project has already returns it again, and a key on other projects the caller can
manage is joined to this one (same id); a key held where the caller has no access is taken."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from slipway.sandbox.forge._common import iso
from slipway.sandbox.forge._gitlab_shapes import auth, error, need_api, the_project
from slipway.sandbox.forge._keys import InvalidKey, parse_public_key
from slipway.sandbox.forge._routing import ApiError, Ctx, Router, json_response
from slipway.sandbox.forge._state import DeployKey, DeployKeyInUse, Repo, Token

_TAKEN = {"deploy_key.fingerprint_sha256": ["has already been taken"]}
_INVALID = {
    "deploy_key.key": ["is invalid"],
    "deploy_key.fingerprint_sha256": ["cannot be generated"],
}


def deploy_key_json(key: DeployKey) -> dict[str, Any]:
    """GitLab's DeployKeysProject entity: the key (by its own id) and this project's can_push."""
    return {
        "id": key.key_id,
        "title": key.title,
        "created_at": iso(key.created_at),
        "expires_at": None,
        "key": key.key.text,
        "fingerprint": key.key.fingerprint_md5,
        "fingerprint_sha256": key.key.fingerprint_sha256,
        "can_push": not key.read_only,
    }


def _managed_project(ctx: Ctx, *, write: bool) -> tuple[Repo, Token]:
    """The project if the caller manages it (403 otherwise; 404 when it cannot see it), with
    the `api` scope for writes."""
    token = auth(ctx)
    if write:
        need_api(token)
    repo = the_project(ctx)
    if not ctx.state.can_write(token.login, repo.owner):
        raise error(403, "403 Forbidden")
    return repo, token


def _the_key(ctx: Ctx, repo: Repo) -> DeployKey:
    ident = ctx.params["key_id"]
    for key in ctx.state.deploy_keys(repo):
        if str(key.key_id) == ident:
            return key
    raise error(404, "404 Deploy Key Not Found")


def add_key_routes(router: Router) -> None:
    @router.route("GET", "/projects/{id}/deploy_keys")
    async def list_keys(ctx: Ctx) -> Response:
        repo, _ = _managed_project(ctx, write=False)
        return json_response([deploy_key_json(k) for k in ctx.state.deploy_keys(repo)])

    @router.route("GET", "/projects/{id}/deploy_keys/{key_id}")
    async def get_key(ctx: Ctx) -> Response:
        repo, _ = _managed_project(ctx, write=False)
        return json_response(deploy_key_json(_the_key(ctx, repo)))

    @router.route("POST", "/projects/{id}/deploy_keys")
    async def add_key(ctx: Ctx) -> Response:
        repo, token = _managed_project(ctx, write=True)
        body = await ctx.json()
        missing = [name for name in ("key", "title") if not isinstance(body.get(name), str)]
        if missing:
            raise ApiError(400, {"error": ", ".join(f"{name} is missing" for name in missing)})
        try:
            public = parse_public_key(body["key"])
        except InvalidKey:
            raise ApiError(400, {"message": _INVALID}) from None

        def accessible(holders: list[DeployKey]) -> bool:
            repos = [ctx.state.repo_by_id(k.repo_id) for k in holders]
            return all(r is not None and ctx.state.can_write(token.login, r.owner) for r in repos)

        try:
            key = ctx.state.add_deploy_key(
                repo,
                public,
                title=body["title"],
                read_only=not body.get("can_push", False),
                added_by=token.login,
                may_share=accessible,
            )
        except DeployKeyInUse as taken:
            if taken.here is None:
                raise ApiError(400, {"message": _TAKEN}) from None
            key = taken.here
        return json_response(deploy_key_json(key), 201)

    @router.route("DELETE", "/projects/{id}/deploy_keys/{key_id}")
    async def delete_key(ctx: Ctx) -> Response:
        repo, _ = _managed_project(ctx, write=True)
        ctx.state.remove_deploy_key(_the_key(ctx, repo))
        return Response(status_code=204)
