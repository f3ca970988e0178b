"""The GitLab /api/v4 subset Slipway uses: user, token scopes, namespaces, projects by id or
URL-encoded path, and "create a commit with multiple files and actions"; plus what
python-gitlab reads back: commit lists, repository files (JSON and raw), offset pagination."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from starlette.responses import Response

from slipway.sandbox.forge import _gitstore as git
from slipway.sandbox.forge._common import commit_files, commit_initial_readme, decode_base64, iso
from slipway.sandbox.forge._routing import ApiError, Ctx, Router, json_response
from slipway.sandbox.forge._state import Account, Repo, Token

_WRITE_SCOPES = ("api",)
_T = TypeVar("_T")


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": f"{status} {message or 'Not Found'}"}


def _message(status: int, message: str) -> ApiError:
    return ApiError(status, {"message": message})


def _number(ctx: Ctx, name: str, default: int) -> int:
    raw = ctx.query(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, {"error": f"{name} is invalid"}) from None


def _paginate(
    ctx: Ctx, items: Sequence[_T], *, totals: bool = True
) -> tuple[list[_T], dict[str, str]]:
    """One page of `items` and GitLab's offset-pagination headers: `x-page`, `x-next-page`...
    and a `Link` header (python-gitlab follows its `rel="next"`). The Commits API leaves out
    `x-total`, `x-total-pages` and `rel="last"` (`totals=False`), as GitLab does."""
    page = max(_number(ctx, "page", 1), 1)
    per_page = min(max(_number(ctx, "per_page", 20), 1), 100)
    last = max((len(items) + per_page - 1) // per_page, 1)
    chunk = list(items[(page - 1) * per_page : page * per_page])
    following = page + 1 if page * per_page < len(items) else None
    previous = page - 1 if page > 1 else None
    headers = {
        "x-page": str(page),
        "x-per-page": str(per_page),
        "x-prev-page": str(previous or ""),
        "x-next-page": str(following or ""),
    }
    raw = ctx.request.scope.get("raw_path") or ctx.request.url.path.encode()
    path = raw.decode("latin-1").split("?", 1)[0]
    kept = [
        (k, v) for k, v in ctx.request.query_params.multi_items() if k not in ("page", "per_page")
    ]

    def link(number: int) -> str:
        query = urlencode([*kept, ("page", str(number)), ("per_page", str(per_page))])
        return f"{ctx.web_root}{path}?{query}"

    rels = [(previous, "prev"), (following, "next"), (1, "first")]
    if totals:
        headers |= {"x-total": str(len(items)), "x-total-pages": str(last)}
        rels.append((last, "last"))
    headers["link"] = ", ".join(f'<{link(n)}>; rel="{rel}"' for n, rel in rels if n)
    return chunk, headers


def _resolve(repo: Repo, ref: str) -> git.CommitInfo | None:
    """The commit a branch name or commit id points at."""
    return git.read_commit(repo.path, git.get_ref(repo.path, f"refs/heads/{ref}") or ref)


def _history(repo: Repo, head: git.CommitInfo) -> list[git.CommitInfo]:
    """Every commit reachable from `head`, newest first (`git log` order)."""
    seen: dict[str, git.CommitInfo] = {}
    pending = [head]
    while pending:
        info = pending.pop()
        if info.sha in seen:
            continue
        seen[info.sha] = info
        pending += [p for sha in info.parents if (p := git.read_commit(repo.path, sha))]
    return sorted(seen.values(), key=lambda c: c.time, reverse=True)


def _last_change(repo: Repo, head: git.CommitInfo, path: str) -> str:
    """The newest commit that changed `path`, as GitLab's `last_commit_id`."""
    for info in _history(repo, head):
        blob = git.flatten_tree(repo.path, info.tree).get(path)
        parents = [git.read_commit(repo.path, sha) for sha in info.parents]
        before = [git.flatten_tree(repo.path, p.tree).get(path) for p in parents if p]
        if not before or any(b != blob for b in before):
            return info.sha
    return head.sha


def create_gitlab_router() -> Router:
    router = Router(error_body)

    def auth(ctx: Ctx) -> Token:
        if ctx.token is None:
            raise _message(401, "401 Unauthorized")
        return ctx.token

    def need_api(ctx: Ctx, token: Token) -> None:
        if not set(_WRITE_SCOPES) & set(token.scopes):
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
            "ssh_url_to_repo": f"git@{host}:{repo.full_name}.git",
            "http_url_to_repo": f"{ctx.web_root}/{repo.full_name}.git",
            "web_url": f"{ctx.web_root}/{repo.full_name}",
            "visibility": "private" if repo.private else "public",
            "empty_repo": empty,
            "archived": False,
            "namespace": namespace_json(ctx, owner),
        }

    def the_project(ctx: Ctx) -> Repo:
        ident = ctx.params["id"]
        if ident.isdigit():
            repo = ctx.state.repo_by_id(int(ident))
        else:
            owner, _, name = ident.rpartition("/")
            repo = ctx.state.repo(owner, name) if owner else None
        login = ctx.token.login if ctx.token else None
        if repo is None or not ctx.state.can_read(login, repo):
            raise _message(404, "404 Project Not Found")
        return repo

    def writable_project(ctx: Ctx) -> tuple[Repo, Token]:
        token = auth(ctx)
        need_api(ctx, token)
        repo = the_project(ctx)
        if not ctx.state.can_write(token.login, repo.owner):
            raise _message(403, "403 Forbidden")
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

    @router.route("GET", "/user")
    async def get_user(ctx: Ctx) -> Response:
        token = auth(ctx)
        account = ctx.state.account(token.login)
        assert account is not None
        return json_response(
            {
                "id": account.id,
                "username": account.login,
                "name": account.login,
                "state": "active",
                "locked": False,
                "avatar_url": None,
                "web_url": f"{ctx.web_root}/{account.login}",
                "created_at": iso(account.created_at),
                "bot": False,
            }
        )

    @router.route("GET", "/personal_access_tokens/self")
    async def token_self(ctx: Ctx) -> Response:
        token = auth(ctx)
        if token.kind == "oauth":
            raise _message(401, "401 Unauthorized")
        account = ctx.state.account(token.login)
        assert account is not None
        return json_response(
            {
                "id": abs(hash(token.value)) % 100000,
                "name": "slipway",
                "revoked": False,
                "created_at": iso(account.created_at),
                "scopes": list(token.scopes),
                "user_id": account.id,
                "last_used_at": None,
                "active": True,
                "expires_at": None,
            }
        )

    @router.route("GET", "/namespaces/{id}")
    async def get_namespace(ctx: Ctx) -> Response:
        token = auth(ctx)
        ident = ctx.params["id"]
        account = (
            ctx.state.account_by_id(int(ident)) if ident.isdigit() else ctx.state.account(ident)
        )
        if account is None or not ctx.state.can_write(token.login, account.login):
            raise _message(404, "404 Namespace Not Found")
        return json_response(namespace_json(ctx, account))

    @router.route("GET", "/namespaces/{id}/exists")
    async def namespace_exists(ctx: Ctx) -> Response:
        """Whether a top-level namespace path is taken, visible or not, with free suggestions."""
        auth(ctx)
        path = ctx.params["id"]
        taken = "/" not in path and ctx.state.account(path) is not None
        suggests = [f"{path}{n}" for n in range(1, 4) if ctx.state.account(f"{path}{n}") is None]
        return json_response({"exists": taken, "suggests": suggests[:1] if taken else []})

    @router.route("POST", "/projects")
    async def create_project(ctx: Ctx) -> Response:
        token = auth(ctx)
        need_api(ctx, token)
        body = await ctx.json()
        name = body.get("path") or body.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(
                400, {"error": "name, path are missing, at least one parameter must be provided"}
            )
        owner = ctx.state.account(token.login)
        if body.get("namespace_id") is not None:
            owner = ctx.state.account_by_id(int(body["namespace_id"]))
            if owner is None or not ctx.state.can_write(token.login, owner.login):
                # Projects::CreateService: a namespace the user may not create in "is not valid".
                raise ApiError(400, {"message": {"namespace": ["is not valid"]}})
        assert owner is not None
        try:
            repo = ctx.state.create_repo(
                owner.login,
                name,
                description=str(body.get("description") or ""),
                private=body.get("visibility", "private") != "public",
                default_branch=str(body.get("default_branch") or "main"),
            )
        except ValueError:
            raise ApiError(
                400,
                {
                    "message": {
                        "project_namespace.name": ["has already been taken"],
                        "name": ["has already been taken"],
                        "path": ["has already been taken"],
                    }
                },
            ) from None
        repo.topics = [str(t) for t in body.get("topics") or []]
        if body.get("initialize_with_readme"):
            commit_initial_readme(repo, author=token.login)
        return json_response(project_json(ctx, repo), 201)

    @router.route("GET", "/projects/{id}")
    async def get_project(ctx: Ctx) -> Response:
        return json_response(project_json(ctx, the_project(ctx)))

    @router.route("PUT", "/projects/{id}")
    async def edit_project(ctx: Ctx) -> Response:
        repo, _ = writable_project(ctx)
        body = await ctx.json()
        if "description" in body:
            repo.description = str(body["description"] or "")
        if "topics" in body:
            repo.topics = [str(t) for t in body["topics"] or []]
        return json_response(project_json(ctx, repo))

    @router.route("DELETE", "/projects/{id}")
    async def delete_project(ctx: Ctx) -> Response:
        repo, _ = writable_project(ctx)
        ctx.state.delete_repo(repo)
        return json_response({"message": "202 Accepted"}, 202)

    @router.route("GET", "/projects/{id}/repository/commits/{sha}")
    async def get_commit(ctx: Ctx) -> Response:
        repo = the_project(ctx)
        ref = ctx.params["sha"]
        sha = git.get_ref(repo.path, f"refs/heads/{ref}") or ref
        info = git.read_commit(repo.path, sha)
        if info is None:
            raise _message(404, "404 Commit Not Found")
        return json_response(commit_json(ctx, repo, info))

    @router.route("GET", "/projects/{id}/repository/tree")
    async def get_tree(ctx: Ctx) -> Response:
        repo = the_project(ctx)
        ref = ctx.query("ref") or repo.default_branch
        sha = git.get_ref(repo.path, f"refs/heads/{ref}") or ref
        info = git.read_commit(repo.path, sha)
        if info is None:
            raise _message(404, "404 Tree Not Found")
        files = sorted(git.flatten_tree(repo.path, info.tree).items())
        chunk, headers = _paginate(ctx, files)
        items = [
            {"id": sha, "name": p.rsplit("/", 1)[-1], "type": "blob", "path": p, "mode": f"{m:06o}"}
            for p, (m, sha) in chunk
        ]
        return json_response(items, headers=headers)

    @router.route("POST", "/projects/{id}/repository/commits")
    async def create_commit(ctx: Ctx) -> Response:
        repo, token = writable_project(ctx)
        body = await ctx.json()
        branch, actions = body.get("branch"), body.get("actions")
        if not isinstance(branch, str) or not isinstance(body.get("commit_message"), str):
            raise ApiError(400, {"error": "branch, commit_message are missing"})
        if not isinstance(actions, list) or not actions:
            raise ApiError(400, {"error": "actions is missing"})
        head = git.get_ref(repo.path, f"refs/heads/{branch}")
        start = body.get("start_branch") or body.get("start_sha")
        if head is None and start:
            head = git.get_ref(repo.path, f"refs/heads/{start}") or str(start)
        elif head is None and not git.is_empty(repo.path):
            raise _message(400, "You can only create or edit files when you are on a branch")
        existing: git.Entries = {}
        if head is not None:
            info = git.read_commit(repo.path, head)
            existing = git.flatten_tree(repo.path, info.tree) if info else {}
        changes: dict[str, bytes | None] = {}
        for action in actions:
            if not isinstance(action, dict):
                raise ApiError(400, {"error": "actions is invalid"})
            kind, path = action.get("action"), str(action.get("file_path") or "").strip("/")
            content = str(action.get("content") or "")
            if action.get("encoding") == "base64":
                data = decode_base64(content, error=_message(400, "Invalid base64"))
            else:
                data = content.encode()
            if kind == "create":
                if path in existing or path in changes:
                    raise _message(400, "A file with this name already exists")
                changes[path] = data
            elif kind == "update":
                if path not in existing:
                    raise _message(400, "A file with this name doesn't exist")
                changes[path] = data
            elif kind == "delete":
                if path not in existing:
                    raise _message(400, "A file with this name doesn't exist")
                changes[path] = None
            else:
                raise ApiError(400, {"error": "actions[action] does not have a valid value"})
        sha = commit_files(
            repo,
            branch=branch,
            changes=changes,
            message=body["commit_message"],
            author=token.login,
            base=head,
        )
        info = git.read_commit(repo.path, sha)
        assert info is not None
        return json_response(commit_json(ctx, repo, info), 201)

    @router.route("GET", "/projects/{id}/repository/commits")
    async def list_commits(ctx: Ctx) -> Response:
        """Newest first from `ref_name` (else the default branch); an unknown ref lists
        nothing, as GitLab does."""
        repo = the_project(ctx)
        head = _resolve(repo, ctx.query("ref_name") or repo.default_branch)
        commits = _history(repo, head) if head else []
        chunk, headers = _paginate(ctx, commits, totals=False)
        return json_response([commit_json(ctx, repo, c) for c in chunk], headers=headers)

    def the_file(ctx: Ctx, ref: str) -> tuple[Repo, git.CommitInfo, str, tuple[int, str], bytes]:
        repo = the_project(ctx)
        info = _resolve(repo, ref)
        if info is None:
            raise _message(404, "404 Commit Not Found")
        path = ctx.params["file_path"].strip("/")
        found = git.flatten_tree(repo.path, info.tree).get(path)
        data = git.read_blob(repo.path, found[1]) if found else None
        if found is None or data is None:
            raise _message(404, "404 File Not Found")
        return repo, info, path, found, data

    def file_json(ctx: Ctx, ref: str) -> tuple[dict[str, Any], bytes]:
        repo, info, path, (mode, blob), data = the_file(ctx, ref)
        fields: dict[str, Any] = {
            "file_name": path.rsplit("/", 1)[-1],
            "file_path": path,
            "size": len(data),
            "encoding": "base64",
            "content_sha256": hashlib.sha256(data).hexdigest(),
            "ref": ref,
            "blob_id": blob,
            "commit_id": info.sha,
            "last_commit_id": _last_change(repo, info, path),
            "execute_filemode": mode == 0o100755,
        }
        return fields, data

    def file_headers(fields: dict[str, Any]) -> dict[str, str]:
        """GitLab repeats the file's metadata as `X-Gitlab-*` headers (UTF-8 bytes on the wire)."""
        text = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in fields.items()}
        return {
            f"x-gitlab-{k.replace('_', '-')}": v.encode().decode("latin-1") for k, v in text.items()
        }

    @router.route("GET", "/projects/{id}/repository/files/{file_path}")
    async def get_file(ctx: Ctx) -> Response:
        ref = ctx.query("ref")
        if not ref:
            raise ApiError(400, {"error": "ref is missing"})
        fields, data = file_json(ctx, ref)
        body = fields | {"content": base64.b64encode(data).decode()}
        return json_response(body, headers=file_headers(fields))

    @router.route("GET", "/projects/{id}/repository/files/{file_path}/raw")
    async def get_raw_file(ctx: Ctx) -> Response:
        """The bytes as stored; `ref` defaults to the project's HEAD."""
        ref = ctx.query("ref") or the_project(ctx).default_branch
        fields, data = file_json(ctx, ref)
        kind = "text/plain; charset=utf-8" if b"\0" not in data else "application/octet-stream"
        return Response(data, media_type=kind, headers=file_headers(fields))

    return router
