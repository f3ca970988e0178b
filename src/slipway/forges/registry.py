"""Everything Slipway knows about each kind of forge, in one table.

Labels, default URLs, owner words, scopes, image registries, git usernames and the adapter
class all derive from `FORGES`; adding a forge is a `ForgeKind` value, one entry here and its
adapter module. Adapters are imported only when built (githubkit alone takes ~0.5 s to import).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Protocol

from pydantic import SecretStr

from slipway.domain.model import ForgeKind, PushMethod
from slipway.forges.base import Forge, TokenKind
from slipway.retry import RetryPolicy

if TYPE_CHECKING:
    from slipway.forges._clients import ForgeClients

# Where an image is named when the forge has no registry of its own (Gitea).
DEFAULT_IMAGE_REGISTRY: Final = "ghcr.io"


class ForgeFactory(Protocol):
    """How `build_forge` constructs every adapter."""

    def __call__(
        self,
        *,
        base_url: str,
        token: SecretStr,
        step: str | None,
        retry_policy: RetryPolicy,
        login: str | None,
        push: PushMethod,
        clients: ForgeClients | None,
    ) -> Forge: ...


@dataclass(frozen=True)
class ForgeInfo:
    """One forge kind. `api_path` is where the REST API lives under the URL a user gives
    ("" when they give the API URL itself, as for GitHub); `git_username` picks the basic-auth
    username for git over HTTPS from the token's kind and the account's login, when known."""

    kind: ForgeKind
    label: str
    default_url: str | None
    api_path: str
    group_word: str
    nested_owners: bool
    required_scopes: tuple[str, ...]
    image_registry: str | None
    git_username: Callable[[TokenKind, str | None], str]
    adapter_path: str  # "module:Class", imported by `adapter()`

    @property
    def image_host(self) -> str:
        """The registry images of this forge's projects are named under."""
        return self.image_registry or DEFAULT_IMAGE_REGISTRY

    def adapter(self) -> ForgeFactory:
        """The adapter class, imported now (not when the registry is)."""
        module, _, name = self.adapter_path.partition(":")
        factory: ForgeFactory = getattr(importlib.import_module(module), name)
        return factory


def _github_username(kind: TokenKind, login: str | None) -> str:
    """GitHub takes any username with a PAT or OAuth token, and `x-access-token` with an App
    token."""
    return "x-access-token" if kind is TokenKind.APP else "git"


def _gitlab_username(kind: TokenKind, login: str | None) -> str:
    """`oauth2` works for OAuth tokens and PATs alike (older GitLab refuses OAuth otherwise)."""
    return "oauth2"


def _gitea_username(kind: TokenKind, login: str | None) -> str:
    """Gitea checks the token as the password of its own account: the login once known."""
    return login or "git"


_ENTRIES = (
    ForgeInfo(
        kind=ForgeKind.GITHUB,
        label="GitHub",
        default_url="https://api.github.com",
        api_path="",
        group_word="organization",
        nested_owners=False,
        required_scopes=("repo",),
        image_registry="ghcr.io",
        git_username=_github_username,
        adapter_path="slipway.forges.github:GitHubForge",
    ),
    ForgeInfo(
        kind=ForgeKind.GITLAB,
        label="GitLab",
        default_url="https://gitlab.com",
        api_path="/api/v4",
        group_word="group",
        nested_owners=True,
        required_scopes=("api",),
        image_registry="registry.gitlab.com",
        git_username=_gitlab_username,
        adapter_path="slipway.forges.gitlab:GitLabForge",
    ),
    ForgeInfo(
        kind=ForgeKind.GITEA,
        label="Gitea",
        default_url=None,
        api_path="/api/v1",
        group_word="organization",
        nested_owners=False,
        required_scopes=("write:repository",),
        image_registry=None,
        git_username=_gitea_username,
        adapter_path="slipway.forges.gitea:GiteaForge",
    ),
)

FORGES: Final[Mapping[ForgeKind, ForgeInfo]] = MappingProxyType({e.kind: e for e in _ENTRIES})


def forge_info(kind: ForgeKind) -> ForgeInfo:
    """The entry for `kind`; ValueError for a kind without one."""
    try:
        return FORGES[kind]
    except KeyError:
        raise ValueError(f"unknown forge kind {kind!r}") from None
