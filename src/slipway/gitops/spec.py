"""What one environment's GitOps objects are built from: a frozen, validated value.

Validation happens here, before any object is built or sent, and raises `InvalidInput`. The
credentials are `SecretStr`, so neither `repr(spec)` nor an error message can show them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pydantic import SecretStr

from slipway.domain.errors import InvalidInput
from slipway.domain.names import ResourceNames, project_slug, validate_environment_name
from slipway.domain.text import t
from slipway.gitops.defaults import (
    DEFAULT_BRANCH,
    KUSTOMIZATION_INTERVAL,
    KUSTOMIZATION_TIMEOUT,
    RECONCILER_CLUSTER_ROLE,
    SOURCE_INTERVAL,
)

# The pattern Flux's CRDs put on every duration field (`interval`, `timeout`).
_FLUX_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")
# A conservative subset of `git check-ref-format`: no spaces, control characters or `..`.
_BRANCH = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]{1,255}(?<![./])$")
_HTTP_SCHEMES = ("https", "http")
_SSH_SCHEMES = ("ssh",)


@dataclass(frozen=True, kw_only=True)
class BasicAuth:
    """HTTPS basic auth for git: a username (it depends on the forge) and a token."""

    username: str
    password: SecretStr

    def __post_init__(self) -> None:
        if not self.username or any(c.isspace() or c == ":" for c in self.username):
            raise InvalidInput(
                "credentials.username", t("must be non-empty, without ':' or spaces")
            )
        if not self.password.get_secret_value():
            raise InvalidInput("credentials.password", t("must not be empty"))


@dataclass(frozen=True, kw_only=True)
class SSHAuth:
    """An SSH deploy key and the host keys Flux accepts for the forge (the Secret keys
    `flux create secret git` writes: `identity`, `identity.pub`, `known_hosts`)."""

    identity: SecretStr
    known_hosts: str
    identity_pub: str = ""

    def __post_init__(self) -> None:
        if "PRIVATE KEY" not in self.identity.get_secret_value():
            raise InvalidInput("credentials.identity", t("must be a PEM/OpenSSH private key"))
        if not self.known_hosts.strip():
            raise InvalidInput(
                "credentials.known_hosts",
                t("must not be empty"),
                hint=t("collect it with `ssh-keyscan <forge host>`"),
            )


GitCredentials = BasicAuth | SSHAuth


@dataclass(frozen=True, kw_only=True)
class EnvironmentSpec:
    """One project's environment as Flux will see it; every name comes from `names`."""

    project: str
    environment: str
    installation: str  # this Slipway installation's ID, on every object's labels
    repository_url: str
    credentials: GitCredentials
    branch: str = DEFAULT_BRANCH
    source_interval: str = SOURCE_INTERVAL
    reconcile_interval: str = KUSTOMIZATION_INTERVAL
    reconcile_timeout: str = KUSTOMIZATION_TIMEOUT
    reconciler_cluster_role: str = RECONCILER_CLUSTER_ROLE
    names: ResourceNames = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        validate_environment_name(self.environment)
        project_slug(self.project, [self.environment], field="project")
        _check_url(self.repository_url, self.credentials)
        if not _BRANCH.fullmatch(self.branch):
            raise InvalidInput(
                "branch", t("'{branch}' is not a valid git branch name", branch=self.branch)
            )
        for name in ("source_interval", "reconcile_interval", "reconcile_timeout"):
            value = getattr(self, name)
            if not _FLUX_DURATION.fullmatch(value):
                raise InvalidInput(
                    name, t("'{value}' must be a duration such as 30s, 5m or 1h", value=value)
                )
        if not re.fullmatch(r"[a-z0-9]{1,63}", self.installation):
            raise InvalidInput("installation", t("must be 1-63 lowercase letters and digits"))
        if not self.reconciler_cluster_role:
            raise InvalidInput("reconciler_cluster_role", t("must not be empty"))
        object.__setattr__(self, "names", ResourceNames(self.project, self.environment))


def _check_url(url: str, credentials: GitCredentials) -> None:
    """The URL goes into the GitRepository in clear, so it must not carry a password."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        raise InvalidInput("repository_url", t("is not a valid URL")) from None
    ssh = isinstance(credentials, SSHAuth)
    schemes = _SSH_SCHEMES if ssh else _HTTP_SCHEMES
    if parts.scheme not in schemes or not parts.hostname:
        kind = "ssh://" if ssh else "https://"
        raise InvalidInput(
            "repository_url",
            t(
                "must be a {kind} clone URL for {credentials} credentials",
                kind=kind,
                credentials="SSH" if ssh else "basic-auth",
            ),
        )
    if parts.password is not None or (parts.username and not ssh):
        # Never echo the URL here: it holds the credential.
        raise InvalidInput(
            "repository_url",
            t("must not contain credentials; they belong in the git Secret"),
        )
