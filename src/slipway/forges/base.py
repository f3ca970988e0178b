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
from slipway.forges._clients import Connection


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
    """A repository on a forge. `project` is the Slipway project named by its marker, if any,
    and `installation` the Slipway installation that marked it (None: an older marker without
    one). `ssh_url` is always Flux's form, `ssh://git@host[:port]/owner/name.git` ("" when the
    forge gave none)."""

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
    ssh_url: str = ""
    installation: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class Commit:
    """A commit Slipway pushed; `tree_sha` is git's id of exactly the files pushed. `kept`:
    someone else's head left as it was (`adopt`), not Slipway's."""

    sha: str
    tree_sha: str
    kept: bool = False


@dataclass(frozen=True)
class DeployKey:
    """An SSH public key a repository accepts for cloning; `id` is the forge's, as text."""

    id: str
    title: str
    public_key: str
    read_only: bool


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
      marker for `project` and `installation`, or reuses it when it already carries that
      marker; one that exists without the marker, or with another project's marker, raises
      `Conflict` and is left as is; one marked for the same project by another installation
      (or by the older marker without one) is a `Conflict` too, unless `adopt`: then it is
      reused and re-marked for this installation (its description, one write);
    - `ensure_repository` creates first and reads only when the name is taken; a repository
      starts empty (no auto-init);
    - `push_files` leaves the default branch at one Slipway commit whose tree is exactly
      `files`; on a repository Slipway created it is the only commit. With `PushMethod.GIT`
      the commit is deterministic (Slipway's identity, `committed_at`, the message with
      trailers), so its id is known before any request; one `info/refs` read finds the
      branch absent or there already (then nothing is written); with `PushMethod.API`
      nothing is written when the branch already holds Slipway's commit for the same project
      and tree;
    - `push_files` never rewrites a commit Slipway did not write: a branch at a Slipway
      commit of the same project, or at the forge's own parentless "Initial commit", is
      replaced; at anything else it raises `Conflict` and leaves the branch, or with `adopt`
      leaves it and returns its head;
    - deploy keys are read-only; `add_deploy_key` is idempotent (a key already on the
      repository is found by its key material and returned; one on another repository is a
      `Conflict`), `remove_deploy_key` too (a key gone is fine); a forge that refuses deploy
      keys raises `ForgeError` whose hint names `--git-auth token`;
    - `ssh_known_hosts` scans the SSH host of `repo.ssh_url` once per process (a short TTL);
    - `delete_repository` is idempotent: a repository already gone is fine;
      `delete_project_repository` deletes one only when its marker, read afresh, names the
      project and the installation (another's, or an unmarked one, is a `Conflict`);
    - `check_owner` only reads: it is how Slipway refuses a bad `--owner` before it records or
      creates anything.
    """

    kind: ForgeKind

    @property
    def connection(self) -> Connection:
        """Which forge, URL and token (by fingerprint) this client acts with: a key for what
        is remembered about the token, never the token itself."""
        ...

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
        self,
        *,
        owner: str | None,
        name: str,
        project: str,
        private: bool,
        description: str,
        installation: str | None = None,
        adopt: bool = False,
    ) -> Repository:
        """Create or reuse the repository `owner/name` (owner None: the token's own account).
        `installation`: this Slipway installation's id (16 lowercase hex characters); None
        reuses a repository marked for `project` by any installation. `adopt`: take over one
        marked for `project` by another installation."""
        ...

    async def find_repository(self, *, owner: str | None, name: str) -> Repository | None: ...

    async def check_branch(self, repo: Repository, project: str) -> None:
        """Raises the `Conflict` `push_files` (without `adopt`) would raise for `project`:
        the default branch holds commits Slipway did not write. A new project asks first."""
        ...

    async def push_files(
        self,
        repo: Repository,
        files: Mapping[str, bytes],
        *,
        message: str,
        project: str,
        committed_at: datetime,
        adopt: bool = False,
    ) -> Commit:
        """`committed_at`: when the project was created, fixed at the first attempt, so
        every attempt builds the same commit (and a re-run finds it already pushed).
        `adopt`: a branch holding someone else's commit is kept, and its head returned."""
        ...

    async def delete_repository(self, repo: Repository) -> None: ...

    async def delete_project_repository(
        self, *, owner: str, name: str, project: str, installation: str
    ) -> bool:
        """Delete `owner/name` if it is `project`'s of `installation`; False: gone already.
        GitHub needs the `delete_repo` scope, GitLab the Owner role, Gitea admin rights."""
        ...

    async def add_deploy_key(self, repo: Repository, *, title: str, public_key: str) -> DeployKey:
        """Give `repo` the read-only deploy key `public_key` (an OpenSSH public key line)."""
        ...

    async def list_deploy_keys(self, repo: Repository) -> list[DeployKey]: ...

    async def remove_deploy_key(self, repo: Repository, key_id: str) -> None: ...

    async def ssh_known_hosts(self, repo: Repository) -> str:
        """The known_hosts line(s) of the host `repo.ssh_url` reaches, for Flux."""
        ...

    def git_credentials(self) -> GitCredentials:
        """Username and token for git over HTTPS; the username depends on forge and token kind."""
        ...

    async def aclose(self) -> None: ...
