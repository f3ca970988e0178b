"""GitLab's repository content routes: commits (list, get, create with actions), the tree, and
files as JSON or raw bytes, with GitLab's offset pagination (`x-page`... headers and `Link`)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from starlette.responses import Response

from slipway.sandbox.forge import _gitstore as git
from slipway.sandbox.forge._common import commit_files, decode_base64
from slipway.sandbox.forge._gitlab_shapes import commit_json, error, the_project, writable_project
from slipway.sandbox.forge._routing import ApiError, Ctx, Router, json_response
from slipway.sandbox.forge._state import Repo

_T = TypeVar("_T")


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
    """The newest commit that changed `path`, as GitLab's `last_commit_id`. Each commit's
    tree is read once, whether it is looked at as a commit or as a parent."""
    history = _history(repo, head)
    commits = {info.sha: info for info in history}
    entries: dict[str, tuple[int, str] | None] = {}

    def entry(sha: str) -> tuple[int, str] | None:
        if sha not in entries:
            entries[sha] = git.flatten_tree(repo.path, commits[sha].tree).get(path)
        return entries[sha]

    for info in history:
        before = [entry(sha) for sha in info.parents if sha in commits]
        if not before or any(b != entry(info.sha) for b in before):
            return info.sha
    return head.sha


def _the_file(ctx: Ctx, ref: str) -> tuple[Repo, git.CommitInfo, str, tuple[int, str], bytes]:
    """The project, the commit `ref` resolves to, and the `file_path` file's path, tree entry
    (mode, blob id) and bytes there; 404 naming what is missing, like GitLab."""
    repo = the_project(ctx)
    info = _resolve(repo, ref)
    if info is None:
        raise error(404, "404 Commit Not Found")
    path = ctx.params["file_path"].strip("/")
    found = git.flatten_tree(repo.path, info.tree).get(path)
    data = git.read_blob(repo.path, found[1]) if found else None
    if found is None or data is None:
        raise error(404, "404 File Not Found")
    return repo, info, path, found, data


def _file_json(ctx: Ctx, ref: str) -> tuple[dict[str, Any], bytes]:
    """The file's metadata fields (without `content`) and its bytes."""
    repo, info, path, (mode, blob), data = _the_file(ctx, ref)
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


def _file_headers(fields: dict[str, Any]) -> dict[str, str]:
    """GitLab repeats the file's metadata as `X-Gitlab-*` headers (UTF-8 bytes on the wire)."""
    text = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in fields.items()}
    return {
        f"x-gitlab-{k.replace('_', '-')}": v.encode().decode("latin-1") for k, v in text.items()
    }


def _changes(actions: list[Any], existing: git.Entries) -> dict[str, bytes | None]:
    """The commit actions as path -> new bytes (None deletes), refused like GitLab refuses
    them: creating a file that exists, updating or deleting one that does not."""
    changes: dict[str, bytes | None] = {}
    for action in actions:
        if not isinstance(action, dict):
            raise ApiError(400, {"error": "actions is invalid"})
        kind, path = action.get("action"), str(action.get("file_path") or "").strip("/")
        content = str(action.get("content") or "")
        if action.get("encoding") == "base64":
            data = decode_base64(content, error=error(400, "Invalid base64"))
        else:
            data = content.encode()
        if kind == "create":
            if path in existing or path in changes:
                raise error(400, "A file with this name already exists")
            changes[path] = data
        elif kind == "update":
            if path not in existing:
                raise error(400, "A file with this name doesn't exist")
            changes[path] = data
        elif kind == "delete":
            if path not in existing:
                raise error(400, "A file with this name doesn't exist")
            changes[path] = None
        else:
            raise ApiError(400, {"error": "actions[action] does not have a valid value"})
    return changes


def add_repository_routes(router: Router) -> None:
    @router.route("GET", "/projects/{id}/repository/commits/{sha}")
    async def get_commit(ctx: Ctx) -> Response:
        repo = the_project(ctx)
        info = _resolve(repo, ctx.params["sha"])
        if info is None:
            raise error(404, "404 Commit Not Found")
        return json_response(commit_json(ctx, repo, info))

    @router.route("GET", "/projects/{id}/repository/tree")
    async def get_tree(ctx: Ctx) -> Response:
        repo = the_project(ctx)
        info = _resolve(repo, ctx.query("ref") or repo.default_branch)
        if info is None:
            raise error(404, "404 Tree Not Found")
        recursive = ctx.flag("recursive")
        under = ctx.query("path") or ""  # a file's path lists nothing, as on GitLab
        listed = git.list_tree(repo.path, info.tree, recursive=recursive, under=under)
        entries = list(listed.items())
        if not recursive:  # one level comes directories first, as Gitaly sorts it
            entries.sort(key=lambda item: item[1][0] != git.TREE_MODE)
        chunk, headers = _paginate(ctx, entries)
        items = [
            {
                "id": sha,
                "name": p.rsplit("/", 1)[-1],
                "type": "tree" if m == git.TREE_MODE else "blob",
                "path": p,
                "mode": f"{m:06o}",
            }
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
            raise error(400, "You can only create or edit files when you are on a branch")
        existing: git.Entries = {}
        if head is not None:
            info = git.read_commit(repo.path, head)
            existing = git.flatten_tree(repo.path, info.tree) if info else {}
        sha = commit_files(
            repo,
            branch=branch,
            changes=_changes(actions, existing),
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

    @router.route("GET", "/projects/{id}/repository/files/{file_path}")
    async def get_file(ctx: Ctx) -> Response:
        ref = ctx.query("ref")
        if not ref:
            raise ApiError(400, {"error": "ref is missing"})
        fields, data = _file_json(ctx, ref)
        body = fields | {"content": base64.b64encode(data).decode()}
        return json_response(body, headers=_file_headers(fields))

    @router.route("GET", "/projects/{id}/repository/files/{file_path}/raw")
    async def get_raw_file(ctx: Ctx) -> Response:
        """The bytes as stored; `ref` defaults to the project's HEAD."""
        ref = ctx.query("ref") or the_project(ctx).default_branch
        fields, data = _file_json(ctx, ref)
        kind = "text/plain; charset=utf-8" if b"\0" not in data else "application/octet-stream"
        return Response(data, media_type=kind, headers=_file_headers(fields))
