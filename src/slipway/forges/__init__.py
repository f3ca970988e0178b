"""Git forges: the `Forge` port, its values, the registry of forge kinds, and `build_forge`.

Importing this package imports no client library: an adapter is imported when first built.
"""

from __future__ import annotations

from pydantic import SecretStr

from slipway.domain.model import ForgeKind
from slipway.forges.base import Account, Commit, Forge, GitCredentials, Repository, TokenKind
from slipway.forges.registry import DEFAULT_IMAGE_REGISTRY, FORGES, ForgeInfo, forge_info
from slipway.retry import DEFAULT_POLICY, RetryPolicy

__all__ = [
    "DEFAULT_IMAGE_REGISTRY",
    "FORGES",
    "Account",
    "Commit",
    "Forge",
    "ForgeInfo",
    "GitCredentials",
    "Repository",
    "TokenKind",
    "build_forge",
    "forge_info",
]


def build_forge(
    kind: ForgeKind,
    *,
    base_url: str,
    token: SecretStr,
    step: str | None = None,
    retry_policy: RetryPolicy = DEFAULT_POLICY,
) -> Forge:
    """The adapter for `kind`. `base_url` is GitHub's API URL (`https://api.github.com`, or
    `https://HOST/api/v3` for GHE) or the GitLab/Gitea instance URL."""
    adapter = forge_info(kind).adapter()
    return adapter(base_url=base_url, token=token, step=step, retry_policy=retry_policy)
