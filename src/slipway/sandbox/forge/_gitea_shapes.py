"""Gitea's error shape, token check and user JSON, shared by its account and repository
routes."""

from __future__ import annotations

from typing import Any

from slipway.sandbox.forge._common import iso
from slipway.sandbox.forge._routing import ApiError, Ctx
from slipway.sandbox.forge._state import Account, Token

WRITE_SCOPES = ("write:repository", "all")


def error_body(status: int, message: str) -> dict[str, Any]:
    return {
        "errors": None,
        "message": message or "not found",
        "url": "https://gitea.sandbox/api/swagger",
    }


def error(status: int, message: str) -> ApiError:
    return ApiError(status, error_body(status, message))


NOT_FOUND = error(404, "The target couldn't be found.")


def auth(ctx: Ctx, *, write: bool = False) -> Token:
    """401 without a known token; with `write`, 403 naming the scope Gitea requires."""
    if ctx.token is None:
        raise error(401, "token is required")
    if write and not set(WRITE_SCOPES) & set(ctx.token.scopes):
        raise error(
            403, "token does not have at least one of required scope(s): [write:repository]"
        )
    return ctx.token


def user_json(ctx: Ctx, account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "login": account.login,
        "login_name": "",
        "full_name": account.login,
        "email": f"{account.login.lower()}@users.noreply.sandbox",
        "avatar_url": f"{ctx.web_root}/avatars/{account.login}",
        "html_url": f"{ctx.web_root}/{account.login}",
        "username": account.login,
        "created": iso(account.created_at),
        "is_admin": False,
        "restricted": False,
        "visibility": "public",
    }
