"""git over SSH for the forge emulator, as GitHub serves it to deploy keys: user `git`,
public-key authentication by any repository's deploy key, and only `git-upload-pack` /
`git-receive-pack` of a repository the key is attached to (pushing only with a read-write
key), run by the real git. asyncssh serves it on its own thread and event loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import asyncssh

from slipway.sandbox._server import Lifecycle, listening_socket
from slipway.sandbox.forge._state import ForgeState, RecordedRequest, Repo

HOST_KEY_PATH = Path(".ssh") / "ssh_host_ed25519_key"  # under the emulator's root
SERVICES = ("git-upload-pack", "git-receive-pack")
READ_ONLY = "ERROR: The key you are authenticating with has been marked as read only."
NOT_FOUND = "ERROR: Repository not found."
_CHUNK = 65536


def host_key(root: Path) -> asyncssh.SSHKey:
    """The emulator's ed25519 host key, made on first use and kept (mode 0600) under `root`,
    so a restarted demo keeps the host key its known_hosts lines name."""
    path = root / HOST_KEY_PATH
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = asyncssh.generate_private_key("ssh-ed25519")
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(key.export_private_key("openssh"))
    path.chmod(0o600)
    return asyncssh.read_private_key(path)


@dataclass(frozen=True)
class Verdict:
    """What a session's command may do: run `service` on `repo`, or print `refusal` and exit 1.
    `path` is the repository path as the log records it."""

    service: str
    path: str
    repo: Repo | None = None
    refusal: str | None = None


def judge(state: ForgeState, blob: bytes, command: str | None) -> Verdict:
    """GitHub's rules for a deploy key: its own repository only, pushes only when not read-only."""
    holders = state.deploy_keys_for(blob)
    if command is None:
        repo = state.repo_by_id(holders[0].repo_id) if holders else None
        who = repo.full_name if repo else "git"
        shell = f"Hi {who}! You've successfully authenticated, but this forge does not provide "
        return Verdict("shell", "", refusal=shell + "shell access.")
    try:
        words = shlex.split(command)
    except ValueError:
        words = []
    if len(words) != 2 or words[0] not in SERVICES:
        return Verdict("", "", refusal=f"ERROR: Invalid command: {command[:200]}")
    service, raw = words
    owner, _, name = raw.strip("/").removesuffix(".git").partition("/")
    path = f"/{owner}/{name}.git"
    repo = state.repo(owner, name) if owner and name and "/" not in name else None
    key = next((k for k in holders if repo is not None and k.repo_id == repo.id), None)
    if repo is None or key is None:
        return Verdict(service, path, refusal=NOT_FOUND)
    if service == "git-receive-pack" and key.read_only:
        return Verdict(service, path, refusal=READ_ONLY)
    state.mark_used(key)
    return Verdict(service, path, repo=repo)


class _Connection(asyncssh.SSHServer):
    """One client connection: remembers which deploy key it authenticated with."""

    def __init__(self, endpoint: SshEndpoint) -> None:
        self._endpoint = endpoint
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._endpoint.blobs.pop(self._conn, None)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        """Accept user `git` with a key some repository has as a deploy key. asyncssh asks
        once more with the signature right before authentication succeeds, so the key kept
        last is the one the client proved it holds."""
        blob = key.public_data
        if username != "git" or not self._endpoint.state.deploy_keys_for(blob):
            return False
        if self._conn is not None:
            self._endpoint.blobs[self._conn] = blob
        return True


class SshEndpoint(Lifecycle):
    """The SSH git endpoint on `host` (a free port), with its own thread and event loop."""

    def __init__(self, state: ForgeState, *, host: str = "127.0.0.1") -> None:
        self.state = state
        self.key = host_key(state.root)
        self.blobs: dict[asyncssh.SSHServerConnection, bytes] = {}
        self._sock = listening_socket(host, 0)
        address = self._sock.getsockname()
        self.host: str = address[0]
        self.port: int = address[1]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"sandbox-ssh:{self.port}", daemon=True
        )
        self._acceptor: asyncssh.SSHAcceptor | None = None

    def known_hosts(self) -> str:
        """`[host]:port ssh-ed25519 AAAA...`, the line an OpenSSH known_hosts file needs."""
        public = self.key.export_public_key("openssh").decode().split()
        return f"[{self.host}]:{self.port} {public[0]} {public[1]}\n"

    def start(self, timeout: float = 10.0) -> Self:
        self._thread.start()
        self._acceptor = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(
            timeout
        )
        return self

    async def _listen(self) -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            sock=self._sock,
            server_factory=lambda: _Connection(self),
            server_host_keys=[self.key],
            process_factory=self._session,
            encoding=None,
            allow_pty=False,
            agent_forwarding=False,
            x11_forwarding=False,
        )

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(TimeoutError, RuntimeError):
                asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        if not self._loop.is_running():
            self._loop.close()
        self._sock.close()

    async def _shutdown(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _session(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        conn = process.get_extra_info("connection")
        peer = process.get_extra_info("peername") or ("", 0)
        agent = str(conn.get_extra_info("client_version") or "")
        if self.state.latency_ms > 0:
            await asyncio.sleep(self.state.latency_ms / 1000)
        verdict = judge(self.state, self.blobs.get(conn, b""), process.command)
        if verdict.refusal is not None or verdict.repo is None:
            process.stderr.write(f"{verdict.refusal}\n".encode())
            status = 1
        else:
            env = process.env.get("GIT_PROTOCOL")
            status = await _run_git(process, verdict.service, verdict.repo, self.state.root, env)
        record = RecordedRequest(
            "SSH", verdict.path, verdict.service, status, False, agent, f"{peer[0]}:{peer[1]}"
        )
        self.state.record(record)  # before the exit status reaches the client
        process.exit(status)


async def _run_git(
    process: asyncssh.SSHServerProcess[bytes],
    service: str,
    repo: Repo,
    root: Path,
    protocol: str | None,
) -> int:
    """Run `git upload-pack|receive-pack <repo>` with the session's streams piped both ways;
    its exit status, once everything it printed has been forwarded."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root),
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    if protocol:
        env["GIT_PROTOCOL"] = protocol
    git = await asyncio.create_subprocess_exec(
        "git",
        service.removeprefix("git-"),
        str(repo.path),
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert git.stdin is not None and git.stdout is not None and git.stderr is not None

    async def feed(sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncssh.Error):
            while data := await process.stdin.read(_CHUNK):
                sink.write(data)
                await sink.drain()
        with contextlib.suppress(ConnectionError):
            sink.close()

    async def relay(source: asyncio.StreamReader, sink: asyncssh.SSHWriter[bytes]) -> None:
        while data := await source.read(_CHUNK):
            sink.write(data)
            await sink.drain()

    feeding = asyncio.create_task(feed(git.stdin))
    try:
        await asyncio.gather(relay(git.stdout, process.stdout), relay(git.stderr, process.stderr))
        return await git.wait()
    finally:
        feeding.cancel()
        if git.returncode is None:
            git.kill()
            await git.wait()
