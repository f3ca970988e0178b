"""Git forges: the `Forge` port, its values, and `build_forge`, the one switch on forge kind."""

from __future__ import annotations

from pydantic import SecretStr

from slipway.domain.model import ForgeKind
from slipway.forges.base import Account, Commit, Forge, GitCredentials, Repository, TokenKind
from slipway.retry import DEFAULT_POLICY, RetryPolicy

__all__ = [
    "Account",
    "Commit",
    "Forge",
    "GitCredentials",
    "Repository",
    "TokenKind",
    "build_forge",
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
    if kind is ForgeKind.GITHUB:
        from slipway.forges.github import GitHubForge

        return GitHubForge(base_url=base_url, token=token, step=step, retry_policy=retry_policy)
    if kind is ForgeKind.GITLAB:
        from slipway.forges.gitlab import GitLabForge

        return GitLabForge(base_url=base_url, token=token, step=step, retry_policy=retry_policy)
    if kind is ForgeKind.GITEA:
        from slipway.forges.gitea import GiteaForge

        return GiteaForge(base_url=base_url, token=token, step=step, retry_policy=retry_policy)
    raise ValueError(f"unknown forge kind {kind!r}")
