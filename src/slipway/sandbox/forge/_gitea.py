"""The Gitea /api/v1 subset Slipway uses: repositories, topics, branches, git commits and
trees, and `POST /repos/{owner}/{repo}/contents` (ChangeFilesOptions); users and orgs are in
`_gitea_accounts`."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from slipway.sandbox.forge import _gitstore as git
from slipway.sandbox.forge._common import (
    commit_files,
    commit_initial_readme,
    decode_base64,
    iso,
    visible_repo,
    writable,
)
from slipway.sandbox.forge._gitea_accounts import add_account_routes
from slipway.sandbox.forge._gitea_keys import add_key_routes
from slipway.sandbox.forge._gitea_shapes import NOT_FOUND, auth, error, error_body, user_json
from slipway.sandbox.forge._routing import ApiError, Ctx, Router, json_response
from slipway.sandbox.forge._state import Repo, Token


def create_gitea_router() -> Router:
    router = Router(error_body)
    add_account_routes(router)

    def repo_json(ctx: Ctx, repo: Repo) -> dict[str, Any]:
        owner = ctx.state.account(repo.owner)
        assert owner is not None
        host = ctx.web_root.split("://", 1)[-1]
        return {
            "id": repo.id,
            "owner": user_json(ctx, owner),
            "name": repo.name,
            "full_name": repo.full_name,
            "description": repo.description,
            "empty": git.is_empty(repo.path),
            "private": repo.private,
            "fork": False,
            "template": False,
            "mirror": False,
            "size": 0,
            "html_url": f"{ctx.web_root}/{repo.full_name}",
            "url": f"{ctx.api_root}/repos/{repo.full_name}",
            "ssh_url": ctx.state.ssh_url(repo) or f"git@{host}:{repo.full_name}.git",
            "clone_url": f"{ctx.web_root}/{repo.full_name}.git",
            "website": "",
            "default_branch": repo.default_branch,
            "archived": False,
            "created_at": iso(repo.created_at),
            "updated_at": iso(repo.updated_at),
            "topics": list(repo.topics),
            "permissions": {"admin": True, "push": True, "pull": True},
        }

    def the_repo(ctx: Ctx) -> Repo:
        return visible_repo(ctx, ctx.params["owner"], ctx.params["repo"], NOT_FOUND)

    def writable_repo(ctx: Ctx) -> tuple[Repo, Token]:
        token = auth(ctx, write=True)
        repo = the_repo(ctx)
        writable(ctx, repo, error(403, "user should be the owner or a collaborator"))
        return repo, token

    def commit_json(ctx: Ctx, repo: Repo, info: git.CommitInfo) -> dict[str, Any]:
        api = f"{ctx.api_root}/repos/{repo.full_name}/git"
        person = {"name": info.author_name, "email": info.author_email, "date": iso(info.time)}
        return {
            "url": f"{api}/commits/{info.sha}",
            "sha": info.sha,
            "created": iso(info.time),
            "html_url": f"{ctx.web_root}/{repo.full_name}/commit/{info.sha}",
            "commit": {
                "url": f"{api}/commits/{info.sha}",
                "author": person,
                "committer": person,
                "message": info.message,
                "tree": {
                    "url": f"{api}/trees/{info.tree}",
                    "sha": info.tree,
                    "created": iso(info.time),
                },
            },
            "parents": [
                {"url": f"{api}/commits/{p}", "sha": p, "created": iso(info.time)}
                for p in info.parents
            ],
        }

    async def create_repo(ctx: Ctx, owner: str) -> Response:
        token = auth(ctx, write=True)
        body = await ctx.json()
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(422, {"message": "[Name]: Required", "url": error_body(0, "")["url"]})
        if ctx.state.repo(owner, name) is not None:
            raise error(409, "The repository with the same name already exists.")
        try:
            repo = ctx.state.create_repo(
                owner,
                name,
                description=str(body.get("description") or ""),
                private=bool(body.get("private", False)),
                default_branch=str(body.get("default_branch") or "main"),
            )
        except ValueError:
            raise error(422, "[Name]: invalid repository name") from None
        if body.get("auto_init"):
            commit_initial_readme(repo, author=token.login)
        return json_response(repo_json(ctx, repo), 201)

    @router.route("POST", "/user/repos")
    async def create_user_repo(ctx: Ctx) -> Response:
        return await create_repo(ctx, auth(ctx).login)

    @router.route("POST", "/orgs/{org}/repos")
    async def create_org_repo(ctx: Ctx) -> Response:
        token = auth(ctx)
        org = ctx.state.account(ctx.params["org"])
        if org is None or not org.is_org:
            raise NOT_FOUND
        if not ctx.state.can_create_repo(token.login, org.login):
            raise error(403, "Given user is not allowed to create repository in organization.")
        return await create_repo(ctx, org.login)

    @router.route("GET", "/repos/{owner}/{repo}")
    async def get_repo(ctx: Ctx) -> Response:
        return json_response(repo_json(ctx, the_repo(ctx)))

    @router.route("PATCH", "/repos/{owner}/{repo}")
    async def edit_repo(ctx: Ctx) -> Response:
        repo, _ = writable_repo(ctx)
        body = await ctx.json()
        if "description" in body:
            repo.description = str(body["description"] or "")
        if "private" in body:
            repo.private = bool(body["private"])
        return json_response(repo_json(ctx, repo))

    @router.route("DELETE", "/repos/{owner}/{repo}")
    async def delete_repo(ctx: Ctx) -> Response:
        repo, _ = writable_repo(ctx)
        ctx.state.delete_repo(repo)
        return Response(status_code=204)

    @router.route("GET", "/repos/{owner}/{repo}/topics")
    async def get_topics(ctx: Ctx) -> Response:
        return json_response({"topics": list(the_repo(ctx).topics)})

    @router.route("PUT", "/repos/{owner}/{repo}/topics")
    async def put_topics(ctx: Ctx) -> Response:
        repo, _ = writable_repo(ctx)
        topics = (await ctx.json()).get("topics")
        if not isinstance(topics, list):
            raise ApiError(422, {"message": "invalid topics", "invalidTopics": topics})
        repo.topics = [str(t).lower() for t in topics]
        return Response(status_code=204)

    @router.route("GET", "/repos/{owner}/{repo}/branches/{branch:path}")
    async def get_branch(ctx: Ctx) -> Response:
        repo = the_repo(ctx)
        branch = ctx.params["branch"]
        sha = git.get_ref(repo.path, f"refs/heads/{branch}")
        info = git.read_commit(repo.path, sha) if sha else None
        if info is None:
            raise error(404, f"branch does not exist [name: {branch}]")
        person = {
            "name": info.author_name,
            "email": info.author_email,
            "username": info.author_name,
        }
        return json_response(
            {
                "name": branch,
                "commit": {
                    "id": info.sha,
                    "message": info.message,
                    "url": f"{ctx.web_root}/{repo.full_name}/commit/{info.sha}",
                    "author": person,
                    "committer": person,
                    "timestamp": iso(info.time),
                },
                "protected": False,
                "user_can_push": True,
                "user_can_merge": True,
            }
        )

    @router.route("GET", "/repos/{owner}/{repo}/git/commits/{sha}")
    async def get_commit(ctx: Ctx) -> Response:
        repo = the_repo(ctx)
        info = git.read_commit(repo.path, ctx.params["sha"])
        if info is None:
            raise error(404, f"object does not exist [id: {ctx.params['sha']}, rel_path: ]")
        return json_response(commit_json(ctx, repo, info))

    @router.route("GET", "/repos/{owner}/{repo}/git/trees/{sha}")
    async def get_tree(ctx: Ctx) -> Response:
        repo = the_repo(ctx)
        sha = ctx.params["sha"]
        if git.object_type(repo.path, sha) == "commit":
            info = git.read_commit(repo.path, sha)
            sha = info.tree if info else sha
        if git.object_type(repo.path, sha) != "tree":
            raise error(400, f"sha not found [{sha}]")
        files = list(git.list_tree(repo.path, sha, recursive=ctx.flag("recursive")).items())
        page, per_page = int(ctx.query("page") or 1), int(ctx.query("per_page") or 1000)
        chunk = files[(page - 1) * per_page : page * per_page]
        api = f"{ctx.api_root}/repos/{repo.full_name}/git"
        return json_response(
            {
                "sha": sha,
                "url": f"{api}/trees/{sha}",
                "tree": [
                    {
                        "path": p,
                        "mode": f"{m:06o}",
                        "type": kind,
                        "size": 0,
                        "sha": s,
                        "url": f"{api}/{kind}s/{s}",
                    }
                    for p, (m, s) in chunk
                    for kind in ["tree" if m == git.TREE_MODE else "blob"]
                ],
                "truncated": page * per_page < len(files),
                "page": page,
                "total_count": len(files),
            }
        )

    @router.route("POST", "/repos/{owner}/{repo}/contents")
    async def change_files(ctx: Ctx) -> Response:
        repo, token = writable_repo(ctx)
        body = await ctx.json()
        files, message = body.get("files"), body.get("message") or "Update files"
        if not isinstance(files, list) or not files:
            raise ApiError(422, {"message": "[Files]: Required", "url": error_body(0, "")["url"]})
        branch = str(body.get("branch") or repo.default_branch)
        head = git.get_ref(repo.path, f"refs/heads/{branch}")
        if head is None and not git.is_empty(repo.path):
            raise error(404, f"branch does not exist [name: {branch}]")
        target = str(body.get("new_branch") or branch)
        existing: git.Entries = {}
        if head is not None:
            info = git.read_commit(repo.path, head)
            existing = git.flatten_tree(repo.path, info.tree) if info else {}
        changes: dict[str, bytes | None] = {}
        for item in files:
            if not isinstance(item, dict):
                raise error(422, "[Files]: invalid")
            op, path = item.get("operation"), str(item.get("path") or "").strip("/")
            if op in ("create", "update", "upload"):
                data = decode_base64(
                    str(item.get("content") or ""), error=error(422, "invalid base64")
                )
            if op == "create":
                if path in existing:
                    raise error(422, f"repository file already exists [path: {path}]")
                changes[path] = data
            elif op in ("update", "upload"):
                if op == "update" and path in existing and item.get("sha") != existing[path][1]:
                    raise error(
                        409,
                        f"sha does not match [given: {item.get('sha')}, "
                        f"expected: {existing[path][1]}]",
                    )
                changes[path] = data
            elif op == "delete":
                if path not in existing:
                    raise error(404, f"repository file does not exist [path: {path}]")
                changes[path] = None
            else:
                raise error(422, "[Files.Operation]: must be one of create, update, delete")
        sha = commit_files(
            repo,
            branch=target,
            changes=changes,
            message=str(message),
            author=token.login,
            base=head,
        )
        info = git.read_commit(repo.path, sha)
        assert info is not None
        commit = commit_json(ctx, repo, info)
        response = {
            "files": [{"path": p, "type": "file"} for p, d in changes.items() if d is not None],
            "commit": {
                "url": commit["url"],
                "sha": info.sha,
                "created": commit["created"],
                "html_url": commit["html_url"],
                "author": commit["commit"]["author"],
                "committer": commit["commit"]["committer"],
                "parents": commit["parents"],
                "message": info.message,
                "tree": commit["commit"]["tree"],
            },
            "verification": {
                "verified": False,
                "reason": "gpg.error.not_signed_commit",
                "signature": "",
                "signer": None,
                "payload": "",
            },
        }
        return json_response(response, 201)

    add_key_routes(router, repo_json)
    return router
