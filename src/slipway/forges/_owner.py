"""The `owner` refusals every adapter's `check_owner` raises, worded once.

Each is `InvalidInput(field="owner")`: bad input found before anything is created. Messages
name the owner, the token's account and the forge, never anything the forge sent back.
"""

from __future__ import annotations

from slipway.domain.errors import InvalidInput
from slipway.domain.text import Text, t
from slipway.forges._errors import Site


def group_word(site: Site) -> str:
    """What the forge calls a shared owner: an organization, or a group on GitLab."""
    word = site.info.group_word
    return {"organization": t("organization"), "group": t("group")}.get(word, word)


def unknown_owner(site: Site, owner: str, login: str) -> InvalidInput:
    return InvalidInput(
        "owner",
        t(
            "'{owner}' is not a user or {group_word} on {label} at {url}",
            owner=owner,
            group_word=group_word(site),
            label=site.label,
            url=site.url,
        ),
        hint=t(
            "check the spelling, or leave out --owner to use your own account ({login})",
            login=login,
        ),
    )


def hidden_owner(site: Site, owner: str, login: str) -> InvalidInput:
    """For a path the forge shows only to members, and cannot say exists (GitLab subgroups)."""
    return InvalidInput(
        "owner",
        t(
            "'{owner}' is not a {group_word} that {login} belongs to on {label} at {url}",
            owner=owner,
            group_word=group_word(site),
            login=login,
            label=site.label,
            url=site.url,
        ),
        hint=t(
            "check the path {owner}, and that {login} is a member "
            "allowed to create projects there; or leave out --owner to "
            "use your own account",
            owner=owner,
            login=login,
        ),
    )


def no_access(site: Site, owner: str, login: str) -> InvalidInput:
    """For a namespace that exists but is hidden from the token: someone else's account, or
    a group the token's account is not a member of (GitLab shows neither)."""
    return InvalidInput(
        "owner",
        t(
            "'{owner}' on {label} is another user's account or a "
            "{group_word} that {login} is not a member of",
            owner=owner,
            label=site.label,
            group_word=group_word(site),
            login=login,
        ),
        hint=t(
            "ask an owner of {owner} to add {login}, or leave out --owner to use {login}",
            owner=owner,
            login=login,
        ),
    )


def other_user(site: Site, owner: str, login: str) -> InvalidInput:
    return InvalidInput(
        "owner",
        t(
            "'{owner}' is another user's account on {label}: "
            "repositories can be created only under your own account "
            "({login}) or a {group_word} you belong to",
            owner=owner,
            label=site.label,
            login=login,
            group_word=group_word(site),
        ),
        hint=t(
            "leave out --owner to use {login}, or name a {group_word} you are a member of",
            login=login,
            group_word=group_word(site),
        ),
    )


def not_member(site: Site, owner: str, login: str) -> InvalidInput:
    group = group_word(site)
    return InvalidInput(
        "owner",
        t(
            "{login} is not a member of the {group} '{owner}' on {label}",
            login=login,
            group=group,
            owner=owner,
            label=site.label,
        ),
        hint=t(
            "ask an owner of {owner} to add {login}, or choose another owner",
            owner=owner,
            login=login,
        ),
    )


def invitation_pending(site: Site, owner: str, login: str) -> InvalidInput:
    return InvalidInput(
        "owner",
        t(
            "{login} has not accepted the invitation to the {group_word} '{owner}' on {label} yet",
            login=login,
            group_word=group_word(site),
            owner=owner,
            label=site.label,
        ),
        hint=t("accept the invitation to {owner}, then run the command again", owner=owner),
    )


def may_not_create(
    site: Site,
    owner: str,
    login: str,
    *,
    why: Text | None = None,
    ask: Text | None = None,
) -> InvalidInput:
    """`why` says what the forge's setting requires, where it tells (GitLab's role levels);
    `ask` is what to ask an owner for."""
    group = group_word(site)
    ask = ask or t("for permission to create repositories")
    rule = t(
        "{login} may not create repositories in the {group} '{owner}' on {label}",
        login=login,
        group=group,
        owner=owner,
        label=site.label,
    )
    return InvalidInput(
        "owner",
        t("{rule}: {why}", rule=rule, why=why) if why else rule,
        hint=t("ask an owner of {owner} {ask}, or choose another owner", owner=owner, ask=ask),
    )
