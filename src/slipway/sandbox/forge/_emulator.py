"""`ForgeEmulator`: the forge app, its state and a server thread in one object, for tests,
`slipway sandbox` and `slipway demo`."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from slipway.sandbox._server import Lifecycle, ServerThread
from slipway.sandbox.forge._app import create_forge_app
from slipway.sandbox.forge._oauth_state import OAuthApp
from slipway.sandbox.forge._ssh import SshEndpoint
from slipway.sandbox.forge._state import (
    Account,
    Fault,
    ForgeState,
    RecordedRequest,
    RequestRecorder,
    Token,
)


class ForgeEmulator(Lifecycle):
    """A GitHub/GitLab/Gitea look-alike on 127.0.0.1 backed by bare git repositories in `root`
    (a temporary folder, removed on stop, when none is given), with git over smart HTTP and,
    for deploy keys, over SSH on a port of its own."""

    def __init__(self, root: Path | None = None, *, latency_ms: float | None = None) -> None:
        self._tmp = None if root is not None else tempfile.TemporaryDirectory(prefix="forge-")
        self.state = ForgeState(
            root if root is not None else Path(self._tmp.name),  # type: ignore[union-attr]
            latency_ms=latency_ms,
        )
        self.app = create_forge_app(self.state)
        self._server: ServerThread | None = None
        self._ssh: SshEndpoint | None = None

    @property
    def url(self) -> str:
        """The server root: GitHub's API (api.github.com style), the GitLab and Gitea
        instance URL, and the git base URL."""
        if self._server is None:
            raise RuntimeError("the forge emulator is not running: call start() first")
        return self._server.url

    @contextmanager
    def down(self) -> Iterator[None]:
        """`with forge.down():` the forge's HTTP API and git are down inside the block
        (connections refused, open ones cut), as in an outage, and back after it with every
        repository kept."""
        if self._server is None:
            raise RuntimeError("the forge emulator is not running: call start() first")
        with self._server.down():
            yield

    @property
    def github_enterprise_url(self) -> str:
        return f"{self.url}/api/v3"

    def clone_url(self, owner: str, name: str) -> str:
        return f"{self.url}/{owner}/{name}.git"

    @property
    def ssh_host(self) -> str:
        return self._running_ssh().host

    @property
    def ssh_port(self) -> int:
        return self._running_ssh().port

    def ssh_clone_url(self, owner: str, name: str) -> str:
        """`ssh://git@127.0.0.1:<port>/owner/name.git`, as the APIs' `ssh_url` gives it."""
        return f"ssh://git@{self.ssh_host}:{self.ssh_port}/{owner}/{name}.git"

    def ssh_known_hosts(self) -> str:
        """The known_hosts line for the SSH endpoint: `[127.0.0.1]:<port> ssh-ed25519 AAAA...`.
        The host key lives under the root, so it survives a restart on the same root."""
        return self._running_ssh().known_hosts()

    def _running_ssh(self) -> SshEndpoint:
        if self._ssh is None:
            raise RuntimeError("the forge emulator is not running: call start() first")
        return self._ssh

    def start(self) -> ForgeEmulator:
        self._server = ServerThread(self.app).start()
        self._ssh = SshEndpoint(self.state).start()
        self.state.ssh_address = (self._ssh.host, self._ssh.port)
        return self

    def stop(self) -> None:
        if self._ssh is not None:
            self.state.ssh_address = None
            self._ssh.stop()
            self._ssh = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()

    # configuration and inspection, delegated to the state -----------------------------
    def add_user(
        self,
        login: str,
        token: str | None = None,
        *,
        scopes: tuple[str, ...] | None = None,
        kind: str = "pat",
    ) -> Account:
        return self.state.add_user(login, token, scopes=scopes, kind=kind)

    def add_token(
        self, value: str, login: str, *, scopes: tuple[str, ...] | None = None, kind: str = "pat"
    ) -> Token:
        return self.state.add_token(value, login, scopes=scopes, kind=kind)

    def add_org(
        self,
        login: str,
        *,
        members: tuple[str, ...] = (),
        members_can_create_repositories: bool = True,
    ) -> Account:
        return self.state.add_org(
            login, members=members, members_can_create_repositories=members_can_create_repositories
        )

    def oauth_app(self, flavour: str) -> OAuthApp:
        """The registered OAuth application of `flavour` ("github", "gitlab", "gitea"): its
        `client_id` and `client_secret`."""
        return self.state.oauth.app_for(flavour)

    def set_oauth_token_lifetime(self, flavour: str, seconds: float | None) -> None:
        """Access tokens `flavour`'s OAuth flow issues from now on expire after `seconds`
        (None: never); tokens issued before keep their expiry."""
        self.state.oauth.token_seconds[flavour] = seconds

    def add_fault(
        self,
        status: int,
        *,
        path_prefix: str = "/",
        method: str | None = None,
        count: int = 1,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
        message: str | None = None,
    ) -> Fault:
        """Script the next `count` matching requests to fail with `status`."""
        return self.state.add_fault(
            Fault(status, path_prefix, method, count, retry_after, dict(headers or {}), message)
        )

    def clear_faults(self) -> None:
        self.state.clear_faults()

    def requests(self) -> list[RecordedRequest]:
        return self.state.requests()

    def clear_requests(self) -> None:
        self.state.clear_requests()

    @contextmanager
    def recording(self) -> Iterator[RequestRecorder]:
        """Only the requests made while the block runs (`.requests()`), apart from the
        shared log: for tests sharing one emulator."""
        with self.state.recording() as recorder:
            yield recorder
