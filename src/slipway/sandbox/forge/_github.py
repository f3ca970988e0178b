"""The GitHub REST subset Slipway uses, shaped like api.github.com, served at the root and under
GHE's /api/v3: accounts and repositories here, the Git Data API in `_github_git`."""

from __future__ import annotations

import time

from starlette.responses import Response

from slipway.sandbox.forge import _gitstore as git
from slipway.sandbox.forge._common import (
    commit_files,
    commit_initial_readme,
    decode_base64,
    writable,
)
from slipway.sandbox.forge._github_accounts import add_account_routes
from slipway.sandbox.forge._github_git import add_git_routes
from slipway.sandbox.forge._github_keys import add_key_routes
from slipway.sandbox.forge._github_shapes import (
    DOCS,
    NOT_FOUND,
    GitHubAuth,
    commit_json,
    delete_scoped,
    error,
    error_body,
    repo_json,
    the_repo,
)
from slipway.sandbox.forge._routing import ApiError, Ctx, Router, json_response


def create_github_router() -> Router:
    router = Router(error_body)
    auth = GitHubAuth()
    add_account_routes(router, auth)
    add_repo_routes(router, auth)
    add_git_routes(router, auth)
    add_key_routes(router, auth)
    return router


def add_repo_routes(router: Router, auth: GitHubAuth) -> None:
    # --- repositories -----------------------------------------------------------------
    async def create_repo(ctx: Ctx, owner: str) -> Response:
        body = await ctx.json()
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(
                422,
                {
                    "message": "Repository creation failed.",
                    "errors": [
                        {"resource": "Repository", "code": "missing_field", "field": "name"}
                    ],
                    "documentation_url": DOCS,
                    "status": "422",
                },
            )
        private = bool(body.get("private", False))
        token = auth(ctx)
        assert token is not None
        accepted = ("repo",) if private else ("repo", "public_repo")
        auth.need_scope(ctx, token, *accepted)
        try:
            repo = ctx.state.create_repo(
                owner, name, description=str(body.get("description") or ""), private=private
            )
        except ValueError as exc:
            raise ApiError(
                422,
                {
                    "message": "Repository creation failed.",
                    "errors": [
                        {
                            "resource": "Repository",
                            "code": "custom",
                            "field": "name",
                            "message": str(exc),
                        }
                    ],
                    "documentation_url": DOCS,
                    "status": "422",
                },
            ) from None
        if body.get("auto_init"):
            commit_initial_readme(
                repo, author=token.login, description=str(body.get("description") or "")
            )
        return json_response(repo_json(ctx, repo), 201)

    @router.route("POST", "/user/repos")
    async def create_user_repo(ctx: Ctx) -> Response:
        token = auth(ctx)
        assert token is not None
        if token.kind == "app":
            raise error(403, "Resource not accessible by integration")
        return await create_repo(ctx, token.login)

    @router.route("POST", "/orgs/{org}/repos")
    async def create_org_repo(ctx: Ctx) -> Response:
        token = auth(ctx)
        assert token is not None
        org = ctx.state.account(ctx.params["org"])
        if org is None or not org.is_org:
            raise NOT_FOUND
        if not ctx.state.can_create_repo(token.login, org.login):
            raise error(
                403, "You need admin access to the organization before adding a repository to it."
            )
        return await create_repo(ctx, org.login)

    @router.route("GET", "/repos/{owner}/{repo}")
    async def get_repo(ctx: Ctx) -> Response:
        auth(ctx, required=False)
        return json_response(repo_json(ctx, the_repo(ctx)))

    @router.route("PATCH", "/repos/{owner}/{repo}")
    async def update_repo(ctx: Ctx) -> Response:
        auth(ctx)
        repo = the_repo(ctx)
        writable(ctx, repo, error(403, "Must have admin rights to Repository."))
        body = await ctx.json()
        if "description" in body:
            repo.description = str(body["description"] or "")
        if "private" in body:
            repo.private = bool(body["private"])
        repo.updated_at = time.time()
        return json_response(repo_json(ctx, repo))

    @router.route("DELETE", "/repos/{owner}/{repo}")
    async def delete_repo(ctx: Ctx) -> Response:
        token = auth(ctx)
        assert token is not None
        repo = the_repo(ctx)
        writable(ctx, repo, error(403, "Must have admin rights to Repository."))
        if delete_scoped(token) and "delete_repo" not in token.scopes:
            ctx.extra_headers["x-accepted-oauth-scopes"] = "delete_repo"
            raise error(403, "Must have admin rights to Repository.")
        ctx.state.delete_repo(repo)
        return Response(status_code=204)

    @router.route("GET", "/repos/{owner}/{repo}/topics")
    async def get_topics(ctx: Ctx) -> Response:
        auth(ctx, required=False)
        return json_response({"names": list(the_repo(ctx).topics)})

    @router.route("PUT", "/repos/{owner}/{repo}/topics")
    async def put_topics(ctx: Ctx) -> Response:
        auth(ctx)
        repo = the_repo(ctx)
        writable(ctx, repo, error(403, "Must have admin rights to Repository."))
        names = (await ctx.json()).get("names")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise error(422, "Invalid request.\n\nFor 'properties/names', is not an array.")
        repo.topics = [n.lower() for n in names]
        return json_response({"names": repo.topics})

    @router.route("PUT", "/repos/{owner}/{repo}/contents/{path:path}")
    async def put_contents(ctx: Ctx) -> Response:
        token = auth(ctx)
        assert token is not None
        repo = the_repo(ctx)
        writable(ctx, repo, error(403, "Must have admin rights to Repository."))
        body = await ctx.json()
        if not isinstance(body.get("message"), str) or not isinstance(body.get("content"), str):
            raise error(422, 'Invalid request.\n\n"message", "content" weren\'t supplied.')
        data = decode_base64(body["content"], error=error(422, "content is not valid Base64"))
        branch = str(body.get("branch") or repo.default_branch)
        head = git.get_ref(repo.path, f"refs/heads/{branch}")
        path = ctx.params["path"]
        if head is not None:
            info = git.read_commit(repo.path, head)
            existing = git.flatten_tree(repo.path, info.tree) if info else {}
            if path in existing and body.get("sha") != existing[path][1]:
                raise error(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
        sha = commit_files(
            repo,
            branch=branch,
            changes={path: data},
            message=body["message"],
            author=token.login,
            base=head,
        )
        info = git.read_commit(repo.path, sha)
        assert info is not None
        blob = git.flatten_tree(repo.path, info.tree)[path][1]
        api = f"{ctx.api_root}/repos/{repo.full_name}"
        content = {
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": blob,
            "size": len(data),
            "type": "file",
            "url": f"{api}/contents/{path}?ref={branch}",
            "git_url": f"{api}/git/blobs/{blob}",
            "html_url": f"{ctx.web_root}/{repo.full_name}/blob/{branch}/{path}",
            "download_url": None,
        }
        status = 201 if head is None else 200
        return json_response({"content": content, "commit": commit_json(ctx, repo, info)}, status)

    # --- git data ---------------------------------------------------------------------
