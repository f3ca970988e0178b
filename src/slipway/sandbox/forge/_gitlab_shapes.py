"""GitLab's error shapes, token checks, JSON for namespaces, projects and commits, and project
lookup by id or URL-encoded path: what the account and repository routes share."""

from __future__ import annotations

from typing import Any

from slipway.sandbox.forge import _gitstore as git
from slipway.sandbox.forge._common import iso
from slipway.sandbox.forge._routing import ApiError, Ctx
from slipway.sandbox.forge._state import Account, Repo, Token

WRITE_SCOPES = ("api",)


def error_body(status: int, message: str) -> dict[str, Any]:
    """The `{"error": ...}` shape GitLab uses for unknown routes and bad parameters."""
    return {"error": f"{status} {message or 'Not Found'}"}


def error(status: int, message: str) -> ApiError:
    """The `{"message": ...}` shape of GitLab's own refusals ("404 Project Not Found")."""
    return ApiError(status, {"message": message})


def auth(ctx: Ctx) -> Token:
    if ctx.token is None:
        raise error(401, "401 Unauthorized")
    return ctx.token


def need_api(token: Token) -> None:
    """GitLab answers a write with a token lacking `api` as an OAuth insufficient_scope."""
    if not set(WRITE_SCOPES) & set(token.scopes):
        raise ApiError(
            403,
            {
                "error": "insufficient_scope",
                "error_description": "The request requires higher privileges than provided "
                "by the access token.",
                "scope": "api",
            },
        )


def namespace_json(ctx: Ctx, account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.login,
        "path": account.login,
        "kind": "group" if account.is_org else "user",
        "full_path": account.login,
        "parent_id": None,
        "avatar_url": None,
        "web_url": f"{ctx.web_root}/{account.login}",
    }


def project_json(ctx: Ctx, repo: Repo) -> dict[str, Any]:
    owner = ctx.state.account(repo.owner)
    assert owner is not None
    empty = git.is_empty(repo.path)
    host = ctx.web_root.split("://", 1)[-1]
    return {
        "id": repo.id,
        "description": repo.description or None,
        "name": repo.name,
        "name_with_namespace": f"{owner.login} / {repo.name}",
        "path": repo.name,
        "path_with_namespace": repo.full_name,
        "created_at": iso(repo.created_at),
        "last_activity_at": iso(repo.updated_at),
        "default_branch": None if empty else repo.default_branch,
        "topics": list(repo.topics),
        "tag_list": list(repo.topics),
        "ssh_url_to_repo": ctx.state.ssh_url(repo) or f"git@{host}:{repo.full_name}.git",
        "http_url_to_repo": f"{ctx.web_root}/{repo.full_name}.git",
        "web_url": f"{ctx.web_root}/{repo.full_name}",
        "visibility": "private" if repo.private else "public",
        "empty_repo": empty,
        "archived": False,
        "namespace": namespace_json(ctx, owner),
    }


def the_project(ctx: Ctx) -> Repo:
    """The project named by the `id` path parameter (a number or `group%2Fname`); 404 when
    it does not exist or the caller may not see it, like GitLab."""
    ident = ctx.params["id"]
    if ident.isdigit():
        repo = ctx.state.repo_by_id(int(ident))
    else:
        owner, _, name = ident.rpartition("/")
        repo = ctx.state.repo(owner, name) if owner else None
    login = ctx.token.login if ctx.token else None
    if repo is None or not ctx.state.can_read(login, repo):
        raise error(404, "404 Project Not Found")
    return repo


def writable_project(ctx: Ctx) -> tuple[Repo, Token]:
    token = auth(ctx)
    need_api(token)
    repo = the_project(ctx)
    if not ctx.state.can_write(token.login, repo.owner):
        raise error(403, "403 Forbidden")
    return repo, token


def commit_json(ctx: Ctx, repo: Repo, info: git.CommitInfo) -> dict[str, Any]:
    title = info.message.split("\n", 1)[0]
    when = iso(info.time)
    return {
        "id": info.sha,
        "short_id": info.sha[:8],
        "created_at": when,
        "parent_ids": list(info.parents),
        "title": title,
        "message": info.message,
        "author_name": info.author_name,
        "author_email": info.author_email,
        "authored_date": when,
        "committer_name": info.author_name,
        "committer_email": info.author_email,
        "committed_date": when,
        "trailers": {},
        "web_url": f"{ctx.web_root}/{repo.full_name}/-/commit/{info.sha}",
    }
