"""The GitHub REST subset Slipway uses, shaped like api.github.com (fields, status codes,
`x-ratelimit-*` and `X-OAuth-Scopes` headers), served at the root and under GHE's /api/v3."""

from __future__ import annotations

import time
from typing import Any

from starlette.responses import Response

from slipway.sandbox.forge import _gitstore as git
from slipway.sandbox.forge._common import commit_files, decode_base64, iso, visible_repo, writable
from slipway.sandbox.forge._routing import ApiError, Ctx, Router, json_response
from slipway.sandbox.forge._state import Account, Repo, Token

DOCS = "https://docs.github.com/rest"
RATE_LIMIT = 5000
_SCOPED_KINDS = ("pat", "oauth")  # token kinds whose scopes GitHub reports and enforces


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"message": message or "Not Found", "documentation_url": DOCS, "status": str(status)}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> ApiError:
    return ApiError(status, error_body(status, message), headers)


NOT_FOUND = _error(404, "Not Found")
EMPTY = _error(409, "Git Repository is empty.")


def create_github_router() -> Router:
    router = Router(error_body)
    used: dict[str, int] = {}
    reset = int(time.time()) + 3600

    def auth(ctx: Ctx, *, required: bool = True) -> Token | None:
        """Authenticate like GitHub: bad or missing credentials are 401 "Bad credentials"."""
        header = ctx.request.headers.get("authorization")
        if ctx.token is None and (required or header):
            raise _error(401, "Bad credentials" if header else "Requires authentication")
        key = ctx.token.value if ctx.token else "anonymous"
        used[key] = used.get(key, 0) + 1
        ctx.extra_headers.update(
            {
                "x-ratelimit-limit": str(RATE_LIMIT),
                "x-ratelimit-remaining": str(max(0, RATE_LIMIT - used[key])),
                "x-ratelimit-reset": str(reset),
                "x-ratelimit-used": str(used[key]),
                "x-ratelimit-resource": "core",
                "x-github-media-type": "github.v3; format=json",
            }
        )
        if ctx.token is not None and ctx.token.kind in _SCOPED_KINDS:
            ctx.extra_headers["x-oauth-scopes"] = ", ".join(ctx.token.scopes)
        return ctx.token

    def need_scope(ctx: Ctx, token: Token, *accepted: str) -> None:
        ctx.extra_headers["x-accepted-oauth-scopes"] = ", ".join(accepted)
        if token.kind in _SCOPED_KINDS and not set(accepted) & set(token.scopes):
            raise _error(403, "Resource not accessible by personal access token")

    def user_json(ctx: Ctx, account: Account, *, private: bool = False) -> dict[str, Any]:
        api, login = ctx.api_root, account.login
        body: dict[str, Any] = {
            "login": login,
            "id": account.id,
            "node_id": f"U_{account.id}",
            "avatar_url": f"{ctx.web_root}/avatars/{login}",
            "gravatar_id": "",
            "url": f"{api}/users/{login}",
            "html_url": f"{ctx.web_root}/{login}",
            "followers_url": f"{api}/users/{login}/followers",
            "following_url": f"{api}/users/{login}/following{{/other_user}}",
            "gists_url": f"{api}/users/{login}/gists{{/gist_id}}",
            "starred_url": f"{api}/users/{login}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/users/{login}/subscriptions",
            "organizations_url": f"{api}/users/{login}/orgs",
            "repos_url": f"{api}/users/{login}/repos",
            "events_url": f"{api}/users/{login}/events{{/privacy}}",
            "received_events_url": f"{api}/users/{login}/received_events",
            "type": "Organization" if account.is_org else "User",
            "site_admin": False,
        }
        if private:
            owned = [r for r in ctx.state.repos() if r.owner.lower() == login.lower()]
            body.update(
                {
                    "name": login,
                    "company": None,
                    "blog": "",
                    "location": None,
                    "email": None,
                    "hireable": None,
                    "bio": None,
                    "public_repos": sum(not r.private for r in owned),
                    "public_gists": 0,
                    "followers": 0,
                    "following": 0,
                    "created_at": iso(account.created_at),
                    "updated_at": iso(account.created_at),
                    "private_gists": 0,
                    "total_private_repos": sum(r.private for r in owned),
                    "owned_private_repos": sum(r.private for r in owned),
                    "disk_usage": 0,
                    "collaborators": 0,
                    "two_factor_authentication": False,
                }
            )
        return body

    def repo_json(ctx: Ctx, repo: Repo) -> dict[str, Any]:
        owner = ctx.state.account(repo.owner)
        assert owner is not None
        api = f"{ctx.api_root}/repos/{repo.full_name}"
        html = f"{ctx.web_root}/{repo.full_name}"
        templated = {
            "archive_url": "/{archive_format}{/ref}",
            "assignees_url": "/assignees{/user}",
            "blobs_url": "/git/blobs{/sha}",
            "branches_url": "/branches{/branch}",
            "collaborators_url": "/collaborators{/collaborator}",
            "comments_url": "/comments{/number}",
            "commits_url": "/commits{/sha}",
            "compare_url": "/compare/{base}...{head}",
            "contents_url": "/contents/{+path}",
            "contributors_url": "/contributors",
            "deployments_url": "/deployments",
            "downloads_url": "/downloads",
            "events_url": "/events",
            "forks_url": "/forks",
            "git_commits_url": "/git/commits{/sha}",
            "git_refs_url": "/git/refs{/sha}",
            "git_tags_url": "/git/tags{/sha}",
            "hooks_url": "/hooks",
            "issue_comment_url": "/issues/comments{/number}",
            "issue_events_url": "/issues/events{/number}",
            "issues_url": "/issues{/number}",
            "keys_url": "/keys{/key_id}",
            "labels_url": "/labels{/name}",
            "languages_url": "/languages",
            "merges_url": "/merges",
            "milestones_url": "/milestones{/number}",
            "notifications_url": "/notifications{?since,all,participating}",
            "pulls_url": "/pulls{/number}",
            "releases_url": "/releases{/id}",
            "stargazers_url": "/stargazers",
            "statuses_url": "/statuses/{sha}",
            "subscribers_url": "/subscribers",
            "subscription_url": "/subscription",
            "tags_url": "/tags",
            "teams_url": "/teams",
            "trees_url": "/git/trees{/sha}",
        }
        host = ctx.web_root.split("://", 1)[-1]
        body: dict[str, Any] = {
            "id": repo.id,
            "node_id": f"R_{repo.id}",
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": user_json(ctx, owner),
            "private": repo.private,
            "visibility": "private" if repo.private else "public",
            "html_url": html,
            "description": repo.description or None,
            "fork": False,
            "url": api,
            **{key: api + suffix for key, suffix in templated.items()},
            "git_url": f"git://{host}/{repo.full_name}.git",
            "ssh_url": f"git@{host}:{repo.full_name}.git",
            "clone_url": f"{html}.git",
            "svn_url": html,
            "mirror_url": None,
            "homepage": None,
            "language": None,
            "forks_count": 0,
            "forks": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "watchers": 0,
            "size": 0,
            "default_branch": repo.default_branch,
            "open_issues_count": 0,
            "open_issues": 0,
            "topics": list(repo.topics),
            "has_issues": True,
            "has_projects": True,
            "has_wiki": True,
            "has_pages": False,
            "has_discussions": False,
            "has_downloads": True,
            "archived": False,
            "disabled": False,
            "pushed_at": iso(repo.updated_at),
            "created_at": iso(repo.created_at),
            "updated_at": iso(repo.updated_at),
            "subscribers_count": 0,
            "network_count": 0,
            "license": None,
            "permissions": {
                "admin": True,
                "maintain": True,
                "push": True,
                "triage": True,
                "pull": True,
            },
        }
        return body

    def the_repo(ctx: Ctx) -> Repo:
        return visible_repo(ctx, ctx.params["owner"], ctx.params["repo"], NOT_FOUND)

    def writable_repo(ctx: Ctx) -> tuple[Repo, Token]:
        repo = the_repo(ctx)
        token = writable(ctx, repo, _error(403, "Must have admin rights to Repository."))
        if git.is_empty(repo.path):
            raise EMPTY
        return repo, token

    def commit_json(ctx: Ctx, repo: Repo, info: git.CommitInfo) -> dict[str, Any]:
        api = f"{ctx.api_root}/repos/{repo.full_name}/git"
        person = {"name": info.author_name, "email": info.author_email, "date": iso(info.time)}
        return {
            "sha": info.sha,
            "node_id": f"C_{info.sha}",
            "url": f"{api}/commits/{info.sha}",
            "html_url": f"{ctx.web_root}/{repo.full_name}/commit/{info.sha}",
            "author": person,
            "committer": person,
            "message": info.message,
            "tree": {"sha": info.tree, "url": f"{api}/trees/{info.tree}"},
            "parents": [
                {
                    "sha": p,
                    "url": f"{api}/commits/{p}",
                    "html_url": f"{ctx.web_root}/{repo.full_name}/commit/{p}",
                }
                for p in info.parents
            ],
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        }

    def ref_json(ctx: Ctx, repo: Repo, ref: str, sha: str) -> dict[str, Any]:
        api = f"{ctx.api_root}/repos/{repo.full_name}/git"
        return {
            "ref": ref,
            "node_id": f"REF_{sha}",
            "url": f"{api}/{ref}",
            "object": {"type": "commit", "sha": sha, "url": f"{api}/commits/{sha}"},
        }

    # --- account ----------------------------------------------------------------------
    @router.route("GET", "/user")
    async def get_user(ctx: Ctx) -> Response:
        token = auth(ctx)
        assert token is not None
        account = ctx.state.account(token.login)
        if account is None or token.kind == "app":
            raise _error(403, "Resource not accessible by integration")
        return json_response(user_json(ctx, account, private=True))

    @router.route("GET", "/orgs/{org}")
    async def get_org(ctx: Ctx) -> Response:
        auth(ctx, required=False)
        org = ctx.state.account(ctx.params["org"])
        if org is None or not org.is_org:
            raise NOT_FOUND
        body = user_json(ctx, org)
        body.update(
            {
                "hooks_url": f"{ctx.api_root}/orgs/{org.login}/hooks",
                "issues_url": f"{ctx.api_root}/orgs/{org.login}/issues",
                "members_url": f"{ctx.api_root}/orgs/{org.login}/members{{/member}}",
                "public_members_url": f"{ctx.api_root}/orgs/{org.login}/public_members{{/member}}",
                "description": None,
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
        need_scope(ctx, token, "repo") if private else need_scope(ctx, token, "repo", "public_repo")
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
            readme = f"# {name}\n\n{body.get('description') or ''}\n".encode()
            commit_files(
                repo,
                branch=repo.default_branch,
                changes={"README.md": readme},
                message="Initial commit",
                author=token.login,
                base=None,
            )
        return json_response(repo_json(ctx, repo), 201)

    @router.route("POST", "/user/repos")
    async def create_user_repo(ctx: Ctx) -> Response:
        token = auth(ctx)
        assert token is not None
        if token.kind == "app":
            raise _error(403, "Resource not accessible by integration")
        return await create_repo(ctx, token.login)

    @router.route("POST", "/orgs/{org}/repos")
    async def create_org_repo(ctx: Ctx) -> Response:
        token = auth(ctx)
        assert token is not None
        org = ctx.state.account(ctx.params["org"])
        if org is None or not org.is_org:
            raise NOT_FOUND
        if not ctx.state.can_write(token.login, org.login):
            raise _error(
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
        writable(ctx, repo, _error(403, "Must have admin rights to Repository."))
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
        writable(ctx, repo, _error(403, "Must have admin rights to Repository."))
        if token.kind in _SCOPED_KINDS and "delete_repo" not in token.scopes:
            ctx.extra_headers["x-accepted-oauth-scopes"] = "delete_repo"
            raise _error(403, "Must have admin rights to Repository.")
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
        writable(ctx, repo, _error(403, "Must have admin rights to Repository."))
        names = (await ctx.json()).get("names")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise _error(422, "Invalid request.\n\nFor 'properties/names', is not an array.")
        repo.topics = [n.lower() for n in names]
        return json_response({"names": repo.topics})

    @router.route("PUT", "/repos/{owner}/{repo}/contents/{path:path}")
    async def put_contents(ctx: Ctx) -> Response:
        token = auth(ctx)
        assert token is not None
        repo = the_repo(ctx)
        writable(ctx, repo, _error(403, "Must have admin rights to Repository."))
        body = await ctx.json()
        if not isinstance(body.get("message"), str) or not isinstance(body.get("content"), str):
            raise _error(422, 'Invalid request.\n\n"message", "content" weren\'t supplied.')
        data = decode_base64(body["content"], error=_error(422, "content is not valid Base64"))
        branch = str(body.get("branch") or repo.default_branch)
        head = git.get_ref(repo.path, f"refs/heads/{branch}")
        path = ctx.params["path"]
        if head is not None:
            info = git.read_commit(repo.path, head)
            existing = git.flatten_tree(repo.path, info.tree) if info else {}
            if path in existing and body.get("sha") != existing[path][1]:
                raise _error(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
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
    @router.route("POST", "/repos/{owner}/{repo}/git/blobs")
    async def create_blob(ctx: Ctx) -> Response:
        auth(ctx)
        repo, _ = writable_repo(ctx)
        body = await ctx.json()
        content = body.get("content")
        if not isinstance(content, str):
            raise _error(422, 'Invalid request.\n\n"content" wasn\'t supplied.')
        encoding = body.get("encoding", "utf-8")
        if encoding == "base64":
            data = decode_base64(content, error=_error(422, "content is not valid Base64"))
        elif encoding in ("utf-8", "utf8"):
            data = content.encode()
        else:
            raise _error(422, f"encoding {encoding} is not supported")
        (sha,) = git.add_blobs(repo.path, [data])
        url = f"{ctx.api_root}/repos/{repo.full_name}/git/blobs/{sha}"
        return json_response({"url": url, "sha": sha}, 201)

    @router.route("GET", "/repos/{owner}/{repo}/git/blobs/{sha}")
    async def get_blob(ctx: Ctx) -> Response:
        import base64

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
            raise _error(422, 'Invalid request.\n\n"tree" wasn\'t supplied.')
        entries: git.Entries = {}
        base = body.get("base_tree")
        if base:
            if git.object_type(repo.path, str(base)) != "tree":
                raise _error(422, "Invalid request.\n\nbase_tree is not a valid tree oid")
            entries = git.flatten_tree(repo.path, str(base))
        inline: dict[str, bytes] = {}
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("path"), str):
                raise _error(422, 'Invalid request.\n\n"path" wasn\'t supplied.')
            path, mode = item["path"].strip("/"), str(item.get("mode", ""))
            if mode not in ("100644", "100755", "040000", "160000", "120000"):
                raise _error(422, 'Invalid request.\n\n"mode" is not a valid tree mode.')
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
                raise _error(422, f"tree.sha {sha} is not a valid blob")
        for path, sha in zip(inline, git.add_blobs(repo.path, list(inline.values())), strict=True):
            entries[path] = (git.FILE_MODE, sha)
        try:
            tree = git.write_tree(repo.path, entries)
        except ValueError:
            raise _error(422, "Invalid request.\n\ntree contains a path inside a file") from None
        return json_response(tree_json(ctx, repo, tree, recursive=False), 201)

    def tree_json(ctx: Ctx, repo: Repo, tree: str, *, recursive: bool) -> dict[str, Any]:
        api = f"{ctx.api_root}/repos/{repo.full_name}/git"
        files = git.flatten_tree(repo.path, tree)
        if not recursive:
            files = {p: v for p, v in files.items() if "/" not in p}
        return {
            "sha": tree,
            "url": f"{api}/trees/{tree}",
            "truncated": False,
            "tree": [
                {
                    "path": path,
                    "mode": f"{mode:06o}",
                    "type": "blob",
                    "sha": sha,
                    "url": f"{api}/blobs/{sha}",
                }
                for path, (mode, sha) in sorted(files.items())
            ],
        }

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
            raise _error(422, 'Invalid request.\n\n"message", "tree" weren\'t supplied.')
        if git.object_type(repo.path, tree) != "tree":
            raise _error(422, "Tree SHA does not exist")
        if not isinstance(parents, list) or any(
            git.object_type(repo.path, str(p)) != "commit" for p in parents
        ):
            raise _error(422, "Parent SHA does not exist or is not a commit object")
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
        writable(ctx, repo, _error(403, "Must have admin rights to Repository."))
        body = await ctx.json()
        ref, sha = body.get("ref"), body.get("sha")
        if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
            raise _error(422, "Reference name must start with 'refs/' and have two slashes.")
        if not isinstance(sha, str) or git.object_type(repo.path, sha) != "commit":
            raise _error(422, "Object does not exist")
        if git.get_ref(repo.path, ref) is not None:
            raise _error(422, "Reference already exists")
        git.set_ref(repo.path, ref, sha)
        return json_response(ref_json(ctx, repo, ref, sha), 201)

    @router.route("PATCH", "/repos/{owner}/{repo}/git/refs/{ref:path}")
    async def update_ref(ctx: Ctx) -> Response:
        auth(ctx)
        repo = the_repo(ctx)
        writable(ctx, repo, _error(403, "Must have admin rights to Repository."))
        body = await ctx.json()
        ref, sha = f"refs/{ctx.params['ref']}", body.get("sha")
        current = git.get_ref(repo.path, ref)
        if current is None:
            raise _error(422, "Reference does not exist")
        if not isinstance(sha, str) or git.object_type(repo.path, sha) != "commit":
            raise _error(422, "Object does not exist")
        if not body.get("force") and not _descends(repo, sha, current):
            raise _error(422, "Update is not a fast forward")
        git.set_ref(repo.path, ref, sha)
        repo.updated_at = time.time()
        return json_response(ref_json(ctx, repo, ref, sha))

    @router.route("DELETE", "/repos/{owner}/{repo}/git/refs/{ref:path}")
    async def delete_ref(ctx: Ctx) -> Response:
        auth(ctx)
        repo = the_repo(ctx)
        writable(ctx, repo, _error(403, "Must have admin rights to Repository."))
        if not git.delete_ref(repo.path, f"refs/{ctx.params['ref']}"):
            raise _error(422, "Reference does not exist")
        return Response(status_code=204)

    return router


def _descends(repo: Repo, sha: str, ancestor: str) -> bool:
    """Whether `ancestor` is reachable from `sha` (a fast-forward)."""
    seen: set[str] = set()
    todo = [sha]
    while todo:
        current = todo.pop()
        if current == ancestor:
            return True
        if current in seen:
            continue
        seen.add(current)
        info = git.read_commit(repo.path, current)
        todo.extend(info.parents if info else ())
    return False
