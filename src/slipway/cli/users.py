"""`slipway user create|list|token|delete`: the users of the API. A token is printed once,
when it is issued (`create`, `token`); nothing else ever shows one."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from slipway.cli._app import JsonOption, emit_json, err, headers, out, tr, user_app, wants_json
from slipway.domain.text import t


@user_app.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="The user's name (unique).")],
    admin: Annotated[bool, typer.Option("--admin", help="Sees and changes every project.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Create a user and print their API token, once: only its hash is stored."""
    from slipway import service

    with service.application() as instance:
        created = service.create_user(instance, name, admin=admin)
    token = created.token.get_secret_value()
    if wants_json(json_output):
        emit_json({"name": created.user.name, "admin": created.user.admin, "token": token})
        return
    role = "admin" if created.user.admin else "user"
    err.print(
        tr(
            t(
                "created {role} {name}; their API token (shown only now):",
                role=role,
                name=escape(created.user.name),
            )
        )
    )
    # The token alone on stdout, so `token=$(slipway user create NAME)` captures it.
    print(token, flush=True)


@user_app.command("list")
def user_list(json_output: JsonOption = False) -> None:
    """The users, with whether they are admins (never their tokens)."""
    from slipway import service

    with service.application() as instance:
        users = service.list_users(instance)
    if wants_json(json_output):
        emit_json([{"name": u.name, "admin": u.admin, "created_at": u.created_at} for u in users])
        return
    if not users:
        out.print(tr(t("no users; add one with `slipway user create NAME`")))
        return
    table = Table(*headers(t("name"), t("admin"), t("created")))
    for u in users:
        table.add_row(
            u.name, "yes" if u.admin else "no", u.created_at.isoformat(timespec="seconds")
        )
    out.print(table)


@user_app.command("token")
def user_token(
    name: Annotated[str, typer.Argument(help="The user whose token to replace.")],
    json_output: JsonOption = False,
) -> None:
    """Replace a user's API token and print the new one, once: every old token and web
    session of theirs stops working at once."""
    from slipway import service

    with service.application() as instance:
        created = service.new_token(instance, name)
    token = created.token.get_secret_value()
    if wants_json(json_output):
        emit_json({"name": created.user.name, "admin": created.user.admin, "token": token})
        return
    err.print(
        tr(t("new API token of {name}; the old ones are revoked (shown only now):", name=name))
    )
    print(token, flush=True)


@user_app.command("delete")
def user_delete(
    name: Annotated[str, typer.Argument(help="The user to delete.")],
    json_output: JsonOption = False,
) -> None:
    """Delete a user with their tokens, web sessions and forge connections; refused while
    they still own projects."""
    from slipway import service

    with service.application() as instance:
        deleted = service.delete_user(instance, name)
    if wants_json(json_output):
        emit_json({"name": deleted.name, "deleted": True})
        return
    out.print(
        tr(t("user {name} deleted, with their tokens and forge connections", name=name)),
        highlight=False,
        markup=False,
    )
