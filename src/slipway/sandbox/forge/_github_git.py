"""GitHub's Git Data API in the emulator: blobs, trees, commits and refs, written as real git
objects, with GitHub's 409 "Git Repository is empty." on a repository without commits."""

from __future__ import annotations

import base64
import time

from starlette.responses import Response

from slipway.sandbox.forge import _gitstore as git
from slipway.sandbox.forge._common import decode_base64, writable
from slipway.sandbox.forge._github_shapes import (
    EMPTY,
    NOT_FOUND,
    GitHubAuth,
    commit_json,
    descends,
    error,
    ref_json,
    the_repo,
    tree_json,
    writable_repo,
)
from slipway.sandbox.forge._routing import Ctx, Router, json_response


def add_git_routes(router: Router, auth: GitHubAuth) -> None:
    @router.route("POST", "/repos/{owner}/{repo}/git/blobs")
    async def create_blob(ctx: Ctx) -> Response:
        auth(ctx)
        repo, _ = writable_repo(ctx)
        body = await ctx.json()
        content = body.get("content")
        if not isinstance(content, str):
            raise error(422, 'Invalid request.\n\n"content" wasn\'t supplied.')
        encoding = body.get("encoding", "utf-8")
        if encoding == "base64":
            data = decode_base64(content, error=error(422, "content is not valid Base64"))
        elif encoding in ("utf-8", "utf8"):
            data = content.encode()
        else:
            raise error(422, f"encoding {encoding} is not supported")
        (sha,) = git.add_blobs(repo.path, [data])
        url = f"{ctx.api_root}/repos/{repo.full_name}/git/blobs/{sha}"
        return json_response({"url": url, "sha": sha}, 201)

    @router.route("GET", "/repos/{owner}/{repo}/git/blobs/{sha}")
    async def get_blob(ctx: Ctx) -> Response:
        auth(ctx, required=False)
        repo = the_repo(ctx)
        data = git.read_blob(repo.path, ctx.params["sha"])
        if data is None:
            raise NOT_FOUND
        return json_response(
            {
                "sha": ctx.params["sha"],
                "node_id": f"B_{ctx.params['sha']}",
                "size": len(data),
                "url": f"{ctx.api_root}/repos/{repo.full_name}/git/blobs/{ctx.params['sha']}",
                "content": base64.b64encode(data).decode(),
                "encoding": "base64",
            }
        )

    @router.route("POST", "/repos/{owner}/{repo}/git/trees")
    async def create_tree(ctx: Ctx) -> Response:
        auth(ctx)
        repo, _ = writable_repo(ctx)
        body = await ctx.json()
        items = body.get("tree")
        if not isinstance(items, list):
            raise error(422, 'Invalid request.\n\n"tree" wasn\'t supplied.')
        entries: git.Entries = {}
        base = body.get("base_tree")
        if base:
            if git.object_type(repo.path, str(base)) != "tree":
                raise error(422, "Invalid request.\n\nbase_tree is not a valid tree oid")
            entries = git.flatten_tree(repo.path, str(base))
        inline: dict[str, bytes] = {}
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("path"), str):
                raise error(422, 'Invalid request.\n\n"path" wasn\'t supplied.')
            path, mode = item["path"].strip("/"), str(item.get("mode", ""))
            if mode not in ("100644", "100755", "040000", "160000", "120000"):
                raise error(422, 'Invalid request.\n\n"mode" is not a valid tree mode.')
            if "content" in item and item["content"] is not None:
                inline[path] = str(item["content"]).encode()
                continue
            sha = item.get("sha")
            if sha is None:
                entries.pop(path, None)
                continue
            kind = git.object_type(repo.path, str(sha))
            if kind == "tree":
                for sub, value in git.flatten_tree(repo.path, str(sha)).items():
                    entries[f"{path}/{sub}"] = value
            elif kind == "blob":
                entries[path] = (int(mode, 8), str(sha))
            else:
                raise error(422, f"tree.sha {sha} is not a valid blob")
        for path, sha in zip(inline, git.add_blobs(repo.path, list(inline.values())), strict=True):
            entries[path] = (git.FILE_MODE, sha)
        try:
            tree = git.write_tree(repo.path, entries)
        except ValueError:
            raise error(422, "Invalid request.\n\ntree contains a path inside a file") from None
        return json_response(tree_json(ctx, repo, tree, recursive=False), 201)

    @router.route("GET", "/repos/{owner}/{repo}/git/trees/{sha}")
    async def get_tree(ctx: Ctx) -> Response:
        auth(ctx, required=False)
        repo = the_repo(ctx)
        if git.object_type(repo.path, ctx.params["sha"]) != "tree":
            raise NOT_FOUND
        recursive = ctx.query("recursive") not in (None, "", "0", "false")
        return json_response(tree_json(ctx, repo, ctx.params["sha"], recursive=recursive))

    @router.route("POST", "/repos/{owner}/{repo}/git/commits")
    async def create_commit(ctx: Ctx) -> Response:
        auth(ctx)
        repo, token = writable_repo(ctx)
        body = await ctx.json()
        tree, parents = body.get("tree"), body.get("parents", [])
        if not isinstance(body.get("message"), str) or not isinstance(tree, str):
            raise error(422, 'Invalid request.\n\n"message", "tree" weren\'t supplied.')
        if git.object_type(repo.path, tree) != "tree":
            raise error(422, "Tree SHA does not exist")
        if not isinstance(parents, list) or any(
            git.object_type(repo.path, str(p)) != "commit" for p in parents
        ):
            raise error(422, "Parent SHA does not exist or is not a commit object")
        sha = git.write_commit(
            repo.path,
            tree=tree,
            parents=[str(p) for p in parents],
            message=body["message"],
            author_name=token.login,
            author_email=f"{token.login.lower()}@users.noreply.sandbox",
        )
        info = git.read_commit(repo.path, sha)
        assert info is not None
        return json_response(commit_json(ctx, repo, info), 201)

    @router.route("GET", "/repos/{owner}/{repo}/git/commits/{sha}")
    async def get_commit(ctx: Ctx) -> Response:
        auth(ctx, required=False)
        repo = the_repo(ctx)
        info = git.read_commit(repo.path, ctx.params["sha"])
        if info is None:
            raise NOT_FOUND
        return json_response(commit_json(ctx, repo, info))

    @router.route("GET", "/repos/{owner}/{repo}/git/ref/{ref:path}")
    async def get_ref(ctx: Ctx) -> Response:
        auth(ctx, required=False)
        repo = the_repo(ctx)
        if git.is_empty(repo.path):
            raise EMPTY
        ref = f"refs/{ctx.params['ref']}"
        sha = git.get_ref(repo.path, ref)
        if sha is None:
            raise NOT_FOUND
        return json_response(ref_json(ctx, repo, ref, sha))

    @router.route("POST", "/repos/{owner}/{repo}/git/refs")
    async def create_ref(ctx: Ctx) -> Response:
        auth(ctx)
        repo = the_repo(ctx)
        writable(ctx, repo, error(403, "Must have admin rights to Repository."))
        body = await ctx.json()
        ref, sha = body.get("ref"), body.get("sha")
        if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
            raise error(422, "Reference name must start with 'refs/' and have two slashes.")
        if not isinstance(sha, str) or git.object_type(repo.path, sha) != "commit":
            raise error(422, "Object does not exist")
        if git.get_ref(repo.path, ref) is not None:
            raise error(422, "Reference already exists")
        git.set_ref(repo.path, ref, sha)
        return json_response(ref_json(ctx, repo, ref, sha), 201)

    @router.route("PATCH", "/repos/{owner}/{repo}/git/refs/{ref:path}")
    async def update_ref(ctx: Ctx) -> Response:
        auth(ctx)
        repo = the_repo(ctx)
        writable(ctx, repo, error(403, "Must have admin rights to Repository."))
        body = await ctx.json()
        ref, sha = f"refs/{ctx.params['ref']}", body.get("sha")
        current = git.get_ref(repo.path, ref)
        if current is None:
            raise error(422, "Reference does not exist")
        if not isinstance(sha, str) or git.object_type(repo.path, sha) != "commit":
            raise error(422, "Object does not exist")
        if not body.get("force") and not descends(repo, sha, current):
            raise error(422, "Update is not a fast forward")
        git.set_ref(repo.path, ref, sha)
        repo.updated_at = time.time()
        return json_response(ref_json(ctx, repo, ref, sha))

    @router.route("DELETE", "/repos/{owner}/{repo}/git/refs/{ref:path}")
    async def delete_ref(ctx: Ctx) -> Response:
        auth(ctx)
        repo = the_repo(ctx)
        writable(ctx, repo, error(403, "Must have admin rights to Repository."))
        if not git.delete_ref(repo.path, f"refs/{ctx.params['ref']}"):
            raise error(422, "Reference does not exist")
        return Response(status_code=204)
