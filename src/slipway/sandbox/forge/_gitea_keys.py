"""Gitea's repository deploy keys (`/repos/{owner}/{repo}/keys`): repository admins only, with
`write:repository` for writes. As in Gitea, one key may be a deploy key of several
repositories (each attachment has its own `id`, the key its `key_id`), titles are unique per
repository, and deleting an id that does not exist is a quiet 204."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from slipway.sandbox.forge._common import iso, visible_repo
from slipway.sandbox.forge._gitea_shapes import NOT_FOUND, auth, error, error_body
from slipway.sandbox.forge._keys import InvalidKey, parse_public_key
from slipway.sandbox.forge._routing import ApiError, Ctx, Router, json_response
from slipway.sandbox.forge._state import DeployKey, DeployKeyInUse, Repo, Token

RepoJson = Callable[[Ctx, Repo], dict[str, Any]]
_NOT_ADMIN = "user should be an owner or a collaborator with admin write of a repository"


def add_key_routes(router: Router, repo_json: RepoJson) -> None:
    def admin_repo(ctx: Ctx, *, write: bool) -> tuple[Repo, Token]:
        token = auth(ctx, write=write)
        repo = visible_repo(ctx, ctx.params["owner"], ctx.params["repo"], NOT_FOUND)
        if not ctx.state.can_write(token.login, repo.owner):
            raise error(403, _NOT_ADMIN)
        return repo, token

    def key_json(ctx: Ctx, repo: Repo, key: DeployKey, token: Token) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": key.id,
            "key_id": key.key_id,
            "key": key.key.text,
            "url": f"{ctx.api_root}/repos/{repo.full_name}/keys/{key.id}",
            "title": key.title,
            "fingerprint": key.key.fingerprint_sha256,
            "created_at": iso(key.created_at),
            "read_only": key.read_only,
        }
        if token.login.lower() == repo.owner.lower():  # Gitea adds it for the owner only
            body["repository"] = repo_json(ctx, repo)
        return body

    def required(field: str) -> ApiError:
        return ApiError(422, {"message": f"[{field}]: Required", "url": error_body(0, "")["url"]})

    @router.route("GET", "/repos/{owner}/{repo}/keys")
    async def list_keys(ctx: Ctx) -> Response:
        repo, token = admin_repo(ctx, write=False)
        return json_response([key_json(ctx, repo, k, token) for k in ctx.state.deploy_keys(repo)])

    @router.route("GET", "/repos/{owner}/{repo}/keys/{id}")
    async def get_key(ctx: Ctx) -> Response:
        repo, token = admin_repo(ctx, write=False)
        ident = ctx.params["id"]
        key = ctx.state.deploy_key(int(ident)) if ident.isdigit() else None
        if key is None or key.repo_id != repo.id:
            raise NOT_FOUND
        return json_response(key_json(ctx, repo, key, token))

    @router.route("POST", "/repos/{owner}/{repo}/keys")
    async def add_key(ctx: Ctx) -> Response:
        repo, token = admin_repo(ctx, write=True)
        body = await ctx.json()
        for field in ("title", "key"):
            if not isinstance(body.get(field), str) or not body[field]:
                raise required(field.capitalize())
        try:
            public = parse_public_key(body["key"])
        except InvalidKey as exc:
            raise error(422, f"Invalid key content: {exc}") from None
        present = ctx.state.deploy_keys(repo)
        if any(k.key.blob == public.blob for k in present):  # Gitea checks the key first
            raise error(422, "This key has already been added to this repository")
        if any(k.title == body["title"] for k in present):
            raise error(422, "A key with the same name already exists")
        try:
            key = ctx.state.add_deploy_key(
                repo,
                public,
                title=body["title"],
                read_only=bool(body.get("read_only", False)),
                added_by=token.login,
                may_share=lambda _: True,
            )
        except DeployKeyInUse:
            raise error(422, "This key has already been added to this repository") from None
        return json_response(key_json(ctx, repo, key, token), 201)

    @router.route("DELETE", "/repos/{owner}/{repo}/keys/{id}")
    async def delete_key(ctx: Ctx) -> Response:
        """Gitea deletes the attachment by id wherever it is, if the caller administers that
        repository (403 otherwise), and answers 204 for an id that does not exist."""
        _, token = admin_repo(ctx, write=True)
        ident = ctx.params["id"]
        key = ctx.state.deploy_key(int(ident)) if ident.isdigit() else None
        if key is not None:
            holder = ctx.state.repo_by_id(key.repo_id)
            if holder is None or not ctx.state.can_write(token.login, holder.owner):
                raise error(403, "You do not have access to this key")
            ctx.state.remove_deploy_key(key)
        return Response(status_code=204)
