"""Who a request acts as: a user name and its groups, as kube-apiserver's authenticators and
impersonation filter build `user.Info` (service accounts get their fixed groups)."""

from __future__ import annotations

from dataclasses import dataclass

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
SERVICE_ACCOUNTS = "system:serviceaccounts"
_SA_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class Subject:
    """A request's identity; `impersonator` is the authenticated user who acted as it ("" when
    the request was not impersonated)."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    impersonator: str = ""


def service_account_user(namespace: str, name: str) -> str:
    return f"{_SA_PREFIX}{namespace}:{name}"


def split_service_account(user: str) -> tuple[str, str] | None:
    """(namespace, name) of a `system:serviceaccount:<ns>:<name>` user, else None."""
    if not user.startswith(_SA_PREFIX):
        return None
    namespace, sep, name = user[len(_SA_PREFIX) :].partition(":")
    if not sep or not namespace or not name or ":" in name:
        return None
    return namespace, name


def service_account_groups(namespace: str) -> tuple[str, ...]:
    return (SERVICE_ACCOUNTS, f"{SERVICE_ACCOUNTS}:{namespace}")


def authenticated(user: str) -> Subject:
    """A token's user as the authenticator reports it: a service account's token carries the
    service-account groups; every authenticated user is in `system:authenticated`."""
    sa = split_service_account(user)
    groups = service_account_groups(sa[0]) if sa else ()
    return Subject(user, (*groups, AUTHENTICATED))
