"""GitHub's JSON shapes (as githubkit's models expect them) and GitHub-style authentication:
401 "Bad credentials", `x-ratelimit-*` and `X-OAuth-Scopes` headers, scope checks."""

from __future__ import annotations

import time
from typing import Any

from slipway.sandbox.forge import _gitstore as git
from slipway.sandbox.forge._common import iso, visible_repo, writable
from slipway.sandbox.forge._routing import ApiError, Ctx
from slipway.sandbox.forge._state import Account, Repo, Token

DOCS = "https://docs.github.com/rest"
RATE_LIMIT = 5000
_SCOPED_KINDS = ("pat", "oauth")  # token kinds whose scopes GitHub reports and enforces


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"message": message or "Not Found", "documentation_url": DOCS, "status": str(status)}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> ApiError:
    return ApiError(status, error_body(status, message), headers)


NOT_FOUND = error(404, "Not Found")
EMPTY = error(409, "Git Repository is empty.")


class GitHubAuth:
    """Authenticates like GitHub and counts each token's requests for the rate-limit headers."""

    def __init__(self) -> None:
        self.used: dict[str, int] = {}
        self.reset = int(time.time()) + 3600

    def __call__(self, ctx: Ctx, *, required: bool = True) -> Token | None:
        """Authenticate like GitHub: bad or missing credentials are 401 "Bad credentials"."""
        header = ctx.request.headers.get("authorization")
        if ctx.token is None and (required or header):
            raise error(401, "Bad credentials" if header else "Requires authentication")
        key = ctx.token.value if ctx.token else "anonymous"
        self.used[key] = self.used.get(key, 0) + 1
        ctx.extra_headers.update(
            {
                "x-ratelimit-limit": str(RATE_LIMIT),
                "x-ratelimit-remaining": str(max(0, RATE_LIMIT - self.used[key])),
                "x-ratelimit-reset": str(self.reset),
                "x-ratelimit-used": str(self.used[key]),
                "x-ratelimit-resource": "core",
                "x-github-media-type": "github.v3; format=json",
            }
        )
        if ctx.token is not None and ctx.token.kind in _SCOPED_KINDS:
            ctx.extra_headers["x-oauth-scopes"] = ", ".join(ctx.token.scopes)
        return ctx.token

    def need_scope(self, ctx: Ctx, token: Token, *accepted: str) -> None:
        ctx.extra_headers["x-accepted-oauth-scopes"] = ", ".join(accepted)
        if token.kind in _SCOPED_KINDS and not set(accepted) & set(token.scopes):
            raise error(403, "Resource not accessible by personal access token")


def delete_scoped(token: Token) -> bool:
    """Whether GitHub checks `delete_repo` for this token (classic and OAuth tokens)."""
    return token.kind in _SCOPED_KINDS


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
        "ssh_url": ctx.state.ssh_url(repo) or f"git@{host}:{repo.full_name}.git",
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
    token = writable(ctx, repo, error(403, "Must have admin rights to Repository."))
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


def tree_json(ctx: Ctx, repo: Repo, tree: str, *, recursive: bool) -> dict[str, Any]:
    api = f"{ctx.api_root}/repos/{repo.full_name}/git"
    entries = git.list_tree(repo.path, tree, recursive=recursive)
    return {
        "sha": tree,
        "url": f"{api}/trees/{tree}",
        "truncated": False,
        "tree": [
            {
                "path": path,
                "mode": f"{mode:06o}",
                "type": kind,
                "sha": sha,
                "url": f"{api}/{kind}s/{sha}",
            }
            for path, (mode, sha) in entries.items()
            for kind in ["tree" if mode == git.TREE_MODE else "blob"]
        ],
    }


def descends(repo: Repo, sha: str, ancestor: str) -> bool:
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
