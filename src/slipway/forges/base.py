"""The `Forge` port and the plain values it returns.

Every adapter (GitHub, GitLab, Gitea) implements `Forge`; the rest of Slipway sees only these
types, never a client library's objects or exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from pydantic import SecretStr

from slipway.domain.model import ForgeKind


class TokenKind(StrEnum):
    """What kind of credential a token is; it decides the git username and the scopes reported."""

    PERSONAL = "personal"  # classic PAT (GitHub ghp_), GitLab PAT, Gitea access token
    FINE_GRAINED = "fine_grained"  # GitHub github_pat_: permissions, no scopes header
    OAUTH = "oauth"  # an OAuth app's user token
    APP = "app"  # GitHub App installation / user-to-server token (ghs_, ghu_)
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Account:
    """Who a token acts as. `scopes` is None when the forge does not report them."""

    provider: ForgeKind
    login: str
    token_kind: TokenKind
    scopes: tuple[str, ...] | None
    missing_scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Repository:
    """A repository on a forge. `project` is the Slipway project named by its marker, if any."""

    provider: ForgeKind
    owner: str
    name: str
    clone_url: str
    web_url: str
    default_branch: str
    private: bool
    description: str
    project: str | None
    topics: tuple[str, ...] = ()
    id: str | None = field(default=None, compare=False)  # forge id (GitLab project id)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class Commit:
    """A commit Slipway pushed; `tree_sha` is git's id of exactly the files pushed."""

    sha: str
    tree_sha: str


@dataclass(frozen=True)
class GitCredentials:
    """Basic-auth credentials for git over HTTPS, for the cluster's git Secret."""

    username: str
    password: SecretStr


@runtime_checkable
class Forge(Protocol):
    """A git hosting service seen through its REST API.

    Contract, for every adapter:
    - every call has a timeout and retries 429, secondary rate limits and 5xx through
      `slipway.retry` (honouring Retry-After / reset headers); what is left is raised as a
      `SlipwayError` (`ForgeError`, `Conflict`, `NotFound`) naming the forge, the step and what to
      do; no client-library exception escapes, and the token never appears in any message, repr
      or log line;
    - `ensure_repository` creates the repository (private unless told otherwise) with Slipway's
      marker for `project`, or reuses it when it already carries that marker; one that exists
      without the marker, or with another project's marker, raises `Conflict` and is left as is;
    - `ensure_repository` creates first and reads only when the name is taken; a repository
      starts empty (no auto-init);
    - `push_files` leaves the default branch at one Slipway commit whose tree is exactly
      `files`; on a repository Slipway created it is the only commit. With `PushMethod.GIT`
      the commit is deterministic (Slipway's identity, `committed_at`, the message with
      trailers), so its id is known before any request; one `info/refs` read finds the
      branch there already and writes nothing, else one pack replaces whatever the branch
      held. With `PushMethod.API` nothing is written when the branch already holds Slipway's
      commit for the same project and tree;
    - `delete_repository` is idempotent: a repository already gone is fine;
    - `check_owner` only reads: it is how Slipway refuses a bad `--owner` before it records or
      creates anything.
    """

    kind: ForgeKind

    async def validate_token(self) -> Account:
        """The account behind the token, its kind and scopes (and which needed ones are missing)."""
        ...

    async def check_owner(self, owner: str | None) -> str:
        """The canonical login or path repositories for `owner` are created under (None: the
        token's own account). Raises `InvalidInput(field="owner")` when the owner does not
        exist, is another user, or the token's account may not create repositories there (not
        a member, an invitation not yet accepted, members may not create); call failures raise
        `ForgeError` like every other call. Where the forge will not show the token a
        membership (a token without an org-reading scope), the owner is accepted and the
        creation itself has the last word."""
        ...

    async def ensure_repository(
        self, *, owner: str | None, name: str, project: str, private: bool, description: str
    ) -> Repository:
        """Create or reuse the repository `owner/name` (owner None: the token's own account)."""
        ...

    async def find_repository(self, *, owner: str | None, name: str) -> Repository | None: ...

    async def push_files(
        self,
        repo: Repository,
        files: Mapping[str, bytes],
        *,
        message: str,
        project: str,
        committed_at: datetime,
    ) -> Commit:
        """`committed_at`: when the project was created, fixed at the first attempt, so
        every attempt builds the same commit (and a re-run finds it already pushed)."""
        ...

    async def delete_repository(self, repo: Repository) -> None: ...

    def git_credentials(self) -> GitCredentials:
        """Username and token for git over HTTPS; the username depends on forge and token kind."""
        ...

    async def aclose(self) -> None: ...
