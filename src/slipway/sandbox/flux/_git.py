"""Fetch a branch of a git repository over HTTP(S) or SSH, as source-controller does: ask the
remote for the branch head first and clone only when it moved. Like go-git (source-controller's
git), HTTP credentials go with the first request instead of after a 401 challenge, and every
request names the client in its User-Agent. Credentials travel in git's environment (an
`http.extraHeader`), never on a command line, and are scrubbed from every message. Over SSH
the key and known_hosts go to files in a private folder that lives only as long as the fetch,
and the host key must be in known_hosts, as go-git's knownhosts callback demands."""

from __future__ import annotations

import base64
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


class GitFetchError(Exception):
    """The fetch failed; the message is git's own (with any credentials scrubbed)."""


@dataclass(frozen=True)
class GitAuth:
    """HTTP credentials from a GitRepository's Secret: basic auth or a bearer token."""

    username: str = ""
    password: str = field(default="", repr=False)
    bearer_token: str = field(default="", repr=False)

    @property
    def _basic(self) -> str:
        return base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def header(self) -> str | None:
        """The Authorization header go-git sends on every request (BasicAuth or TokenAuth),
        without waiting for the server to ask."""
        if self.bearer_token:
            return f"Authorization: Bearer {self.bearer_token}"
        if self.username:
            return f"Authorization: Basic {self._basic}"
        return None

    def scrub(self, text: str) -> str:
        secrets = (self.password, self.bearer_token, self._basic if self.username else "")
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


@dataclass(frozen=True)
class SshAuth:
    """SSH credentials from a GitRepository's Secret: `identity` (an OpenSSH private key) and
    `known_hosts` (the lines the server's host key must match)."""

    identity: str = field(repr=False)
    known_hosts: str

    def scrub(self, text: str) -> str:
        return text.replace(self.identity, "***") if self.identity else text


Auth = GitAuth | SshAuth

# OpenSSH's words for a failure, and what go-git (source-controller) says for the same.
_SSH_ERRORS = (
    ("REMOTE HOST IDENTIFICATION HAS CHANGED", "ssh: handshake failed: knownhosts: key mismatch"),
    ("host key is known for", "ssh: handshake failed: knownhosts: key is unknown"),
    ("Host key verification failed", "ssh: handshake failed: knownhosts: key is unknown"),
    ("invalid format", "ssh: no key found"),
    (
        "Permission denied",
        "ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], "
        "no supported methods remain",
    ),
    ("Repository not found", "repository not found"),
    ("Connection refused", "connect: connection refused"),
)


def _ssh_reason(stderr: str) -> str | None:
    """go-git's message for an SSH failure OpenSSH described in `stderr`, if it is one."""
    for needle, reason in _SSH_ERRORS:
        if needle in stderr:
            return reason
    return None


@contextmanager
def _ssh_environment(auth: SshAuth) -> Iterator[dict[str, str]]:
    """`GIT_SSH_COMMAND` for `auth`: only this key, only these known hosts (strictly checked,
    no global file, no user config, no prompt); the files are removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="flux-ssh-"))  # mode 0700
    try:
        identity, known_hosts = folder / "identity", folder / "known_hosts"
        fd = os.open(identity, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(auth.identity.replace("\r\n", "\n").rstrip("\n") + "\n")
        known_hosts.write_text(auth.known_hosts.rstrip("\n") + "\n")
        command = [
            "ssh",
            "-F",
            "/dev/null",
            "-i",
            str(identity),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            f"UserKnownHostsFile={known_hosts}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
        ]
        yield {"GIT_SSH_COMMAND": shlex.join(command)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _config(*pairs: tuple[str, str]) -> dict[str, str]:
    env = {"GIT_CONFIG_COUNT": str(len(pairs))}
    for index, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


@dataclass(frozen=True)
class Checkout:
    sha: str
    path: Path


def _env(auth: Auth | None, user_agent: str | None) -> dict[str, str]:
    """git's configuration through the environment, off every command line: the credentials
    as a header (no helper, no prompt, so a 401 fails at once, as go-git does), and wire
    protocol v0, the only one go-git speaks (v2 would add an `ls-refs` POST to every fetch)."""
    pairs = [("credential.helper", ""), ("protocol.version", "0")]
    if user_agent:
        pairs.append(("http.userAgent", user_agent))
    header = auth.header() if isinstance(auth, GitAuth) else None
    if header:
        pairs.append(("http.extraHeader", header))
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_ASKPASS": "/bin/false",
    }
    return env | _config(*pairs)


def _git(
    args: list[str],
    url: str,
    auth: Auth | None,
    timeout: float,
    user_agent: str | None,
    extra_env: dict[str, str] | None = None,
    *,
    cwd: Path,
) -> str:
    """Runs git in `cwd`, never in the process's working folder: source-controller has a
    process of its own, while the sandbox shares Slipway's, in which copier briefly changes
    the working folder to one it then deletes (git's index-pack would die in it)."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=_env(auth, user_agent) | (extra_env or {}),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise GitFetchError(f"unable to clone '{url}': context deadline exceeded") from exc
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        reason = lines[-1] if lines else f"git exited with {done.returncode}"
        reason = reason.removeprefix("fatal: ").removeprefix("error: ")
        if isinstance(auth, SshAuth):
            reason = _ssh_reason(done.stderr) or reason
        if reason.startswith("could not read Username"):
            reason = "authentication required"  # a 401: go-git's ErrAuthenticationRequired
        if auth is not None:
            reason = auth.scrub(reason)
        raise GitFetchError(f"unable to clone '{url}': {reason}")
    return done.stdout


def fetch_branch(
    url: str,
    branch: str,
    dest: Path,
    *,
    auth: Auth | None = None,
    user_agent: str | None = None,
    current: Checkout | None = None,
    timeout: float = 60.0,
) -> Checkout:
    """The head of `branch` checked out in `dest`. `current` is reused when the remote head has
    not moved (no clone); otherwise a fresh shallow clone replaces `dest` only once it is
    complete, so a failed fetch leaves the last good checkout in place. With `SshAuth` git
    connects through OpenSSH with only that key and those known hosts."""
    if isinstance(auth, SshAuth):
        with _ssh_environment(auth) as env:
            return _fetch(url, branch, dest, auth, user_agent, current, timeout, env)
    return _fetch(url, branch, dest, auth, user_agent, current, timeout, {})


def _fetch(
    url: str,
    branch: str,
    dest: Path,
    auth: Auth | None,
    user_agent: str | None,
    current: Checkout | None,
    timeout: float,
    env: dict[str, str],
) -> Checkout:
    dest.parent.mkdir(parents=True, exist_ok=True)
    listing = _git(
        ["ls-remote", url, f"refs/heads/{branch}"],
        url,
        auth,
        timeout,
        user_agent,
        env,
        cwd=dest.parent,
    )
    sha = listing.split("\t", 1)[0].strip() if listing.strip() else ""
    if not sha:
        raise GitFetchError(
            f"unable to clone '{url}': couldn't find remote ref \"refs/heads/{branch}\""
        )
    if current is not None and current.sha == sha and current.path.is_dir():
        return current
    staging = dest.with_name(dest.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    _git(
        ["clone", "--quiet", "--depth", "1", "--branch", branch, url, str(staging)],
        url,
        auth,
        timeout,
        user_agent,
        env,
        cwd=dest.parent,
    )
    head = _git(["rev-parse", "HEAD"], url, None, timeout, None, cwd=staging).strip()
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)
    return Checkout(sha=head, path=dest)
