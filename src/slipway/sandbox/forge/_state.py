"""The emulator's world: users, tokens and their scopes, organisations, repositories, the
request log and scripted faults. Thread-safe, because tests drive it from their own thread
while the server runs in another."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from slipway.sandbox._recording import Recorder, Recorders
from slipway.sandbox.forge import _gitstore as git
from slipway.sandbox.forge._keys import PublicKey
from slipway.sandbox.forge._oauth_state import OAuthRegistry

LATENCY_ENV = "SLIPWAY_SANDBOX_LATENCY_MS"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class Token:
    """A credential: `kind` is "pat", "fine_grained", "oauth" or "app" (GitHub semantics);
    one with `expires_at` (epoch seconds) in the past is unknown to every endpoint."""

    value: str
    login: str
    scopes: tuple[str, ...] = ("repo", "delete_repo", "read:org", "api", "write:repository")
    kind: str = "pat"
    expires_at: float | None = None


@dataclass
class Account:
    """A user or an organisation. `members_can_create_repositories` is the org setting of that
    name on GitHub (Gitea: the members' teams may create repositories; GitLab: the group's
    `project_creation_level` is `developer`, the role every member has, else `maintainer`);
    owners do not exist here, so a member who may not create repositories can only read."""

    login: str
    id: int
    is_org: bool = False
    members: set[str] = field(default_factory=set)
    members_can_create_repositories: bool = True
    created_at: float = field(default_factory=time.time)


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    description: str
    private: bool
    default_branch: str
    path: Path
    topics: list[str] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class DeployKey:
    """A public key attached to one repository. `id` is this attachment's; `key_id` is the key's
    own, shared by every repository the same key is attached to (GitLab and Gitea let one key
    serve several repositories, GitHub does not)."""

    id: int
    key_id: int
    repo_id: int
    title: str
    key: PublicKey
    read_only: bool
    added_by: str
    created_at: float = field(default_factory=time.time)
    last_used: float | None = None


class DeployKeyInUse(Exception):
    """The key is attached already: to this repository (`here`), or only elsewhere where it may
    not be shared."""

    def __init__(self, here: DeployKey | None, elsewhere: list[DeployKey]) -> None:
        super().__init__("key is already in use")
        self.here = here
        self.elsewhere = elsewhere


@dataclass
class Fault:
    """Answer the next `count` requests whose path starts with `path_prefix` (and whose method
    is `method`, when given) with `status`, optional Retry-After and extra headers."""

    status: int
    path_prefix: str = "/"
    method: str | None = None
    count: int = 1
    retry_after: float | None = None
    headers: dict[str, str] = field(default_factory=dict)
    message: str | None = None

    def matches(self, method: str, path: str) -> bool:
        same_method = self.method is None or self.method.upper() == method.upper()
        return self.count > 0 and same_method and path.startswith(self.path_prefix)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the forge answered; `user_agent` tells whose it was (Slipway's, git's,
    the Flux emulator's) and `peer` which connection carried it (the client's `host:port`:
    requests sharing one rode one kept-alive connection). Other headers, and bodies, are
    never recorded."""

    method: str
    path: str
    query: str
    status: int
    faulted: bool = False
    user_agent: str = ""
    peer: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestRecorder(Recorder[RecordedRequest]):
    """The requests recorded while its `ForgeState.recording()` block ran, in order."""


class ForgeState:
    """Everything the emulator knows. Repositories live as bare git repositories under `root`."""

    def __init__(self, root: Path, *, latency_ms: float | None = None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        if latency_ms is None:
            latency_ms = float(os.environ.get(LATENCY_ENV) or 0)
        self.latency_ms = latency_ms
        self._lock = threading.RLock()
        self._accounts: dict[str, Account] = {}
        self._tokens: dict[str, Token] = {}
        self._repos: dict[tuple[str, str], Repo] = {}
        self._faults: list[Fault] = []
        self._requests: list[RecordedRequest] = []
        self._recorders = Recorders[RecordedRequest, RequestRecorder](RequestRecorder)
        self._deploy_keys: dict[int, DeployKey] = {}
        self._ids = 1000
        # Where the SSH git endpoint listens, once it runs: repository JSON names it.
        self.ssh_address: tuple[str, int] | None = None
        # The OAuth authorization server: its apps, codes and refresh tokens.
        self.oauth = OAuthRegistry()

    # accounts and tokens --------------------------------------------------------------
    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def add_user(
        self,
        login: str,
        token: str | None = None,
        *,
        scopes: tuple[str, ...] | None = None,
        kind: str = "pat",
    ) -> Account:
        with self._lock:
            account = self._accounts.get(login.lower()) or Account(login, self._next_id())
            self._accounts[login.lower()] = account
            if token is not None:
                self.add_token(token, login, scopes=scopes, kind=kind)
            return account

    def add_token(
        self,
        value: str,
        login: str,
        *,
        scopes: tuple[str, ...] | None = None,
        kind: str = "pat",
        expires_at: float | None = None,
    ) -> Token:
        with self._lock:
            chosen = scopes if scopes is not None else Token.scopes
            token = Token(value, login, chosen, kind, expires_at)
            self._tokens[value] = token
            return token

    def revoke_token(self, value: str) -> None:
        with self._lock:
            self._tokens.pop(value, None)

    def add_org(
        self,
        login: str,
        *,
        members: tuple[str, ...] = (),
        members_can_create_repositories: bool = True,
    ) -> Account:
        with self._lock:
            org = Account(
                login,
                self._next_id(),
                is_org=True,
                members={m.lower() for m in members},
                members_can_create_repositories=members_can_create_repositories,
            )
            self._accounts[login.lower()] = org
            return org

    def token(self, value: str | None) -> Token | None:
        if not value:
            return None
        with self._lock:
            token = self._tokens.get(value)
        if token is not None and token.expires_at is not None and token.expires_at <= time.time():
            return None
        return token

    def account(self, login: str) -> Account | None:
        with self._lock:
            return self._accounts.get(login.lower())

    def account_by_id(self, account_id: int) -> Account | None:
        with self._lock:
            return next((a for a in self._accounts.values() if a.id == account_id), None)

    def can_write(self, login: str, owner: str) -> bool:
        account = self.account(owner)
        if account is None:
            return False
        if account.is_org:
            return login.lower() in account.members
        return account.login.lower() == login.lower()

    def is_member(self, login: str, org: Account) -> bool:
        return org.is_org and login.lower() in org.members

    def can_create_repo(self, login: str, owner: str) -> bool:
        """Whether `login` may create repositories under `owner` (its own account, or an org
        it belongs to that lets members create repositories)."""
        account = self.account(owner)
        if account is None:
            return False
        if account.is_org:
            return self.is_member(login, account) and account.members_can_create_repositories
        return account.login.lower() == login.lower()

    def can_read(self, login: str | None, repo: Repo) -> bool:
        return not repo.private or (login is not None and self.can_write(login, repo.owner))

    # repositories ---------------------------------------------------------------------
    def repo(self, owner: str, name: str) -> Repo | None:
        with self._lock:
            return self._repos.get((owner.lower(), name.lower()))

    def repo_by_id(self, repo_id: int) -> Repo | None:
        with self._lock:
            return next((r for r in self._repos.values() if r.id == repo_id), None)

    def repos(self) -> list[Repo]:
        with self._lock:
            return list(self._repos.values())

    def create_repo(
        self,
        owner: str,
        name: str,
        *,
        description: str = "",
        private: bool = True,
        default_branch: str = "main",
    ) -> Repo:
        """Create an empty bare repository; raises KeyError for an unknown owner, ValueError
        for a bad or taken name."""
        with self._lock:
            account = self.account(owner)
            if account is None:
                raise KeyError(owner)
            if not _NAME.match(name) or name.endswith(".git"):
                raise ValueError("name is invalid")
            if self.repo(owner, name) is not None:
                raise ValueError("name already exists on this account")
            path = self.root / account.login.lower() / f"{name.lower()}.git"
            git.init_bare(path, default_branch)
            repo = Repo(
                self._next_id(),
                account.login,
                name,
                description,
                private,
                default_branch,
                path,
            )
            self._repos[(owner.lower(), name.lower())] = repo
            return repo

    def delete_repo(self, repo: Repo) -> None:
        with self._lock:
            self._repos.pop((repo.owner.lower(), repo.name.lower()), None)
            for key in [k for k in self._deploy_keys.values() if k.repo_id == repo.id]:
                del self._deploy_keys[key.id]
            git.remove(repo.path)

    def ssh_url(self, repo: Repo) -> str | None:
        """`ssh://git@host:port/owner/repo.git`, the form GitLab and Gitea give for a port
        other than 22; None while no SSH endpoint runs."""
        if self.ssh_address is None:
            return None
        host, port = self.ssh_address
        return f"ssh://git@{host}:{port}/{repo.full_name}.git"

    # deploy keys ----------------------------------------------------------------------
    def add_deploy_key(
        self,
        repo: Repo,
        key: PublicKey,
        *,
        title: str,
        read_only: bool,
        added_by: str,
        may_share: Callable[[list[DeployKey]], bool],
    ) -> DeployKey:
        """Attach `key` to `repo`. A key on this repository already, or on others when
        `may_share(those attachments)` says no, raises DeployKeyInUse; a shared key keeps its
        `key_id`. The check and the write happen under one lock."""
        with self._lock:
            same = [k for k in self._deploy_keys.values() if k.key.blob == key.blob]
            here = next((k for k in same if k.repo_id == repo.id), None)
            if here is not None or (same and not may_share(same)):
                raise DeployKeyInUse(here, same)
            attachment_id = self._next_id()
            key_id = same[0].key_id if same else attachment_id
            added = DeployKey(attachment_id, key_id, repo.id, title, key, read_only, added_by)
            self._deploy_keys[added.id] = added
            return added

    def deploy_keys(self, repo: Repo) -> list[DeployKey]:
        with self._lock:
            return [k for k in self._deploy_keys.values() if k.repo_id == repo.id]

    def deploy_key(self, key_id: int) -> DeployKey | None:
        """An attachment by its `id`, whichever repository it is on."""
        with self._lock:
            return self._deploy_keys.get(key_id)

    def remove_deploy_key(self, key: DeployKey) -> None:
        with self._lock:
            self._deploy_keys.pop(key.id, None)

    def mark_used(self, key: DeployKey) -> None:
        """Note an SSH session by this attachment (GitHub's `last_used`)."""
        with self._lock:
            if key.id in self._deploy_keys:
                self._deploy_keys[key.id] = replace(key, last_used=time.time())

    def deploy_keys_for(self, blob: bytes) -> list[DeployKey]:
        """Every attachment of the key whose wire-format blob a client presented over SSH."""
        with self._lock:
            return [k for k in self._deploy_keys.values() if k.key.blob == blob]

    # faults and the request log -------------------------------------------------------
    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
            return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
            return None

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)
        self._recorders.add(request)

    def recording(self) -> AbstractContextManager[RequestRecorder]:
        """A log of only the requests made while the block runs, so one user of a shared
        emulator (a test, a script) sees its own requests and nobody else's; the shared log
        and `clear_requests()` are left alone."""
        return self._recorders.recording()

    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
