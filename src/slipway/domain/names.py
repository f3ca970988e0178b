"""Naming rules. Every Kubernetes name Slipway derives must be a DNS-1123 label (RFC 1123:
lowercase alphanumerics and '-', starting and ending alphanumeric, at most 63 characters), for
every environment, so names are checked here before anything is created.

The kinds live here too, beside the name each gets: adding a kind is a `ResourceKind` member
and a `ResourceNames` property here, plus its entry in `slipway.gitops.kinds`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from slipway.domain.errors import InvalidInput
from slipway.domain.text import t

DNS1123_LABEL_MAX = 63
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# A project or environment name also starts with a letter, so it never looks like a number.
_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

ENVIRONMENT_NAME_MAX = 20
NAMESPACE_PREFIX = "project-"
GIT_AUTH_SUFFIX = "-git-auth"
REPO_SUFFIX = "-repo"
RECONCILER_SUFFIX = "-reconciler"
DEFAULT_ENVIRONMENTS: tuple[str, ...] = ("development", "staging", "production")

# GitHub logins: alphanumerics and single hyphens, at most 39 characters.
_GITHUB_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
# GitLab group paths may nest ("group/sub"); each part: alphanumerics, '.', '_', '-'.
_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,253}[A-Za-z0-9])?$")


class ResourceKind(StrEnum):
    """The Kubernetes kinds of an environment; values are the wire `kind`. Everything else
    about a kind (API version, builder, order, preflight) is its entry in `gitops.kinds`."""

    NAMESPACE = "Namespace"
    SECRET = "Secret"  # noqa: S105 - a Kubernetes kind, not a password
    SERVICE_ACCOUNT = "ServiceAccount"
    ROLE_BINDING = "RoleBinding"
    GIT_REPOSITORY = "GitRepository"
    KUSTOMIZATION = "Kustomization"


def is_dns1123_label(value: str) -> bool:
    return len(value) <= DNS1123_LABEL_MAX and DNS1123_LABEL.fullmatch(value) is not None


def validate_environment_name(name: str, *, field: str = "environment") -> str:
    if not name:
        raise InvalidInput(field, t("must not be empty"))
    if len(name) > ENVIRONMENT_NAME_MAX:
        raise InvalidInput(
            field,
            t(
                "'{name}' is {name_count} characters; an environment name is "
                "at most {environment_name_max}",
                name=name,
                name_count=len(name),
                environment_name_max=ENVIRONMENT_NAME_MAX,
            ),
        )
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            field,
            t(
                "'{name}' must be lowercase letters, digits and '-', start "
                "with a letter and end with a letter or digit",
                name=name,
            ),
        )
    return name


def validate_environments(names: Iterable[str]) -> tuple[str, ...]:
    """Checks each name and refuses duplicates; order is kept (it is the display order)."""
    result: list[str] = []
    for name in names:
        validate_environment_name(name, field="environments")
        if name in result:
            raise InvalidInput("environments", t("'{name}' is given twice", name=name))
        result.append(name)
    if not result:
        raise InvalidInput("environments", t("at least one environment is required"))
    return tuple(result)


def max_slug_length(environments: Sequence[str]) -> int:
    """The longest project slug whose derived names all stay within 63 characters: 63 less
    the longest name derived from an empty slug, so a new name is counted without a change."""
    overhead = max(len(n) for env in (*environments, "") for n in ResourceNames("", env).all())
    return DNS1123_LABEL_MAX - overhead


def project_slug(name: str, environments: Sequence[str], *, field: str = "name") -> str:
    """Validates a project name against every environment and returns its slug.

    The slug is the name itself: a name that is not already a valid slug is refused rather
    than silently changed, so what the user typed is what they find in the cluster and forge.
    """
    if not name:
        raise InvalidInput(field, t("must not be empty"))
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            field,
            t(
                "'{name}' must be lowercase letters, digits and '-', start "
                "with a letter and end with a letter or digit (a DNS-1123 "
                "label)",
                name=name,
            ),
            hint=(
                t("try '{suggest_slug}'", suggest_slug=suggest_slug(name))
                if suggest_slug(name)
                else None
            ),
        )
    limit = max_slug_length(environments)
    if len(name) > limit:
        longest = max(environments, key=len)
        raise InvalidInput(
            field,
            t(
                "'{name}' is {name_count} characters; with environment "
                "'{longest}' the namespace "
                "'{namespace_prefix}{name}-{longest}' would exceed the "
                "{dns1123_label_max}-character limit of a Kubernetes name, "
                "so a project name is at most {limit} characters",
                name=name,
                name_count=len(name),
                longest=longest,
                namespace_prefix=NAMESPACE_PREFIX,
                dns1123_label_max=DNS1123_LABEL_MAX,
                limit=limit,
            ),
        )
    return name


def suggest_slug(text: str) -> str:
    """A best-effort valid slug for a hint ("My Shop!" -> "my-shop")."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    slug = slug.lstrip("0123456789-")
    return slug[:DNS1123_LABEL_MAX].rstrip("-")


def validate_owner(owner: str, *, nested: bool, field: str = "owner") -> str:
    """A user or organisation on a forge; `nested` allows GitLab-style 'group/subgroup'."""
    parts = owner.split("/") if nested else [owner]
    pattern = _PATH_SEGMENT if nested else _GITHUB_OWNER
    if not owner or not all(pattern.fullmatch(p) for p in parts):
        rule = (
            t("group path segments of letters, digits, '.', '_', '-', separated by '/'")
            if nested
            else t(
                "letters, digits and single hyphens, at most 39 characters, "
                "not starting or ending with '-'"
            )
        )
        raise InvalidInput(field, t("'{owner}' must be {rule}", owner=owner, rule=rule))
    return owner


@dataclass(frozen=True)
class ResourceNames:
    """Every name derived for one project in one environment; one place so nobody re-derives."""

    slug: str
    environment: str

    @property
    def namespace(self) -> str:
        return f"{NAMESPACE_PREFIX}{self.slug}-{self.environment}"

    @property
    def git_secret(self) -> str:
        return f"{self.slug}{GIT_AUTH_SUFFIX}"

    @property
    def git_repository(self) -> str:
        return f"{self.slug}{REPO_SUFFIX}"

    @property
    def kustomization(self) -> str:
        return f"{self.slug}-{self.environment}"

    @property
    def service_account(self) -> str:
        return f"{self.slug}{RECONCILER_SUFFIX}"

    @property
    def role_binding(self) -> str:
        return f"{self.slug}{RECONCILER_SUFFIX}"

    @property
    def overlay_path(self) -> str:
        return f"./k8s/overlays/{self.environment}"

    def all(self) -> tuple[str, ...]:
        """Every object name: each property of this class except the overlay path."""
        return tuple(getattr(self, attr) for attr in _NAME_PROPERTIES)


_NAME_PROPERTIES: tuple[str, ...] = tuple(
    attr
    for attr, value in vars(ResourceNames).items()
    if isinstance(value, property) and attr != "overlay_path"
)
