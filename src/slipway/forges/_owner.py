"""The `owner` refusals every adapter's `check_owner` raises, worded once.

Each is `InvalidInput(field="owner")`: bad input found before anything is created. Messages
name the owner, the token's account and the forge, never anything the forge sent back.
"""

from __future__ import annotations

from slipway.domain.errors import InvalidInput
from slipway.forges._errors import Site


def group_word(site: Site) -> str:
    """What the forge calls a shared owner: an organization, or a group on GitLab."""
    return site.info.group_word


def unknown_owner(site: Site, owner: str, login: str) -> InvalidInput:
    return InvalidInput(
        "owner",
        f"'{owner}' is not a user or {group_word(site)} on {site.label} at {site.url}",
        hint=f"check the spelling, or leave out --owner to use your own account ({login})",
    )


def hidden_owner(site: Site, owner: str, login: str) -> InvalidInput:
    """For a path the forge shows only to members, and cannot say exists (GitLab subgroups)."""
    return InvalidInput(
        "owner",
        f"'{owner}' is not a {group_word(site)} that {login} belongs to "
        f"on {site.label} at {site.url}",
        hint=f"check the path {owner}, and that {login} is a member allowed to create "
        "projects there; or leave out --owner to use your own account",
    )


def no_access(site: Site, owner: str, login: str) -> InvalidInput:
    """For a namespace that exists but is hidden from the token: someone else's account, or
    a group the token's account is not a member of (GitLab shows neither)."""
    return InvalidInput(
        "owner",
        f"'{owner}' on {site.label} is another user's account or a {group_word(site)} "
        f"that {login} is not a member of",
        hint=f"ask an owner of {owner} to add {login}, or leave out --owner to use {login}",
    )


def other_user(site: Site, owner: str, login: str) -> InvalidInput:
    return InvalidInput(
        "owner",
        f"'{owner}' is another user's account on {site.label}: repositories can be created "
        f"only under your own account ({login}) or a {group_word(site)} you belong to",
        hint=f"leave out --owner to use {login}, or name a {group_word(site)} you are a member of",
    )


def not_member(site: Site, owner: str, login: str) -> InvalidInput:
    group = group_word(site)
    return InvalidInput(
        "owner",
        f"{login} is not a member of the {group} '{owner}' on {site.label}",
        hint=f"ask an owner of {owner} to add {login}, or choose another owner",
    )


def invitation_pending(site: Site, owner: str, login: str) -> InvalidInput:
    return InvalidInput(
        "owner",
        f"{login} has not accepted the invitation to the {group_word(site)} '{owner}' "
        f"on {site.label} yet",
        hint=f"accept the invitation to {owner}, then run the command again",
    )


def may_not_create(
    site: Site,
    owner: str,
    login: str,
    *,
    why: str | None = None,
    ask: str = "for permission to create repositories",
) -> InvalidInput:
    """`why` says what the forge's setting requires, where it tells (GitLab's role levels);
    `ask` is what to ask an owner for."""
    group = group_word(site)
    rule = f"{login} may not create repositories in the {group} '{owner}' on {site.label}"
    return InvalidInput(
        "owner",
        f"{rule}: {why}" if why else rule,
        hint=f"ask an owner of {owner} {ask}, or choose another owner",
    )
