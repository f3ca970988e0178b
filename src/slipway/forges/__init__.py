"""Git forges: the `Forge` port, its values, the registry of forge kinds, and `build_forge`.

Importing this package imports no client library: an adapter is imported when first built.
"""

from __future__ import annotations

from pydantic import SecretStr

from slipway.domain.model import ForgeKind, PushMethod
from slipway.forges._clients import Connection, ForgeClients
from slipway.forges._oauth import (
    OAUTH_SCOPES,
    AuthorizationRequest,
    OAuthTokens,
    authorization_request,
    exchange_code,
    refresh_tokens,
)
from slipway.forges._ssh import SSHKeyPair, generate_deploy_key, scan_known_hosts, ssh_clone_url
from slipway.forges.base import (
    Account,
    Commit,
    DeployKey,
    Forge,
    GitCredentials,
    Repository,
    TokenKind,
)
from slipway.forges.registry import DEFAULT_IMAGE_REGISTRY, FORGES, ForgeInfo, forge_info
from slipway.retry import DEFAULT_POLICY, RetryPolicy

__all__ = [
    "DEFAULT_IMAGE_REGISTRY",
    "FORGES",
    "OAUTH_SCOPES",
    "Account",
    "AuthorizationRequest",
    "Commit",
    "Connection",
    "DeployKey",
    "Forge",
    "ForgeClients",
    "ForgeInfo",
    "GitCredentials",
    "OAuthTokens",
    "Repository",
    "SSHKeyPair",
    "TokenKind",
    "authorization_request",
    "build_forge",
    "exchange_code",
    "forge_info",
    "generate_deploy_key",
    "refresh_tokens",
    "scan_known_hosts",
    "ssh_clone_url",
]


def build_forge(
    kind: ForgeKind,
    *,
    base_url: str,
    token: SecretStr,
    step: str | None = None,
    retry_policy: RetryPolicy = DEFAULT_POLICY,
    login: str | None = None,
    push: PushMethod = PushMethod.GIT,
    clients: ForgeClients | None = None,
) -> Forge:
    """The adapter for `kind`. `base_url` is GitHub's API URL (`https://api.github.com`, or
    `https://HOST/api/v3` for GHE) or the GitLab/Gitea instance URL. `login` is the token's
    account where the connection stored it (then never read again); `push` how the first
    commit travels; `clients` the process's shared HTTP clients (the adapter then borrows its
    client and leaves it open), else the adapter opens its own and `aclose` closes it."""
    adapter = forge_info(kind).adapter()
    return adapter(
        base_url=base_url,
        token=token,
        step=step,
        retry_policy=retry_policy,
        login=login,
        push=push,
        clients=clients,
    )
