"""Pieces the three API flavours share: time stamps, access checks and file-set commits."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from slipway.sandbox.forge import _gitstore as git
from slipway.sandbox.forge._routing import ApiError, Ctx
from slipway.sandbox.forge._state import Repo, Token


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decode_base64(value: str, *, error: ApiError) -> bytes:
    try:
        return base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        raise error from None


def visible_repo(ctx: Ctx, owner: str, name: str, not_found: ApiError) -> Repo:
    """The repository if it exists and the caller may see it (else `not_found`, like GitHub)."""
    repo = ctx.state.repo(owner, name)
    login = ctx.token.login if ctx.token else None
    if repo is None or not ctx.state.can_read(login, repo):
        raise not_found
    return repo


def writable(ctx: Ctx, repo: Repo, forbidden: ApiError) -> Token:
    if ctx.token is None or not ctx.state.can_write(ctx.token.login, repo.owner):
        raise forbidden
    return ctx.token


def commit_files(
    repo: Repo,
    *,
    branch: str,
    changes: dict[str, bytes | None],
    message: str,
    author: str,
    base: str | None,
) -> str:
    """Commit `changes` (path -> content, None deletes) on top of `base` (None: a root commit)
    and move `branch` there; returns the new commit id."""
    entries: git.Entries = {}
    if base is not None:
        info = git.read_commit(repo.path, base)
        if info is not None:
            entries = git.flatten_tree(repo.path, info.tree)
    added = {p: data for p, data in changes.items() if data is not None}
    shas = git.add_blobs(repo.path, list(added.values()))
    for path, sha in zip(added, shas, strict=True):
        entries[path] = (git.FILE_MODE, sha)
    for path, data in changes.items():
        if data is None:
            entries.pop(path, None)
    tree = git.write_tree(repo.path, entries)
    sha = git.write_commit(
        repo.path,
        tree=tree,
        parents=[base] if base else [],
        message=message,
        author_name=author,
        author_email=f"{author.lower()}@users.noreply.sandbox",
    )
    git.set_ref(repo.path, f"refs/heads/{branch}", sha)
    return sha


def commit_initial_readme(repo: Repo, *, author: str, description: str = "") -> str:
    """The README commit a forge makes when asked to initialise a new repository."""
    text = f"# {repo.name}\n\n{description}\n" if description else f"# {repo.name}\n"
    return commit_files(
        repo,
        branch=repo.default_branch,
        changes={"README.md": text.encode()},
        message="Initial commit",
        author=author,
        base=None,
    )
