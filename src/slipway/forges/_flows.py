"""The `Forge` port's flows, written once over each adapter's primitives.

`ForgeFlows` holds what is the same on every forge: who the token is, the owner check, create
or reuse a repository by Slipway's marker (and the "name taken" race, and adopting one another
installation marked), the first commit pushed as one pack over git smart HTTP without ever
rewriting a commit Slipway did not write, the SSH host's known_hosts, and the connection's HTTP
client. An adapter subclasses it and supplies the primitives, the few calls and JSON shapes
that differ (read an owner, read, create or re-describe a repository; read the branch head;
for `PushMethod.API`, write a commit).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import httpx
from pydantic import SecretStr

from slipway.domain.errors import Conflict
from slipway.domain.model import ForgeKind, PushMethod
from slipway.domain.text import Text, t
from slipway.forges._clients import Connection, ForgeClients, metered
from slipway.forges._errors import NameTaken, Site
from slipway.forges._git_http import GitPush
from slipway.forges._marker import (
    CommitMark,
    check_installation,
    commit_message,
    mark_description,
)
from slipway.forges._owner import other_user, unknown_owner
from slipway.forges._snapshot import snapshot
from slipway.forges._ssh import scan_known_hosts
from slipway.forges._tree import check_paths, tree_sha
from slipway.forges.base import Account, Commit, GitCredentials, Repository, TokenKind
from slipway.forges.registry import forge_info
from slipway.retry import CONNECT_TIMEOUT_SECONDS, DEFAULT_POLICY, RetryPolicy


@dataclass(frozen=True)
class Owner:
    """An owner as the forge spells it: a user's account, or a group (`id` where calls need it)."""

    name: str
    user: bool = False
    id: str = ""


@dataclass(frozen=True)
class Head:
    """The commit a branch points at. `tree_sha` is None where the API does not report it; the
    commit's own trailer then vouches for its tree. `initial`: its message is the one forges
    give the commit they initialise a repository with."""

    sha: str
    root: bool
    mark: CommitMark | None
    tree_sha: str | None = None
    initial: bool = False

    def holds(self, project: str, tree: str) -> bool:
        """Slipway's parentless commit for `project` with exactly `tree`: nothing to push."""
        return (
            self.root and self.mark == CommitMark(project, tree) and self.tree_sha in (None, tree)
        )

    def replaceable(self, project: str) -> bool:
        """Slipway's own commit for `project`, or the forge's parentless initial commit: the
        only commits Slipway may write over."""
        ours = self.mark is not None and self.mark.project == project
        return ours or (self.root and self.initial)


@dataclass(frozen=True)
class Push:
    """What `push_files` was asked for, and git's id of the tree it makes (known locally)."""

    files: Mapping[str, bytes]
    message: str
    project: str
    tree_sha: str

    def commit_message(self, tree_sha: str | None = None) -> str:
        """The message with Slipway's trailers, naming `tree_sha` where the forge reported it."""
        return commit_message(
            self.message, project=self.project, tree_sha=tree_sha or self.tree_sha
        )


class ForgeFlows(ABC):
    """A `Forge` whose flows are shared; subclasses implement the abstract primitives."""

    kind: ForgeKind
    # The error for a name the forge calls taken but will not show: what it said, and what
    # the owner is called there.
    taken_says: Text = t("exists")
    owner_noun: Text = t("owner")

    def __init__(
        self,
        *,
        base_url: str,
        token: SecretStr,
        step: str | None = None,
        retry_policy: RetryPolicy = DEFAULT_POLICY,
        login: str | None = None,
        push: PushMethod = PushMethod.GIT,
        clients: ForgeClients | None = None,
    ) -> None:
        """`base_url` as the user gives it: the API URL or the instance URL (registry's
        `api_path` tells which), with or without a trailing slash. `login` is the token's
        account when already known (a stored connection): then it is never read."""
        info = forge_info(self.kind)
        self.base_url = base_url.rstrip("/").removesuffix(info.api_path)
        self.api_url = self.base_url + info.api_path
        self._site = Site(self.kind, self.base_url, step)
        self._token = token
        self._login = login
        self._push_method = push
        self._clients = clients
        self._connection = Connection.of(self.kind, self.base_url, token)
        self._own_client: httpx.AsyncClient | None = None
        self._git = GitPush(
            self._site,
            client=self._http,
            credentials=self.git_credentials,
            policy=retry_policy,
            scope=self._write_scope,
        )
        self._connect(retry_policy)

    @abstractmethod
    def _connect(self, policy: RetryPolicy) -> None:
        """Set up the adapter's API calls over `_http()`; every call retries under `policy`."""

    @abstractmethod
    def _new_client(self) -> httpx.AsyncClient:
        """A new client for this connection, as the adapter's API calls expect it."""

    @property
    def connection(self) -> Connection:
        return self._connection

    def _http(self) -> httpx.AsyncClient:
        """The connection's client: borrowed from `clients` when given (and left open for
        the next adapter), else the adapter's own, opened on first use, closed by `aclose`."""
        if self._clients is not None:
            return self._clients.client(self._connection, self._metered_client)
        if self._own_client is None or self._own_client.is_closed:
            self._own_client = self._metered_client()
        return self._own_client

    def _metered_client(self) -> httpx.AsyncClient:
        """A new client whose requests `slipway.metrics` counts, whichever library sends."""
        return metered(self._new_client(), self.kind)

    async def aclose(self) -> None:
        """Close the adapter's own client; a borrowed one stays open for others."""
        own, self._own_client = self._own_client, None
        if own is not None:
            await own.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    # --- account --------------------------------------------------------------------------
    @abstractmethod
    async def validate_token(self) -> Account: ...

    @abstractmethod
    async def _read_login(self) -> str:
        """Read the token's account; the login it returns is remembered."""

    async def _own_login(self) -> str:
        if self._login is None:
            self._login = await self._read_login()
        return self._login

    def _account(self, login: str, kind: TokenKind, scopes: tuple[str, ...] | None) -> Account:
        """The account, with the registry's required scopes the token lacks (when it tells)."""
        required = self._site.info.required_scopes
        missing = () if scopes is None else tuple(s for s in required if s not in scopes)
        return Account(self.kind, login, kind, scopes, missing)

    @property
    def _write_scope(self) -> str:
        """The scope creating and pushing need, named in a refusal's hint."""
        return self._site.info.required_scopes[0]

    def _token_kind(self) -> TokenKind:
        """What the token says it is without a call (GitHub: its prefix)."""
        return TokenKind.UNKNOWN

    def git_credentials(self) -> GitCredentials:
        username = self._site.info.git_username(self._token_kind(), self._login)
        return GitCredentials(username=username, password=self._token)

    # --- owners ---------------------------------------------------------------------------
    @abstractmethod
    async def _read_owner(self, owner: str, login: str) -> Owner | None:
        """The owner named `owner`, or None when the forge knows no such user or group; may
        raise a refusal of its own where the forge tells more (GitLab's hidden groups)."""

    @abstractmethod
    async def _check_member(self, group: Owner, login: str) -> None:
        """Raise a refusal from `_owner` unless `login` may create repositories in `group`."""

    async def check_owner(self, owner: str | None) -> str:
        login = await self._own_login()
        if owner is None or owner.lower() == login.lower():
            return login
        found = await self._read_owner(owner, login)
        if found is None:
            raise unknown_owner(self._site, owner, login)
        if found.user:
            if found.name.lower() != login.lower():
                raise other_user(self._site, found.name, login)
            return found.name
        await self._check_member(found, login)
        return found.name

    # --- repositories ---------------------------------------------------------------------
    @abstractmethod
    async def _read_repository(self, owner: str, name: str) -> Repository | None: ...

    @abstractmethod
    async def _create_repository(
        self, owner: str | None, name: str, *, description: str, private: bool
    ) -> Repository:
        """Create it, empty, under `owner` (None: the token's own account) with `description`
        (already marked) and Slipway's topic where the create call takes topics; raise
        `NameTaken` if it exists."""

    @abstractmethod
    async def _tag(self, created: Repository) -> Repository:
        """Give a new repository Slipway's topic, where creating it could not."""

    @abstractmethod
    async def delete_repository(self, repo: Repository) -> None: ...

    async def delete_project_repository(
        self, *, owner: str, name: str, project: str, installation: str
    ) -> bool:
        """Deletes `owner/name` only when its marker, read afresh, names `project` and
        `installation`; False when it is gone already. One that is another project's, another
        installation's or unmarked is a `Conflict`, and left as it is."""
        check_installation(installation)
        repo = await self._read_repository(owner, name)
        if repo is None:
            return False
        if repo.project != project or repo.installation != installation:
            if repo.project is None:
                whose = t("has no Slipway marker (Slipway did not create it)")
            elif repo.project != project:
                whose = t("belongs to project {project}", project=repo.project)
            else:
                other = repo.installation or t("(its marker predates installation ids)")
                whose = t(
                    "belongs to project {project} of another Slipway installation {other}",
                    project=project,
                    other=other,
                )
            raise Conflict(
                t(
                    "the repository {full_name} on {label} {whose}; Slipway "
                    "deletes only a repository it marked for this project and "
                    "installation",
                    full_name=repo.full_name,
                    label=self._site.label,
                    whose=whose,
                ),
                step=self._site.step,
                system=self._site.label,
                hint=t(
                    "it was left as it is; delete it yourself on the forge if it "
                    "should go, or run the delete again without --delete-repo"
                ),
            )
        await self.delete_repository(repo)
        return True

    async def find_repository(self, *, owner: str | None, name: str) -> Repository | None:
        return await self._read_repository(owner or await self._own_login(), name)

    async def check_branch(self, repo: Repository, project: str) -> None:
        head = await self._read_head(repo)
        if head is not None:
            await self._kept(repo, head, project, adopt=False)

    @abstractmethod
    async def _set_description(self, repo: Repository, description: str) -> Repository:
        """Replace the repository's description (one write); the repository as it is now."""

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
        """Create first: the repository is read only when its name is taken (a re-run, or
        someone else's), and the account only to tell an `owner` from the token's own."""
        check_installation(installation)
        if owner is not None and owner.lower() == (await self._own_login()).lower():
            owner = None
        marked = mark_description(description, project, installation)
        try:
            created = await self._create_repository(
                owner, name, description=marked, private=private
            )
        except NameTaken:  # ours from an earlier run, or someone else's: the marker decides
            existing = await self._reread(owner or await self._own_login(), name)
            return await self._reuse(existing, project, installation, adopt=adopt)
        return await self._tag(created)

    def _full_name(self, owner: str | None, name: str) -> str:
        """`owner/name` for messages; the token's own account by its login, when known."""
        who = owner or self._login
        return f"{who}/{name}" if who else name

    async def _reuse(
        self, repo: Repository, project: str, installation: str | None, *, adopt: bool
    ) -> Repository:
        """An existing repository is reused only when Slipway's marker names `project` and
        this installation (any installation when `installation` is None); with `adopt`, one
        another installation marked for `project` is re-marked for this one."""
        exists = t(
            "the repository {full_name} already exists on {label}",
            full_name=repo.full_name,
            label=self._site.label,
        )
        if repo.project != project:
            whose = (
                t("project {project}", project=repo.project)
                if repo.project
                else t("no Slipway project")
            )
            raise Conflict(
                t("{exists} and belongs to {whose}", exists=exists, whose=whose),
                step=self._site.step,
                system=self._site.label,
                hint=t(
                    "choose another repository name or owner; Slipway leaves that repository as is"
                ),
            )
        if installation is None or repo.installation == installation:
            return repo
        if adopt:
            marked = mark_description(repo.description, project, installation)
            return await self._set_description(repo, marked)
        other = repo.installation or t("(its marker predates installation ids)")
        error = Conflict(
            t(
                "{exists} and belongs to project {project} of another "
                "Slipway installation {other}; this installation is "
                "{installation}",
                exists=exists,
                project=project,
                other=other,
                installation=installation,
            ),
            step=self._site.step,
            system=self._site.label,
            hint=t(
                "run again with `--adopt` to take that repository over for "
                "this installation, or choose another repository name or "
                "owner"
            ),
        )
        error.adoptable = True
        raise error

    async def _reread(self, owner: str, name: str) -> Repository:
        again = await self._read_repository(owner, name)
        if again is None:
            raise self._site.error(
                t(
                    "{label} says {owner}/{name} {taken_says} but does not show it to this token",
                    label=self._site.label,
                    owner=owner,
                    name=name,
                    taken_says=self.taken_says,
                ),
                hint=t(
                    "check the token's access to that {owner_noun}, or choose another name",
                    owner_noun=self.owner_noun,
                ),
            ) from None
        return again

    # --- push -----------------------------------------------------------------------------
    @abstractmethod
    async def _read_head(self, repo: Repository) -> Head | None:
        """The default branch's commit, or None when it has none yet."""

    @abstractmethod
    async def _write(self, repo: Repository, push: Push, head: Head | None) -> Commit:
        """Leave the branch at one commit of exactly `push.files`, in place of `head`."""

    async def _head_tree(self, repo: Repository, head: Head) -> str:
        """git's id of the head's tree, as the forge reported it with the head; an adapter
        whose API does not report it reads it."""
        if head.tree_sha is None:
            raise self._site.error(
                t(
                    "{label} did not report the tree of {full_name}'s head",
                    label=self._site.label,
                    full_name=repo.full_name,
                ),
                hint=t("run the command again"),
            )
        return head.tree_sha

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
        check_paths(files)
        if self._push_method is PushMethod.GIT:
            first = await asyncio.to_thread(  # ~10 ms per 1,000 files: not on the loop
                snapshot, files, message=message, project=project, committed_at=committed_at
            )

            async def judge(current: str) -> Commit | None:
                """The branch holds another commit than ours: read it, then replace or keep."""
                head = await self._read_head(repo)
                return None if head is None else await self._kept(repo, head, project, adopt)

            return await self._git.push(repo, first, judge=judge)
        push = Push(files, message, project, tree_sha(files))
        head = await self._read_head(repo)
        if head is not None and head.holds(project, push.tree_sha):
            return Commit(sha=head.sha, tree_sha=push.tree_sha)
        if head is not None:
            kept = await self._kept(repo, head, project, adopt)
            if kept is not None:
                return kept
        return await self._write(repo, push, head)

    async def _kept(self, repo: Repository, head: Head, project: str, adopt: bool) -> Commit | None:
        """None when Slipway may replace `head`; its commit when `adopt` keeps it; else the
        `Conflict` that leaves it alone."""
        if head.replaceable(project):
            return None
        if adopt:
            return Commit(sha=head.sha, tree_sha=await self._head_tree(repo, head), kept=True)
        branch = repo.default_branch
        raise Conflict(
            t(
                "the branch {branch} of {full_name} holds commit {sha} that "
                "Slipway did not write; Slipway never rewrites it",
                branch=branch,
                full_name=repo.full_name,
                sha=head.sha[:12],
            ),
            step=self._site.step,
            system=self._site.label,
            hint=t(
                "push the template to {full_name} yourself, choose another "
                "repository name, or run again with `--adopt` to keep the "
                "branch {branch} as it is",
                full_name=repo.full_name,
                branch=branch,
            ),
        )

    # --- SSH access -----------------------------------------------------------------------
    async def ssh_known_hosts(self, repo: Repository) -> str:
        if not repo.ssh_url:
            raise self._site.error(
                t(
                    "{label} gave no SSH clone URL for {full_name}",
                    label=self._site.label,
                    full_name=repo.full_name,
                ),
                hint=t(
                    "check that SSH access is enabled on the forge, or use "
                    "`--git-auth token` to clone over HTTPS"
                ),
            )
        return await scan_known_hosts(
            repo.ssh_url,
            timeout=CONNECT_TIMEOUT_SECONDS,
            step=self._site.step,
            system=self._site.label,
        )


class OrgOwners(ForgeFlows):
    """Owners as on GitHub and Gitea: an organization, else a user (never usable by others)."""

    @abstractmethod
    async def _read_org(self, owner: str) -> str | None:
        """The organization's name as the forge spells it, or None when there is none."""

    @abstractmethod
    async def _user_exists(self, owner: str) -> bool: ...

    async def _read_owner(self, owner: str, login: str) -> Owner | None:
        org = await self._read_org(owner)
        if org is not None:
            return Owner(org)
        return Owner(owner, user=True) if await self._user_exists(owner) else None
